"""Small synthetic series for the scorer's tests (deterministic, a few hundred rows)."""

from __future__ import annotations

import math
import random

from vigilante.config import ScorerConfig

TICK = 15.0


def normal_rows(n: int, start: int = 0, seed: int = 1, level: float = 20.0, features=("value",), rhythm: float = 0.05) -> list:
    """A slow rhythm (+-``rhythm``, 400 ticks a period) with 3 % noise, one row per tick from tick ``start``."""
    rng = random.Random(seed)
    rows = []
    for i in range(start, start + n):
        base = level * (1 + rhythm * math.sin(2 * math.pi * i / 400))
        rows.append((i * TICK, {f: base * (1 + rng.gauss(0, 0.03)) * (k + 1) for k, f in enumerate(features)}))
    return rows


def small_config(**changes) -> ScorerConfig:
    """A quick model: few trees, a short relearning bound."""
    base = dict(features=("value",), n_trees=10, relearn_after_seconds=0)
    base.update(changes)
    return ScorerConfig(**base)


def value_on_baseline(detector, feature: str = "value") -> float:
    """The raw value the detector expects next for a log-transformed feature (deviation 0)."""
    t = detector.transforms[feature]
    return math.exp(detector.baselines[feature].predict()) - t.scale
