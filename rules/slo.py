"""The availability SLO's burn-rate policy: multi-window, multi-burn-rate alerts (SRE workbook, ch. 5).

An alert pairs a long window (is the budget really burning?) with a short one (is it
still burning now?, so the alert resets soon after the problem stops). The burn factor
follows from the share of the whole budget a window may consume: spending 2 % of a
30-day budget in one hour is a burn rate of 0.02 * 720 h / 1 h = 14.4.

    >>> fast = BURN_RATE_WINDOWS[0]
    >>> fast.long, fast.short, round(fast.factor(30), 1)
    ('1h', '5m', 14.4)
    >>> [round(w.factor(30), 1) for w in BURN_RATE_WINDOWS]
    [14.4, 6.0, 3.0, 1.0]

The policy is Sloth's (and the workbook's table 5-9 plus its 1-day step): page on the
two fast pairs, open a ticket on the two slow ones.
"""

from __future__ import annotations

from dataclasses import dataclass

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """Seconds in a single-unit Prometheus duration such as ``5m`` or ``3d``.

    >>> duration_seconds("6h")
    21600
    """
    return int(text[:-1]) * _SECONDS[text[-1]]


@dataclass(frozen=True)
class BurnRateWindow:
    """One long/short window pair and the share of the error budget it may spend."""

    long: str
    short: str
    budget_share: float
    """Fraction of the whole period's budget that, spent within ``long``, triggers the alert."""
    page: bool
    """True: the critical (page) alert; False: the warning (ticket) alert."""

    def factor(self, period_days: float) -> float:
        """Burn rate (multiple of the sustainable error rate) that spends ``budget_share`` in ``long``."""
        return self.budget_share * period_days * 86400 / duration_seconds(self.long)


BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("1h", "5m", 0.02, page=True),
    BurnRateWindow("6h", "30m", 0.05, page=True),
    BurnRateWindow("1d", "2h", 0.10, page=False),
    BurnRateWindow("3d", "6h", 0.10, page=False),
)


def ratio_windows() -> tuple[str, ...]:
    """Every window an error ratio must be recorded for, shortest first.

    >>> ratio_windows()
    ('5m', '30m', '1h', '2h', '6h', '1d', '3d')
    """
    windows = {w for pair in BURN_RATE_WINDOWS for w in (pair.long, pair.short)}
    return tuple(sorted(windows, key=duration_seconds))
