"""A small client for the Prometheus HTTP query API, with timeouts, retries and typed errors.

The scorer service, the generator's checks, the benchmarks and the test harness all
query Prometheus through this one class, so they fail the same way::

    client = PrometheusAPI("http://127.0.0.1:9090", timeout=5)
    for series in client.query('up{job="ticket-app"}'):
        print(series["metric"], series["value"])

Errors are split by what the caller can do about them: :class:`PrometheusUnavailable`
(connection refused, timeout, 5xx, or an answer that is not the API's shape, as from a
proxy or a look-alike: retry later) and :class:`PrometheusQueryError` (the query itself is
wrong: retrying will not help). Every answer is checked against the documented shape
before a caller sees it, so no caller indexes into something that is not there.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3


class PrometheusError(Exception):
    """Base class of every error this client raises."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or answered with a server error; try again later."""


class MalformedAnswer(PrometheusUnavailable):
    """The server answered, but not in the shape of the Prometheus HTTP API."""


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
    ``backoff * 2**attempt`` seconds in between; query errors and malformed answers are
    never retried.
    """

    def __init__(self, url: str, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._pool = self._pool_for(self.url)

    @staticmethod
    def _pool_for(url: str) -> urllib3.PoolManager:
        """Kept-alive connections, with the proxy and CA settings of the environment read once.

        urllib3 rather than requests' session: a tick's query cost half the CPU of the
        scorer's model through requests (its per-call request preparation), 0.19 ms
        instead of 0.41 ms here (scripts/bench_scorer.py measures the whole tick).
        """
        proxy = requests.utils.get_environ_proxies(url).get(urlsplit(url).scheme)  # honours NO_PROXY
        ca_file = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        options: dict[str, Any] = {"retries": False, **({"ca_certs": ca_file} if ca_file else {})}
        return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns the ``result`` list (vector, or matrix for a range selector such as
        ``x[5m]``) or a one-item list (scalar)."""
        data = self._instant(expr, time)
        kind = data.get("resultType")
        if kind in ("scalar", "string"):
            _check_sample(data.get("result"), kind == "scalar", expr)
            return [{"metric": {}, "value": data["result"]}]
        if kind not in ("vector", "matrix"):
            raise MalformedAnswer(f"{self.url}: unknown resultType {kind!r} from {expr!r}")
        return _checked_series(data.get("result"), "value" if kind == "vector" else "values", expr)

    def vector(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """Instant query that must answer an instant vector: each series has one ``value``."""
        data = self._instant(expr, time)
        if data.get("resultType") != "vector":
            raise MalformedAnswer(f"{self.url}: expected a vector from {expr!r}, got resultType {data.get('resultType')!r}")
        return _checked_series(data.get("result"), "value", expr)

    def _instant(self, expr: str, time: float | None) -> dict[str, Any]:
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        return self._get("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query; returns the matrix ``result`` list."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        if data.get("resultType") != "matrix":
            raise MalformedAnswer(f"{self.url}: expected a matrix from {expr!r}, got resultType {data.get('resultType')!r}")
        return _checked_series(data.get("result"), "values", expr)

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

    def rule_groups(self) -> list[dict[str, Any]]:
        """The recording rule groups Prometheus evaluates (``/api/v1/rules?type=record``)."""
        data = self._get("/api/v1/rules", {"type": "record"}, post=False)
        groups = data.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise MalformedAnswer(f"{self.url}/api/v1/rules: no list of groups")
        return groups

    def ready(self) -> bool:
        """True when the server answers its readiness endpoint."""
        try:
            return self._pool.request("GET", f"{self.url}/-/ready", timeout=self.timeout).status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def _get(self, path: str, params: dict[str, Any], post: bool = True) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(path, params, post)
            except MalformedAnswer:
                raise  # it answered: asking again at once gets the same answer; the next tick asks again
            except PrometheusUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, path: str, params: dict[str, Any], post: bool = True) -> Any:
        try:
            # POST: long queries go in the body (no URL length limit); GET for endpoints that only answer it.
            if post:
                response = self._pool.request("POST", f"{self.url}{path}", fields=params, encode_multipart=False,
                                              timeout=self.timeout)
            else:
                response = self._pool.request("GET", f"{self.url}{path}", fields=params, timeout=self.timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise PrometheusUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status >= 500:
            # 503 is also what Prometheus answers while starting up or shutting down.
            raise PrometheusUnavailable(f"{self.url}{path}: HTTP {response.status}: "
                                        f"{response.data[:200].decode(errors='replace')}")
        try:
            body = json.loads(response.data)
        except ValueError as exc:
            raise MalformedAnswer(f"{self.url}{path}: HTTP {response.status}, not JSON") from exc
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise MalformedAnswer(f"{self.url}{path}: HTTP {response.status}, not a Prometheus API answer: "
                                  f"{str(body)[:100]}")
        if body["status"] != "success":
            raise PrometheusQueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)} (query {params.get('query')!r})")
        if not isinstance(body.get("data"), dict):
            raise MalformedAnswer(f"{self.url}{path}: a success without its data object")
        return body["data"]


def _check_sample(sample: Any, numeric: bool, expr: str) -> None:
    """``[timestamp, "value"]``, the value a number in a string (``"NaN"`` and ``"+Inf"`` included)."""
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[0], (int, float))
            and isinstance(sample[1], str)):
        raise MalformedAnswer(f"a sample of {expr!r} is not [timestamp, \"value\"]: {str(sample)[:100]}")
    if numeric:
        try:
            float(sample[1])
        except ValueError:
            raise MalformedAnswer(f"a sample of {expr!r} is not a number: {sample[1][:40]!r}") from None


def _checked_series(result: Any, key: str, expr: str) -> list[dict[str, Any]]:
    """``result`` when it is a list of ``{"metric": {...}, key: ...}`` with well-formed samples."""
    if not isinstance(result, list):
        raise MalformedAnswer(f"the result of {expr!r} is not a list: {str(result)[:100]}")
    for series in result:
        if not (isinstance(series, dict) and isinstance(series.get("metric"), dict)
                and all(isinstance(v, str) for v in series["metric"].values())):
            raise MalformedAnswer(f"a series of {expr!r} has no label set: {str(series)[:100]}")
        samples = [series.get(key)] if key == "value" else series.get(key)
        if not isinstance(samples, list):
            raise MalformedAnswer(f"a series of {expr!r} has no {key!r}: {str(series)[:100]}")
        for sample in samples:
            _check_sample(sample, True, expr)
    return result
