"""Read the scorer's features from Prometheus: one tick live, or a time range for bootstrapping.

Each feature is one PromQL query expected to return at most one series (an instant
vector). All of them go to Prometheus as one query per tick, each tagged with a
``vigilante_feature`` label, so a tick costs one HTTP round trip however many features
there are. A query that
returns nothing, NaN or ±Inf gives ``None`` for that feature: a *gap*, which the model
scores around and never learns from. A query that returns several series is a
configuration mistake (the selector matches more than one app) and is reported as such.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from vigilante.prometheus.api import MalformedAnswer, PrometheusAPI, PrometheusQueryError

Values = dict[str, "float | None"]

FEATURE_LABEL = "vigilante_feature"
"""Label that tells the features apart in the one query a tick sends."""

MAX_POINTS = 11_000
"""Most points per series Prometheus answers in one range query (it refuses more): a longer
range is read in chunks of at most this many ticks."""


class AmbiguousFeatureError(PrometheusQueryError):
    """A feature query matched several series; its selector must pick exactly one app."""


@dataclass(frozen=True)
class FeatureRow:
    """The features of one tick; ``None`` marks a gap."""

    timestamp: float
    values: Values

    @property
    def complete(self) -> bool:
        """Every feature has a value: the tick can be scored.

        >>> FeatureRow(0.0, {"rps": 3.5, "error_ratio": None}).complete
        False
        """
        return all(v is not None for v in self.values.values())


def _number(raw: str) -> float | None:
    value = float(raw)
    return value if math.isfinite(value) else None


class FeatureSource:
    """The configured feature queries, evaluated against one Prometheus.

    ``queries`` maps feature name to PromQL, in the order the model expects;
    ``observe(seconds, ok)`` is called after each query (the service's own metrics).
    """

    def __init__(self, api: PrometheusAPI, queries: Mapping[str, str],
                 observe: Callable[[float, bool], None] | None = None):
        self.api = api
        self.queries = dict(queries)
        self.observe = observe
        self.combined = " or ".join(
            f'label_replace({expr}, "{FEATURE_LABEL}", "{name}", "", "")' for name, expr in self.queries.items())

    def _timed(self, method: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        ok = False
        try:
            result = method(*args)
            ok = True
            return result
        finally:
            if self.observe:
                self.observe(time.perf_counter() - started, ok)

    def at(self, timestamp: float) -> FeatureRow:
        """Evaluate every query at ``timestamp``.

        Raises :class:`~vigilante.prometheus.api.PrometheusUnavailable` when Prometheus cannot
        be reached: the caller decides whether that tick is skipped.
        """
        by_feature = self._split(self._timed(self.api.vector, self.combined, timestamp))
        return FeatureRow(timestamp, {name: _number(series[0]["value"][1]) if series else None
                                      for name, series in by_feature.items()})

    def between(self, start: float, end: float, step: float) -> list[FeatureRow]:
        """Every tick from ``start`` to ``end`` (inclusive) at ``step`` seconds, gaps as ``None``;
        read in chunks of at most :data:`MAX_POINTS` ticks."""
        count = int((end - start) // step) + 1
        stamps = [start + i * step for i in range(count)]
        columns: dict[str, dict[int, float | None]] = {name: {} for name in self.queries}
        for first in range(0, count, MAX_POINTS):
            last = min(first + MAX_POINTS, count) - 1
            by_feature = self._split(self._timed(self.api.query_range, self.combined, stamps[first], stamps[last],
                                                 step))
            for name, series in by_feature.items():
                for t, v in series[0]["values"] if series else ():
                    # Prometheus answers with millisecond timestamps: match each to its step by
                    # index, not by float equality with start + i * step.
                    index = round((float(t) - start) / step)
                    if first <= index <= last:
                        columns[name][index] = _number(v)
        return [FeatureRow(t, {name: columns[name].get(i) for name in self.queries}) for i, t in enumerate(stamps)]

    def _split(self, result: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        by_feature: dict[str, list[dict[str, Any]]] = {name: [] for name in self.queries}
        for series in result:
            name = series["metric"].get(FEATURE_LABEL)
            if name not in by_feature:
                # The query labels every series it returns: only a look-alike answers without.
                raise MalformedAnswer(f"a series without a known {FEATURE_LABEL} label: {series['metric']}")
            by_feature[name].append(series)
        for name, series in by_feature.items():
            self._check_single(name, self.queries[name], series)
        return by_feature

    @staticmethod
    def _check_single(name: str, expr: str, result: list) -> None:
        if len(result) > 1:
            labels = [r["metric"] for r in result[:3]]
            raise AmbiguousFeatureError(
                f"feature {name!r}: query {expr!r} returned {len(result)} series (e.g. {labels}); "
                "narrow its selector to one namespace and job")
