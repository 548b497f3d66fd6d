"""The threshold and the decision: calibrated on training scores, held for some ticks.

    >>> calibrate_threshold([0.1] * 999 + [0.5], quantile=0.99, margin=0.2)
    0.12
    >>> hold = HoldDecision(hold_ticks=2)
    >>> [hold.update(s > 0.3) for s in (0.9, 0.1, 0.9, 0.9, 0.9, 0.1)]
    [0, 0, 0, 1, 1, 0]
    >>> [hold.update(s > 0.3, at_once=s > 3.0) for s in (0.1, 5.0, 0.9, 0.1)]   # far above: no wait
    [0, 1, 1, 0]
"""

from __future__ import annotations

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


@dataclass
class HoldDecision:
    """Decision 1 once the score has been above the threshold ``hold_ticks`` ticks in a row,
    or at once on a tick so far above it (``at_once``) that waiting would only delay the news."""

    hold_ticks: int
    run: int = 0

    def update(self, above: bool, at_once: bool = False) -> int:
        self.run = self.run + 1 if above else 0
        if at_once and above:
            self.run = max(self.run, self.hold_ticks)
        return int(self.run >= self.hold_ticks)

    def reset(self) -> None:
        """Start counting again (after a long gap: the run before it is not this one)."""
        self.run = 0
