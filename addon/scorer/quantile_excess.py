"""How far a value lies beyond the high and low quantiles of its own recent history.

One member of the detector's ensemble (see :mod:`.detector`): a value above the history's
95th percentile scores ``(x - q95) / (q95 - q50)``, one below its 5th percentile
``(q5 - x) / (q50 - q5)``, anything between them 0. So the score is in units of the
history's own spread on that side, means the same on a request rate and an hourly crash
rate, and keeps growing with the size of the change (no saturation past the training
range). Quantiles, not the minimum and maximum, so a past incident in the history moves
them little. The spread never counts as less than ``grain``, the data's own step (one
count of a count series, a bucket's width): on a series of 0s and 1s a 1 is no news.

The history is the last :data:`WINDOW_ROWS` values the owner chose to learn (the detector
gives it every value, anomalous or not: a few incident rows move the quantiles little, and a
lasting change becomes the new normal), kept in arrival order and sorted, so a quantile is
a lookup and a new value costs a bisection.

    >>> qe = QuantileExcess.fit([10.0, 11.0, 12.0, 9.0, 10.5] * 20, grain=0.1)
    >>> qe.score(11.5), round(qe.score(14.0), 3), round(qe.score(2.0), 3)
    (0.0, 1.333, 4.667)
    >>> QuantileExcess.fit([10.0, 11.0, 12.0, 9.0, 10.5] * 20, grain=0.1, rise_only=True).score(2.0)
    0.0
    >>> qe.learn(30.0); round(qe.score(14.0), 3)   # one learned outlier barely moves the quantiles
    1.333
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Iterable, Sequence

import numpy as np

WINDOW_ROWS = 1000
"""Values of history: hours at 15 s rows, most of a day at 1-minute rows, weeks at hourly ones."""

LEAST_THRESHOLD = 1.5
"""A member's threshold is never below this: 1.5 spreads beyond the outer quantile."""
HIGH_QUANTILE = 0.95
LOW_QUANTILE = 0.05


class QuantileExcess:
    """The excess of a value over its history's outer quantiles, in units of the history's spread."""

    def __init__(self, grain: float, rise_only: bool = False, window: int = WINDOW_ROWS,
                 threshold: float = LEAST_THRESHOLD):
        self.grain = float(grain)
        self.rise_only = bool(rise_only)
        self.threshold = float(threshold)
        self.history: deque = deque(maxlen=int(window))
        self.ordered: list[float] = []

    @classmethod
    def fit(cls, values: Iterable[float], grain: float, rise_only: bool = False,
            window: int = WINDOW_ROWS) -> "QuantileExcess":
        """A member whose history is ``values`` (the last ``window`` of them)."""
        member = cls(grain, rise_only, window)
        for v in values:
            member.learn(v)
        return member

    @classmethod
    def replay(cls, values: Iterable[float], grain: float, rise_only: bool = False, window: int = WINDOW_ROWS,
               warm: int = 60) -> tuple["QuantileExcess", list[float]]:
        """A member that learned ``values`` one by one, and the score of each after the first ``warm``
        against the history before it (as a live tick is scored)."""
        member, scores = cls(grain, rise_only, window), []
        for i, v in enumerate(values):
            if i >= warm:
                scores.append(member.score(v))
            member.learn(v)
        return member, scores

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the history, interpolated as numpy's default does."""
        s = self.ordered
        at = q * (len(s) - 1)
        i = int(at)
        if i + 1 >= len(s):
            return s[-1]
        return s[i] + (at - i) * (s[i + 1] - s[i])

    def score(self, x: float) -> float:
        """0 inside the outer quantiles; beyond them, the distance in spreads (at least ``grain``) of that side."""
        if not self.ordered:
            return 0.0
        middle = self.quantile(0.5)
        high = self.quantile(HIGH_QUANTILE)
        if x > high:
            return (x - high) / max(high - middle, self.grain, 1e-12)
        if self.rise_only:
            return 0.0
        low = self.quantile(LOW_QUANTILE)
        if x < low:
            return (low - x) / max(middle - low, self.grain, 1e-12)
        return 0.0

    def learn(self, x: float) -> None:
        """Add ``x`` to the history (the oldest value leaves a full one)."""
        x = float(x)
        if len(self.history) == self.history.maxlen:
            old = self.history[0]
            del self.ordered[bisect.bisect_left(self.ordered, old)]
        self.history.append(x)
        bisect.insort(self.ordered, x)

    def __getstate__(self) -> dict:
        # The history as one array (saved as bytes, not as thousands of JSON numbers); the sorted copy is rebuilt.
        return {"grain": self.grain, "rise_only": self.rise_only, "threshold": self.threshold,
                "window": self.history.maxlen, "history": np.array(self.history, dtype=float)}

    def __setstate__(self, state: dict) -> None:
        self.grain, self.rise_only, self.threshold = float(state["grain"]), bool(state["rise_only"]), float(state["threshold"])
        self.history = deque((float(v) for v in state["history"]), maxlen=int(state["window"]))
        self.ordered = sorted(self.history)


TAIL_ROWS = 10
"""The fewest training scores above 0 an exponential tail is fitted to."""


def tail_threshold(scores: Sequence[float], rate: float) -> float:
    """The score a share ``rate`` of ticks exceeds, from an exponential tail fitted to the highest
    training ``scores`` (peaks over a threshold): the top 5 % of them, or those above 0 if fewer. A
    rate far below one in the training rows is extrapolated, not read off the largest score.
    0 when fewer than :data:`TAIL_ROWS` scores are above 0.

    >>> scores = [0.0] * 900 + [0.01 * i for i in range(100)]   # a tenth of the rows above 0, none above 1
    >>> round(tail_threshold(scores, rate=1e-3), 2), round(tail_threshold(scores, rate=1e-5), 2)
    (1.49, 2.66)
    >>> tail_threshold([0.0] * 1000 + [3.0] * 5, rate=1e-5)   # five excesses: no tail to fit
    0.0
    """
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    k = min(max(TAIL_ROWS, int(0.05 * len(s))), int(np.count_nonzero(s > 0.0)))
    if k < TAIL_ROWS or len(s) <= k:
        return 0.0
    u = float(s[k])
    beta = float(np.mean(s[:k] - u))
    if beta <= 0.0:
        return u
    return u + beta * max(0.0, math.log(k / len(s) / rate))
