"""The configuration's durations, in ticks of the series at hand.

Every duration a user sets is in seconds (``hold_seconds``, the half-lives,
``relearn_after_seconds``); the model counts ticks. A series says how long its ticks are:
the median spacing of its training rows (15 s live at the shipped interval, 5 minutes in
a file of 5-minute rows), so the same configuration means the same wall-clock windows on
any series.

    >>> from vigilante.config import ScorerConfig
    >>> t = TickScale.of(ScorerConfig(), spacing_seconds=15.0)
    >>> t.hold_ticks, t.relearn_after_ticks, t.baseline_half_life_ticks, t.context_half_lives_ticks
    (4, 480, 30.0, (0.0, 2.0))
    >>> TickScale.of(ScorerConfig(), spacing_seconds=300.0).hold_ticks   # a hold shorter than a row is one row
    1
    >>> observed_spacing([0.0, 15.0, 30.0, 45.0, 1000.0, 1015.0], fallback=60.0)
    15.0
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from vigilante.config import ScorerConfig


def observed_spacing(timestamps: Sequence[float], fallback: float) -> float:
    """The median gap between consecutive timestamps (robust to a few long gaps); ``fallback`` with fewer than two."""
    steps = [b - a for a, b in zip(timestamps, timestamps[1:]) if b > a]
    return float(statistics.median(steps)) if steps else float(fallback)


@dataclass(frozen=True)
class TickScale:
    """The scorer's windows in ticks of a series whose rows are ``spacing_seconds`` apart."""

    spacing_seconds: float
    hold_ticks: int
    relearn_after_ticks: int
    baseline_half_life_ticks: float
    trend_half_life_ticks: float
    context_half_lives_ticks: tuple[float, ...]

    @classmethod
    def of(cls, config: "ScorerConfig", spacing_seconds: float) -> "TickScale":
        s = spacing_seconds

        def ticks(seconds: float) -> float:
            return round(seconds / s, 6)  # 30 s / 15 s is 2.0, not 1.9999999

        return cls(
            spacing_seconds=s,
            # Held for at least the configured time: a part of a tick counts as a whole one.
            hold_ticks=max(1, math.ceil(ticks(config.hold_seconds))),
            relearn_after_ticks=round(ticks(config.relearn_after_seconds)) if config.relearn_after_seconds else 0,
            baseline_half_life_ticks=max(ticks(config.baseline_half_life_seconds), 0.5),
            trend_half_life_ticks=max(ticks(config.trend_half_life_seconds), 0.5),
            context_half_lives_ticks=tuple(ticks(h) for h in config.context_half_lives_seconds),
        )
