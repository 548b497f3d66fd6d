"""Queries and condition waits shared by the PromQL servers of the harness (Prometheus, VictoriaMetrics)."""

from __future__ import annotations

from typing import Any, Callable

from scripts.harness.process import wait_until
from vigilante.prometheus.api import PrometheusAPI


class PromQLQueries:
    """``query``, ``query_range`` and ``wait_for`` through the server's ``api`` client.

    A server that must do something before each try of a wait (VictoriaMetrics flushes its
    index) overrides :meth:`before_each_try`.
    """

    api: PrometheusAPI
    wait_interval: float = 0.1

    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        return self.api.query(expr, time)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self.api.query_range(expr, start, end, step)

    def before_each_try(self) -> None:
        """Called before each query of :meth:`wait_for`; nothing by default."""

    def wait_for(self, expr: str, predicate: Callable[[list[dict[str, Any]]], object] = bool,
                 timeout: float = 30.0, what: str | None = None) -> list[dict[str, Any]]:
        """Re-run ``expr`` until ``predicate(result)`` holds; return that result."""
        holder: dict[str, Any] = {}

        def check() -> object:
            self.before_each_try()
            holder["result"] = self.query(expr)
            return predicate(holder["result"])

        wait_until(check, timeout, what or f"{expr!r} to satisfy the condition", interval=self.wait_interval,
                   on_timeout=lambda: f"last result: {holder.get('result')!r}")
        return holder["result"]
