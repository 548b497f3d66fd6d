"""Memory of the day's shape: how far a value lies from what this time of day looked like before.

One member of the detector's ensemble (see :mod:`.detector`), beside
:mod:`.quantile_excess`. Many series follow the clock: quiet nights, busy afternoons. A
value can be well inside its recent range and still be wrong for the hour (a day that
stays flat, a night that stays busy, a peak half as high as every other day's). The
recent range cannot see that; the same hour of the previous days can.

:class:`DailyProfile` keeps, for each of the last :data:`KEPT_DAYS` days, the mean value in
each time-of-day bin (five minutes, or one row when rows are further apart), and expects
the median of those means at this time of day once :data:`LEAST_DAYS` days are known.
:class:`SeasonalExcess` scores the residual (the value minus that expectation) against the
outer quantiles of its own past residuals, as :class:`~.quantile_excess.QuantileExcess`
scores a value, and speaks only when the day's shape is real: when the profile swings
across the day by at least :data:`LEAST_SWING` times the residuals' noise from one row to
the next. On a series without a daily rhythm it stays silent, so it adds no false alarm
there. Its threshold is the score its own residuals' tail says one tick in ``1 / false_rate``
exceeds (see :func:`~.quantile_excess.tail_threshold`), set again each hour: the profile
needs days, more than a training set may hold, so it is calibrated as it learns. A value the
profile expects (:meth:`SeasonalExcess.expects`) is no news to the detector, however far it lies
from the recent range.

    >>> import math
    >>> day = 86400.0
    >>> member = SeasonalExcess(spacing_seconds=300.0, grain=0.01)
    >>> def rhythm(t):   # 10 at night, 30 by day, a little noise
    ...     return 20 - 10 * math.cos(2 * math.pi * t / day) + 0.3 * math.sin(t * 7.3)
    >>> monday = 4 * day   # 1970-01-05
    >>> for i in range(3 * 288):   # Monday to Wednesday
    ...     member.learn(monday + i * 300.0, rhythm(i * 300.0))
    >>> t = monday + 3 * day + day / 2   # noon on Thursday
    >>> member.score(t, rhythm(t)) < 1   # as busy as every noon
    True
    >>> member.expects(t, rhythm(t)), member.expects(t, 20.0)   # what a noon looks like, and what it does not
    (True, False)
    >>> member.score(t, 20.0)   # inside the day's range but half of a usual noon: one row alone waits
    0.0
    >>> member.learn(t, 20.0)   # ten minutes of it (two rows of five minutes)
    >>> member.score(t + 300.0, 20.0) > 10
    True
    >>> flat = SeasonalExcess(spacing_seconds=300.0, grain=0.01)
    >>> for i in range(3 * 288):
    ...     flat.learn(monday + i * 300.0, 20 + 0.3 * math.sin(i * 7.3))
    >>> flat.score(t, 25.0)   # no daily rhythm: nothing to say
    0.0
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from vigilante.scorer.quantile_excess import WINDOW_ROWS, QuantileExcess, tail_threshold

DAY_SECONDS = 86400.0
BIN_SECONDS = 300.0
"""The least width of a time-of-day bin: rows closer than this are averaged into one mean per day."""
KEPT_DAYS = 7
LEAST_DAYS = 1
"""Days that must be known at a time of day before the profile expects anything there (from
three on, the median also shrugs off one odd day)."""
LEAST_SWING = 2.0
"""How far the profile must swing across the day (5th to 95th percentile of its bins), in the
residuals' row-to-row noise (as a 5th to 95th percentile range), before the member speaks: a
weaker rhythm is noise. (Pure noise swings well under 1; 4 silenced a rhythm under 6 % noise.)"""
SCORES_KEPT = 2000
"""Residual scores the threshold is calibrated on, each taken before its residual was learned
(in-sample scores say too little: a profile of few days moves from day to day)."""
JUDGE_SECONDS = 3600.0  # how often the member judges the profile and sets its threshold again
STEP_TO_90 = 3.45  # a normal spread's 5th-95th percentile range / the median step between two draws
LEAST_RESIDUALS = 60
"""Residuals the member must have seen before it scores one: their quantiles are its scale."""
SUSTAIN_SECONDS = 600.0
"""How long a residual must stay out before the member speaks (at least two rows): what the day's
shape reveals (a flat day, a missing peak) lasts; a single odd row is the quantile member's to judge."""
RESIDUAL_SECONDS = 12 * 3600.0
"""The residuals the member's scale is read from span at least this long (and at least the quantile
member's rows): an incident becomes part of that scale once it fills a twentieth of them, and at
15 s ticks 1,000 rows would be four hours, a wrong morning absorbed in twelve minutes."""
LEAST_SCORES = 500
"""Scores the member must have calibrated its threshold on before it speaks."""


