"""Read the scorer's features from Prometheus: one tick live, or a time range for bootstrapping.

Each feature is one PromQL query expected to return at most one series. A query that
returns nothing, NaN or ±Inf gives ``None`` for that feature: a *gap*, which the model
scores around and never learns from. A query that returns several series is a
configuration mistake (the selector matches more than one app) and is reported as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from addon.prometheus_api import PrometheusAPI, PrometheusQueryError

Values = dict[str, "float | None"]


class AmbiguousFeatureError(PrometheusQueryError):
    """A feature query matched several series; its selector must pick exactly one app."""


@dataclass(frozen=True)
class FeatureRow:
    """The features of one tick; ``None`` marks a gap."""

    timestamp: float
    values: Values

    @property
    def complete(self) -> bool:
        return all(v is not None for v in self.values.values())


def _number(raw: str) -> float | None:
    value = float(raw)
    return value if math.isfinite(value) else None


class FeatureSource:
    """The configured feature queries, evaluated against one Prometheus.

    ``queries`` maps feature name to PromQL, in the order the model expects.
    """

    def __init__(self, api: PrometheusAPI, queries: Mapping[str, str]):
        self.api = api
        self.queries = dict(queries)

    def at(self, timestamp: float) -> FeatureRow:
        """Evaluate every query at ``timestamp``.

        Raises :class:`~addon.prometheus_api.PrometheusUnavailable` when Prometheus cannot
        be reached: the caller decides whether that tick is skipped.
        """
        values: Values = {}
        for name, expr in self.queries.items():
            result = self.api.query(expr, timestamp)
            self._check_single(name, expr, result)
            values[name] = _number(result[0]["value"][1]) if result else None
        return FeatureRow(timestamp, values)

    def between(self, start: float, end: float, step: float) -> list[FeatureRow]:
        """Every tick from ``start`` to ``end`` (inclusive) at ``step`` seconds, gaps as ``None``."""
        count = int((end - start) // step) + 1
        stamps = [start + i * step for i in range(count)]
        columns: dict[str, dict[float, float | None]] = {}
        for name, expr in self.queries.items():
            result = self.api.query_range(expr, start, stamps[-1], step)
            self._check_single(name, expr, result)
            columns[name] = {float(t): _number(v) for t, v in result[0]["values"]} if result else {}
        return [FeatureRow(t, {name: columns[name].get(t) for name in self.queries}) for t in stamps]

    @staticmethod
    def _check_single(name: str, expr: str, result: list) -> None:
        if len(result) > 1:
            labels = [r["metric"] for r in result[:3]]
            raise AmbiguousFeatureError(
                f"feature {name!r}: query {expr!r} returned {len(result)} series (e.g. {labels}); "
                "narrow its selector to one namespace and job")
