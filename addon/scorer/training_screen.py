"""Leaving past incidents out of rows a model is about to learn as normal.

A warm start from history learns whatever the history holds. An outage or a spike in it
would widen the normal range until the next one of the same size scores as ordinary. So
before the fit, every row is compared with the median of the rows around it (its local
normal, which follows a daily shape but not a few minutes' incident), in units of the
series' own robust spread; rows far off, and the rows around them whose rate windows
hold part of the incident, are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from vigilante.scorer.transforms import FeatureTransform

Row = tuple[float, Mapping[str, "float | None"]]

INCIDENT_SPREADS = 10.0
"""How many robust spreads from its local normal make a row an incident.

Ten: Gaussian noise never gets there, and screening the real tier's files (with the rows
around each marked one) leaves out 0.16 % of their rows, at most 12 % of its spikiest
series; an outage (the rate falls to nothing) or a doubling of traffic stands tens of
spreads out.
"""
LOCAL_SECONDS = 900.0
"""The centred span whose median is a row's local normal: longer than an incident that is
worth leaving out, shorter than the rise of a daily peak."""
LOCAL_ROWS = 9
"""The least number of rows in that span, for series whose rows are far apart."""
PAD_SECONDS = 60.0
"""Rows this close to an incident row are left out too: their 1-minute rates hold part of it."""
MOST_LEFT_OUT = 0.5
"""The screen gives up (keeps every row) when it would leave out more than this share: a
median stands for normal only while most rows are normal."""


@dataclass(frozen=True)
class Screened:
    """The rows to learn, and how many were left out as incidents."""

    rows: list[Row]
    left_out: int
    gave_up: bool = False


def screen_incidents(rows: Sequence[Row], features: Sequence[str],
                     buckets: Mapping[str, Sequence[float]] | None = None, *,
                     local_seconds: float = LOCAL_SECONDS, pad_seconds: float = PAD_SECONDS) -> Screened:
    """``rows`` (in time order) without those far from their local normal, nor the rows around them.

    Rows with a missing value are kept as they are (the fit leaves them out anyway).
    ``local_seconds`` and ``pad_seconds`` default to the shipped spans; a trial that runs
    the rate windows faster passes them scaled.

    >>> steady = [(t * 15.0, {"rps": 8.0 + (t % 3) * 0.1}) for t in range(240)]
    >>> outage = [(t, {"rps": 0.0 if 1500 <= t < 1620 else v["rps"]}) for t, v in steady]
    >>> screened = screen_incidents(outage, ["rps"])
    >>> screened.left_out                  # 8 ticks of outage, the one before and the 4 after
    13
    >>> screen_incidents(steady, ["rps"]).left_out
    0
    """
    rows = list(rows)
    times = np.array([t for t, _ in rows], dtype=float)
    incident = np.zeros(len(rows), dtype=bool)
    for feature in features:
        incident |= _far_from_local_normal(rows, times, feature, (buckets or {}).get(feature, ()), local_seconds)
    if not incident.any():
        return Screened(rows, 0)
    # A row is left out when an incident row lies within pad_seconds before it (its rate window
    # still holds the incident) or is the next row (its rate window was already climbing into
    # the incident, not yet far enough to be marked).
    marked = times[incident]
    latest = np.searchsorted(marked, times, side="right") - 1
    after = (latest >= 0) & (times - marked[np.clip(latest, 0, None)] <= pad_seconds)
    following = np.searchsorted(marked, times, side="left")
    before = (following < len(marked)) & (marked[np.clip(following, 0, len(marked) - 1)] - times
                                          <= 1.5 * _spacing(times))
    out = after | before
    if out.sum() > MOST_LEFT_OUT * len(rows):
        return Screened(rows, 0, gave_up=True)
    return Screened([r for r, o in zip(rows, out) if not o], int(out.sum()))


def _far_from_local_normal(rows: list[Row], times: np.ndarray, feature: str,
                           buckets: Sequence[float], local_seconds: float) -> np.ndarray:
    """Which rows' ``feature`` lies more than ``INCIDENT_SPREADS`` robust spreads from its local median."""
    present = np.array([_present(v.get(feature)) for _, v in rows], dtype=bool)
    far = np.zeros(len(rows), dtype=bool)
    if present.sum() < 3:
        return far
    raw = np.array([float(v[feature]) for (_, v), p in zip(rows, present) if p])
    transform = FeatureTransform.fit(feature, raw)
    y = np.array([transform.apply(x) for x in raw])
    t = times[present]
    # at long spacings (hourly rows) the span holds at least LOCAL_ROWS rows
    half = max(local_seconds, LOCAL_ROWS * _spacing(t)) / 2
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    local_median = np.array([np.median(y[a:b]) for a, b in zip(lo, hi)])
    residual = y - local_median
    # The spread is the larger of the whole history's and the row's own span's: a series
    # that reads 0 for hours and then moves has no spread overall, but its moving part does.
    local_spread = np.array([np.median(np.abs(y[a:b] - m)) for a, b, m in zip(lo, hi, local_median)])
    overall = float(np.median(np.abs(residual - np.median(residual))))
    # never finer than the data's own grain: a count that steps by one is not an incident
    floor = transform.noise_floor(feature, raw, buckets)
    spread = np.maximum(1.4826 * np.maximum(local_spread, overall), max(floor, 1e-9))
    far[present] = np.abs(residual) > INCIDENT_SPREADS * spread
    return far


def _spacing(times: np.ndarray) -> float:
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 0.0


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))
