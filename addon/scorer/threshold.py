"""The threshold and the decision: calibrated on training scores, held for some ticks.

    >>> calibrate_threshold([0.1] * 999 + [0.5], quantile=0.99, margin=0.2)
    0.12
    >>> hold = HoldDecision(hold_ticks=2)
    >>> [hold.update(s > 0.3) for s in (0.9, 0.1, 0.9, 0.9, 0.9, 0.1)]
    [0, 0, 0, 1, 1, 0]
    >>> [hold.update(s > 0.3, at_once=s > 3.0) for s in (0.1, 5.0, 0.1, 5.0, 5.0, 0.1)]   # far above twice: no more wait
    [0, 0, 0, 0, 1, 0]
    >>> hold.quiet   # ticks in a row below the threshold: the detector ends an episode on the second
    1
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def calibrate_threshold(scores: Sequence[float], quantile: float, margin: float) -> float:
    """A high ``quantile`` of the training scores, raised by ``margin`` (0.1 = 10 %).

    The training rows are normal by definition, so the quantile is the score normal
    traffic rarely exceeds; the margin covers what training did not show.
    """
    q = float(np.quantile(np.asarray(scores, dtype=float), quantile))
    return round(q * (1.0 + margin), 12)


EXTREME_TRAINING_ROWS = 2
"""Training rows on each side that a training quantile never reaches.

One or two freak rows in a training window (the first scrape after a restart, whose rate window
was not full; a deploy) are not what normal looks like. On a day of 15 s rows the shipped
quantiles already lie inside them and nothing changes; on 288 rows of 5 minutes or 3 minutes of
2 s rows, the 0.999 quantile would otherwise be the single most extreme row: there, one freak row
set limits and threshold so wide that a doubling of traffic scored below the threshold.
"""


def trimmed_quantile(quantile: float, rows: int) -> float:
    """``quantile``, or lower when ``rows`` are too few for it to lie inside the most extreme ones.

    >>> trimmed_quantile(0.999, 5760), round(trimmed_quantile(0.999, 288), 4)
    (0.999, 0.9931)
    """
    return min(quantile, 1.0 - EXTREME_TRAINING_ROWS / max(rows, 1))


SMALL_SAMPLE_WIDENING = 0.45
"""How much the threshold widens per unit of ``sqrt(rows needed / rows) - 1`` below the rows a
quantile needs; tuned on 20 seeds of a short-training experiment (steady traffic after 90 to
480 training rows), checked on 20 others (see :func:`small_sample_factor`)."""


def small_sample_factor(rows: int, quantile: float) -> float:
    """How much to widen a threshold calibrated on ``rows`` scores at ``quantile``.

    The 0.999 quantile of 90 scores is their maximum, about the 0.99 quantile of what comes
    next: below ``1 / (1 - quantile)`` rows the quantile is not observed but extrapolated, and
    the threshold widens with the uncertainty, as ``sqrt(rows needed / rows)``. No widening from
    the rows needed on.

    >>> [round(small_sample_factor(n, 0.999), 2) for n in (90, 180, 480, 1000, 5760)]
    [2.05, 1.61, 1.2, 1.0, 1.0]
    """
    needed = 1.0 / (1.0 - quantile)
    return 1.0 + SMALL_SAMPLE_WIDENING * max(0.0, math.sqrt(needed / max(rows, 1)) - 1.0)


@dataclass
class HoldDecision:
    """Decision 1 once the score has been above the threshold ``hold_ticks`` ticks in a row,
    or sooner on a tick so far above it (``at_once``) that waiting would only delay the news, once
    the tick before was above the threshold too: a single tick far out (one scrape reading 0, a
    restarted pod's first rate) is a glitch as often as an incident, and costs no page."""

    hold_ticks: int
    run: int = 0  # ticks in a row above the threshold
    quiet: int = 0  # ticks in a row below it

    def update(self, above: bool, at_once: bool = False) -> int:
        self.run = self.run + 1 if above else 0
        self.quiet = 0 if above else self.quiet + 1
        if at_once and self.run >= min(2, self.hold_ticks):
            self.run = max(self.run, self.hold_ticks)
        return int(self.run >= self.hold_ticks)

    def reset(self) -> None:
        """Start counting again (after a long gap: the run before it is not this one)."""
        self.run = self.quiet = 0
