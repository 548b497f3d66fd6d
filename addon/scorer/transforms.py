"""Per-feature transforms learned from the training baseline.

A raw series (requests per second, a latency, any numeric column) is first put on a scale
where equal steps mean equally surprising changes: ``log(x + offset)`` for series that are
never negative (rates, ratios, latencies: a doubling matters the same at 5 and at 50
requests per second), a plain standardisation otherwise. The offset is a fraction of the
training median, so the transform does not depend on the unit: each feature declares its own
fraction and noise resolution (:mod:`vigilante.scorer.features`; 0.1 and none for a feature
of one's own).

    >>> t = FeatureTransform.fit("rps", [10.0, 12.0, 9.0, 11.0])
    >>> t.kind, round(t.scale, 2)
    ('log', 1.05)
    >>> round(t.apply(20.0) - t.apply(10.0), 3)  # a doubling
    0.644
    >>> FeatureTransform.fit("temp", [-3.0, 1.0, 2.0]).kind
    'linear'
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

import numpy as np

from vigilante.scorer.features import noise_resolution, offset_fraction



RELATIVE_NOISE_FLOOR = 0.02
"""A change of less than 2 % of a feature's level is never more than noise."""

BUCKET_NOISE_FRACTION = 0.15
"""A move of 15 % of its bucket's width is noise for a quantile interpolated inside a histogram bucket.

``histogram_quantile`` spreads a bucket's requests evenly across it, so its estimate is wrong by up to
the bucket's width, and a small shift in the mix of requests moves it within the bucket. Measured
on the demo app (p95 near 8 ms, in the 5-10 ms bucket), steady traffic on a busy machine moved it
by 0.2-0.7 ms above anything seen in 3 minutes of training (tests/fixtures/recorded/).
"""


def quantum(values: np.ndarray) -> float:
    """The smallest step between distinct values; for a constant, the place of its last digit.

    >>> quantum(np.array([3.0, 5.0, 4.0, 5.0])), quantum(np.array([0.25, 0.25])), quantum(np.array([7.0]))
    (1.0, 0.01, 1.0)
    """
    distinct = np.unique(values)
    if distinct.size > 1:
        return float(np.diff(distinct).min())
    x = abs(float(distinct[0])) if distinct.size else 0.0
    if x == 0.0:
        return 0.0
    # 12 significant digits drop the binary noise of a float (0.1 + 0.2); whole numbers count in ones.
    return 10.0 ** min(Decimal(f"{x:.12g}").normalize().as_tuple().exponent, 0)


def grain(name: str, values: Sequence[float], buckets: Sequence[float] = ()) -> float:
    """The least change of a feature, in its own units, that is more than the data's resolution.

    The largest of: its quantum (one count of a count series); the known resolution of the
    default error features; ``BUCKET_NOISE_FRACTION`` of the histogram bucket its median is in;
    ``RELATIVE_NOISE_FLOOR`` of its median.

    >>> grain("queue", [0.0, 1.0, 0.0, 2.0]), grain("error_ratio", [0.0, 0.00002, 0.00001])
    (1.0, 0.001)
    >>> round(grain("p95", [0.008, 0.0081, 0.0083], buckets=[0.005, 0.01]), 5)
    0.00075
    """
    v = np.asarray(values, dtype=float)
    at = float(np.median(v)) if v.size else 0.0
    return max(quantum(v), noise_resolution(name) or 0.0, BUCKET_NOISE_FRACTION * bucket_width(buckets, at),
               RELATIVE_NOISE_FLOOR * abs(at))


def bucket_width(upper_bounds: Sequence[float], at: float) -> float:
    """The width of the histogram bucket ``at`` falls in (the first one starts at 0); 0 above the last bound.

    >>> bucket_width([0.005, 0.01, 0.025], 0.008), bucket_width([0.005, 0.01], 0.002), bucket_width([0.005], 0.3)
    (0.005, 0.005, 0.0)
    """
    i = bisect.bisect_left(upper_bounds, at)
    if i == len(upper_bounds):
        return 0.0  # the +Inf bucket: histogram_quantile answers its lower bound, a constant
    return upper_bounds[i] - (upper_bounds[i - 1] if i else 0.0)