def _weekend(day):
    """Whether the day (days since 1970-01-01, a Thursday) is a Saturday or a Sunday (UTC)."""
    return (day + 3) % 7 >= 5


class DailyProfile:
    """Each time-of-day bin's mean value on each of the last :data:`KEPT_DAYS` days.

    Days are UTC days of the timestamps (seconds since the epoch); only the phase matters,
    so a series in any time zone has the same profile, shifted. Saturdays and Sundays are
    expected from the earlier weekend days, the other days from the earlier weekdays: a
    weekly rhythm of working days and weekends is the common one.
    """

    def __init__(self, spacing_seconds: float, days: int = KEPT_DAYS):
        self.bins = max(1, int(DAY_SECONDS // max(float(spacing_seconds), BIN_SECONDS)))
        self.bin_seconds = DAY_SECONDS / self.bins
        self.sums = np.zeros((days, self.bins))
        self.counts = np.zeros((days, self.bins))
        self.day_of_slot = np.full(days, -1, dtype=np.int64)  # the day each row of the ring holds
        self._last: tuple[int, int, float | None] | None = None  # (day, bin, expected): earlier days do not change

    def _where(self, timestamp: float) -> tuple[int, int]:
        day = math.floor(timestamp / DAY_SECONDS)
        return day, min(int((timestamp - day * DAY_SECONDS) // self.bin_seconds), self.bins - 1)

    def expected(self, timestamp: float) -> float | None:
        """The median of the earlier days' means at this time of day; None with fewer than :data:`LEAST_DAYS`
        earlier days of the same kind (weekend or weekday) there."""
        day, b = self._where(timestamp)
        if self._last is not None and self._last[:2] == (day, b):
            return self._last[2]
        known = (self.day_of_slot >= 0) & (self.day_of_slot < day) & (self.counts[:, b] > 0)
        # A weekend day is compared with the earlier weekend days, a weekday with the weekdays: a
        # quieter weekend is then no news, nor is Monday's return to work. The first weekend has
        # nothing to be compared with.
        alike = known & (_weekend(self.day_of_slot) == _weekend(day))
        value = float(np.median(self.sums[alike, b] / self.counts[alike, b])) \
            if np.count_nonzero(alike) >= LEAST_DAYS else None
        self._last = (day, b, value)
        return value

    def learn(self, timestamp: float, value: float) -> None:
        """Add a value to today's mean of its bin."""
        day, b = self._where(timestamp)
        slot = day % len(self.day_of_slot)
        if self.day_of_slot[slot] != day:
            if self.day_of_slot[slot] > day:
                return  # older than every day kept
            self.sums[slot] = 0.0
            self.counts[slot] = 0.0
            self.day_of_slot[slot] = day
            self._last = None
        self.sums[slot, b] += value
        self.counts[slot, b] += 1

    def swing(self) -> float:
        """How far the profile moves across the day: the 5th to 95th percentile of its bins' medians
        (0 while fewer than half of the bins are known)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(self.counts > 0, self.sums / self.counts, np.nan)
        per_bin = means[:, np.count_nonzero(self.counts > 0, axis=0) >= LEAST_DAYS]
        if per_bin.shape[1] < max(2, self.bins // 2):
            return 0.0
        low, high = np.quantile(np.nanmedian(per_bin, axis=0), [0.05, 0.95])
        return float(high - low)

    def __getstate__(self) -> dict:
        return {"bins": self.bins, "sums": self.sums, "counts": self.counts, "day_of_slot": self.day_of_slot}

    def __setstate__(self, state: dict) -> None:
        self.bins = int(state["bins"])
        self.bin_seconds = DAY_SECONDS / self.bins
        self.sums = np.asarray(state["sums"], dtype=float)
        self.counts = np.asarray(state["counts"], dtype=float)
        self.day_of_slot = np.asarray(state["day_of_slot"], dtype=np.int64)
        self._last = None


class SeasonalExcess:
    """The excess of a value's residual from its :class:`DailyProfile` over the residuals' outer quantiles."""

    def __init__(self, spacing_seconds: float, grain: float, rise_only: bool = False, false_rate: float = 1e-4):
        self.profile = DailyProfile(spacing_seconds)
        self.residuals = QuantileExcess(grain, rise_only, max(WINDOW_ROWS, math.ceil(RESIDUAL_SECONDS / spacing_seconds)))
        self.false_rate = float(false_rate)
        self.threshold = self.residuals.threshold
        self.trusted = False  # the profile swings enough across the day (judged again each hour)
        self.sustain = max(2, math.ceil(SUSTAIN_SECONDS / float(spacing_seconds)))
        self.recent: deque = deque(maxlen=self.sustain - 1)  # the last rows' residual scores
        self.scores: deque = deque(maxlen=SCORES_KEPT)  # each row's sustained score, before it was learned
        self.judged_hour = -1

    def score(self, timestamp: float, value: float) -> float:
        """0 while the day's shape is unknown or too weak; else the residual's excess in spreads,
        the least of this row's and the last ones' within :data:`SUSTAIN_SECONDS`."""
        if not self.trusted:
            return 0.0
        expected = self.profile.expected(timestamp)
        if expected is None or len(self.residuals.ordered) < LEAST_RESIDUALS:
            return 0.0
        return self._held(self.residuals.score(value - expected))

    def expects(self, timestamp: float, value: float) -> bool:
        """Whether the value is what this time of day looked like on the earlier days of its kind: the
        profile is trusted and the value's residual lies inside the residuals' outer quantiles.

        A value below every recent one can still be this (the second Saturday of a quieter weekend,
        after five busier days): the detector then takes the recent range's surprise as the calendar's.
        """
        if not self.trusted:
            return False
        expected = self.profile.expected(timestamp)
        if expected is None or len(self.residuals.ordered) < LEAST_RESIDUALS:
            return False
        return self.residuals.score(value - expected) == 0.0

    def _held(self, now: float) -> float:
        """The least of ``now`` and the last rows' scores (0 until there are enough of them)."""
        return min(now, min(self.recent)) if len(self.recent) == self.recent.maxlen else 0.0

    def learn(self, timestamp: float, value: float) -> None:
        """Add the value to the profile, and its residual (when one is known) to the residuals."""
        expected = self.profile.expected(timestamp)
        if expected is not None:
            if len(self.residuals.ordered) >= LEAST_RESIDUALS:
                now = self.residuals.score(value - expected)
                self.scores.append(self._held(now))
                self.recent.append(now)
            self.residuals.learn(value - expected)
        self.profile.learn(timestamp, value)
        hour = math.floor(timestamp / JUDGE_SECONDS)
        if hour != self.judged_hour:  # the judgement moves slowly: once an hour is enough
            self.judged_hour = hour
            self.trusted = self._judge()

    def _judge(self) -> bool:
        """Whether the profile is worth trusting; on the way, the threshold from the residuals' own tail."""
        r = self.residuals
        if len(self.scores) < LEAST_SCORES:
            return False
        self.threshold = max(r.threshold, tail_threshold(self.scores, self.false_rate))
        # The noise of the residuals from one row to the next, as a 5-95 % spread: a day or a weekend
        # that sits apart from the profile (an offset lasting hours) widens their quantiles, not this.
        steps = np.abs(np.diff(np.fromiter(r.history, dtype=float, count=len(r.history))))
        spread = max(STEP_TO_90 * float(np.median(steps)), r.grain, 1e-12)
        return self.profile.swing() >= LEAST_SWING * spread

    def __getstate__(self) -> dict:
        # The kept scores as arrays (bytes in the state, not thousands of JSON numbers).
        return {**self.__dict__, "recent": np.array(self.recent, dtype=float), "recent_maxlen": self.recent.maxlen,
                "scores": np.array(self.scores, dtype=float), "scores_maxlen": self.scores.maxlen}

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        self.recent = deque((float(v) for v in state.pop("recent")), maxlen=int(state.pop("recent_maxlen")))
        self.scores = deque((float(v) for v in state.pop("scores")), maxlen=int(state.pop("scores_maxlen")))
        self.__dict__.update(state)

    @classmethod
    def fit(cls, timestamps, values, spacing_seconds: float, grain: float, rise_only: bool = False,
            false_rate: float = 1e-4) -> "SeasonalExcess":
        """A member that learned the rows one by one (it judges itself as it goes, as live)."""
        member = cls(spacing_seconds, grain, rise_only, false_rate)
        for t, v in zip(timestamps, values):
            member.learn(t, v)
        return member
