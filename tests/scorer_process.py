"""A one-feature scorer in compressed time, set up as a user would: a configuration file, a
training CSV and ``vigilante train``, for the suites that run ``vigilante serve`` as a process."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def one_feature_config(path: Path, prometheus_url: str, state: Path, query: str = "vector(1)",
                       scorer: dict[str, Any] | None = None, service: dict[str, Any] | None = None) -> Path:
    """Write a configuration scoring one feature, ``value`` (read by ``query``), every second."""
    document = {
        "prometheus": {"url": prometheus_url},
        # Compressed time: a 2 s hold is two ticks (the shipped 60 s are four 15 s ticks).
        "scorer": {"features": ["value"], "tick_seconds": 1, "hold_seconds": 2, "n_trees": 8,
                   "state_path": str(state), **(scorer or {})},
        "service": {"queries": {"value": query}, **(service or {})},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def training_csv(path: Path, rows: int = 400) -> Path:
    """Steady values around 100 (2 % noise), one row a second."""
    rng = random.Random(1)
    path.write_text("timestamp,value\n" + "".join(
        f"{1_700_000_000 + i},{100 * (1 + rng.gauss(0, 0.02))}\n" for i in range(rows)))
    return path


def train(config: Path, state: Path) -> None:
    """``vigilante train`` on a fresh training CSV beside ``state``, as a separate process."""
    csv = training_csv(state.parent / "train.csv")
    run = subprocess.run([sys.executable, "-m", "vigilante.cli", "train", str(csv), "--out", str(state),
                          "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
