"""A small client for the Prometheus HTTP query API, with timeouts, retries and typed errors.

The scorer service, the generator's checks, the benchmarks and the test harness all
query Prometheus through this one class, so they fail the same way::

    client = PrometheusAPI("http://127.0.0.1:9090", timeout=5)
    for series in client.query('up{job="ticket-app"}'):
        print(series["metric"], series["value"])

Errors are split by what the caller can do about them: :class:`PrometheusUnavailable`
(connection refused, timeout, 5xx: retry later) and :class:`PrometheusQueryError`
(the query itself is wrong: retrying will not help).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import requests


class PrometheusError(Exception):
    """Base class of every error this client raises."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or answered with a server error; try again later."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected the query (bad PromQL, bad parameters); retrying will not help."""


@dataclass
class QueryStats:
    """What Prometheus reports about one query's cost when asked with ``stats=all``."""

    total_queryable_samples: int
    peak_samples: int


class PrometheusAPI:
    """Query one Prometheus server.

    ``retries`` extra attempts are made on :class:`PrometheusUnavailable`, waiting
    ``backoff * 2**attempt`` seconds in between; query errors are never retried.
    """

    def __init__(self, url: str, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5,
                 session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = session or self._session_for(self.url)

    @staticmethod
    def _session_for(url: str) -> requests.Session:
        """A session that reads proxy and CA settings from the environment once, not per request.

        With ``trust_env`` on, requests re-reads every proxy variable on each call, which
        cost more CPU than the scorer's model per tick.
        """
        session = requests.Session()
        session.proxies.update(requests.utils.get_environ_proxies(url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` list (vector) or a one-item list (scalar)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self._get("/api/v1/query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query; returns the matrix ``result`` list."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        return data["result"]

    def query_stats(self, expr: str, start: float, end: float, step: float) -> QueryStats:
        """The samples a range query touches (``stats=all``), to compare query costs."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step, "stats": "all"})
        samples = data.get("stats", {}).get("samples", {})
        return QueryStats(int(samples.get("totalQueryableSamples", 0)), int(samples.get("peakSamples", 0)))

    def scalar(self, expr: str, time: float | None = None) -> float | None:
        """The value of a query expected to return at most one series; None when empty."""
        result = self.query(expr, time)
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusQueryError(f"expected at most one series from {expr!r}, got {len(result)}")
        return float(result[0]["value"][1])

    def ready(self) -> bool:
        """True when the server answers its readiness endpoint."""
        try:
            return self._session.get(f"{self.url}/-/ready", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(path, params)
            except PrometheusUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, path: str, params: dict[str, Any]) -> Any:
        try:
            # POST: long queries go in the body (no URL length limit, no per-character URL encoding).
            response = self._session.post(f"{self.url}{path}", data=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            # 503 is also what Prometheus answers while starting up or shutting down.
            raise PrometheusUnavailable(f"{self.url}{path}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise PrometheusUnavailable(f"{self.url}{path}: HTTP {response.status_code}, not JSON") from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)} (query {params.get('query')!r})")
        return body["data"]