@dataclass(frozen=True)
class FeatureTransform:
    """How one raw feature is mapped before baselines and limits are applied."""

    name: str
    kind: str  # "log" or "linear"
    scale: float  # the offset of "log", the spread of "linear"
    center: float = 0.0

    @classmethod
    def fit(cls, name: str, values: Sequence[float]) -> "FeatureTransform":
        """Choose the transform from the training values (missing ones already removed)."""
        v = np.asarray(values, dtype=float)
        if v.size == 0:
            raise ValueError(f"feature {name!r} has no value in the training rows")
        if v.min() >= 0:
            positive = v[v > 0]
            # the median of the positive values: a ratio that is mostly 0 still gets a unit
            median = float(np.median(positive)) if positive.size else 1.0
            return cls(name, "log", median * offset_fraction(name))
        center = float(np.median(v))
        spread = float(np.percentile(v, 75) - np.percentile(v, 25)) or float(v.std()) or 1.0
        return cls(name, "linear", spread, center)

    def resolution(self, name: str, at: float) -> float:
        """The transformed size of the feature's noise resolution above ``at`` (0 if it has none).

        >>> t = FeatureTransform.fit("errors_per_second", [0.0, 0.0])
        >>> round(t.resolution("errors_per_second", 0.0), 4)
        0.0488
        """
        step = noise_resolution(name)
        return 0.0 if step is None else self.apply(at + step) - self.apply(at)

    def noise_floor(self, name: str, values: Sequence[float], buckets: Sequence[float] = ()) -> float:
        """The least deviation, in transformed units, that is more than the data's own grain.

        The larger of: the known resolution of the default error features; the feature's
        quantum, the smallest step between distinct training values (1 for counts, a bucket's
        worth for a series that only takes a few values; for a constant, its last significant
        digit); ``RELATIVE_NOISE_FLOOR`` of its level; and, for a quantile estimated from a
        histogram whose bucket upper bounds are ``buckets``, ``BUCKET_NOISE_FRACTION`` of the
        width of the bucket its level is in. So a series that never moved in training (a
        constant, a latency inside one histogram bucket) does not make its first one-step
        wobble an incident.

        >>> t = FeatureTransform.fit("queue", [5.0] * 50)
        >>> round(t.noise_floor("queue", [5.0] * 50), 3)   # one step of 1 above a constant 5
        0.167
        >>> round(t.apply(6.0) - t.apply(5.0), 3)
        0.167
        >>> p95 = [0.008, 0.0081, 0.0083]   # inside the 5-10 ms bucket
        >>> t = FeatureTransform.fit("p95", p95)
        >>> round(t.noise_floor("p95", p95), 3), round(t.noise_floor("p95", p95, buckets=[0.005, 0.01]), 3)
        (0.018, 0.081)
        """
        v = np.asarray(values, dtype=float)
        at = float(np.median(v))
        floors = [self.resolution(name, at), self.apply(at + quantum(v)) - self.apply(at)]
        if self.kind == "log":
            floors.append(math.log1p(RELATIVE_NOISE_FLOOR) * at / (at + self.scale))
        width = bucket_width(buckets, at)
        floors.append(self.apply(at + BUCKET_NOISE_FRACTION * width) - self.apply(at))
        return max(floors)

    def apply(self, x: float) -> float:
        if self.kind == "log":
            return math.log(max(x, 0.0) + self.scale)
        return (x - self.center) / self.scale


@dataclass(frozen=True)
class Limits:
    """Maps a derived feature into [0, 1] for Half-Space Trees, with headroom and clipping.

    The range is the training range (between two extreme quantiles) widened by
    ``headroom`` times its width on each side, so normal values keep most of the
    resolution and one spike can never squash them, as river's ``MinMaxScaler`` would.

        >>> lim = Limits.fit([0.0, 1.0, 2.0, 3.0, 4.0], quantile=1.0, headroom=0.5)
        >>> lim.lo, lim.hi
        (-2.0, 6.0)
        >>> lim.apply(2.0), lim.apply(100.0)
        (0.5, 1.0)
    """

    lo: float
    hi: float

    @classmethod
    def fit(cls, values: Sequence[float], quantile: float, headroom: float, min_width: float = 1.0) -> "Limits":
        """``min_width`` is the least width of the training range, widened about its middle.

        A derived feature that moved less than its noise floor in training (no 5xx at all, a
        latency inside one bucket) would otherwise get limits as narrow as its few distinct
        values, and its first wobble of one noise unit would land at the edge of [0, 1]:
        the floor of the noise would mean nothing to the trees.

            >>> lim = Limits.fit([0.1, 0.2], quantile=1.0, headroom=1.0, min_width=2.0)
            >>> round(lim.lo, 2), round(lim.hi, 2)
            (-2.85, 3.15)
        """
        v = np.asarray(values, dtype=float)
        a, b = float(np.quantile(v, 1 - quantile)), float(np.quantile(v, quantile))
        if b - a < min_width:
            middle = (a + b) / 2
            a, b = middle - min_width / 2, middle + min_width / 2
        width = b - a
        return cls(a - headroom * width, b + headroom * width)

    def apply(self, x: float) -> float:
        u = (x - self.lo) / (self.hi - self.lo)
        return 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
