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

Each call has a deadline (``timeout``, across connecting, every read and every retry) and
each answer a size cap: a server that drip-feeds its answer or sends without end costs a
caller at most ``timeout`` seconds and a few MiB, never a stalled scorer or its memory.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

MIB = 2**20

MAX_ANSWER_BYTES = 4 * MIB
"""Cap of an instant query's answer. A tick's answer is one short series per feature
(hundreds of bytes): 4 MiB is thousands of times that, and parsing it stays far below the
scorer's 512 MiB memory limit."""

MAX_RANGE_ANSWER_BYTES = 32 * MIB
"""Cap of a range query's (and the rules API's) answer. A bootstrap chunk is at most 11,000
points a feature, about 0.5 MiB of JSON each, so 32 MiB holds dozens of features; parsed,
such an answer takes a few times its size in Python objects, still well inside 512 MiB."""

MAX_TIMESTAMP = 253402300799.0
"""9999-12-31T23:59:59Z, the last time RFC 3339 can write: a sample after it (or before
1970, or not finite) is not from a real store."""

FRESH = {"nocache": "1"}
"""Sent with every query: VictoriaMetrics otherwise answers a query near now from its data of
``-search.latencyOffset`` earlier (30 s by default) stamped now, and a tick would score stale
features. Prometheus, Thanos and Mimir ignore the parameter."""

_CHUNK_BYTES = 65536
_WATCH_POLL_SECONDS = 0.2
"""How often requests in flight are checked against their deadline and their cancel event."""


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


class _Request:
    """One HTTP request in flight: its deadline, the event that cancels it, and its socket
    once connected, so that :class:`_Watchdog` can cut it."""

    def __init__(self, deadline: float, cancel: threading.Event | None):
        self.deadline = deadline
        self.cancel = cancel
        self.sock: socket.socket | None = None
        self.cut_because = ""  # "deadline" or "stopping" once cut

    def check(self, now: float) -> None:
        """Cut the connection if the deadline passed or the request was cancelled."""
        if self.cut_because:
            return
        if self.cancel is not None and self.cancel.is_set():
            self.cut_because = "stopping"
        elif now >= self.deadline:
            self.cut_because = "deadline"
        else:
            return
        self.cut()

    def cut(self) -> None:
        sock = self.sock
        if sock is not None:
            try:
                # Unblocks a read in progress in another thread: it sees the end of the stream.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Watchdog:
    """One thread that cuts the connection of every request past its deadline or cancelled.

    Socket timeouts alone bound each read, not a whole answer: a server that sends a byte
    every half second (headers included) would hold a read for hours. The thread only wakes
    while a request is in flight.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._watched: set[_Request] = set()
        self._thread: threading.Thread | None = None

    def watch(self, request: _Request) -> None:
        with self._changed:
            self._watched.add(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="prometheus-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

    def unwatch(self, request: _Request) -> None:
        with self._changed:
            self._watched.discard(request)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._watched:
                    self._changed.wait()
                self._changed.wait(_WATCH_POLL_SECONDS)
                watched = list(self._watched)
            now = time.monotonic()
            for request in watched:
                request.check(now)


_WATCHDOG = _Watchdog()
_IN_FLIGHT = threading.local()  # .request: the _Request this thread is sending, for the connection to fill in


class _WatchedConnection:
    """Tells the request in flight its socket once the request is sent, before waiting for
    the answer's headers (which a server can drip-feed as well as its body)."""

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        request = getattr(_IN_FLIGHT, "request", None)
        if request is not None:
            request.sock = self.sock  # type: ignore[attr-defined]
            if request.cut_because:
                request.cut()
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PrometheusAPI:
    """Query one Prometheus server.

    ``timeout`` is the deadline of each call, retries included: no call takes longer, however
    slowly the server answers. ``retries`` extra attempts are made on
    :class:`PrometheusUnavailable` while the deadline allows, waiting ``backoff * 2**attempt``
    seconds in between; query errors and malformed answers are never retried. An answer
    larger than ``max_answer_bytes`` (instant queries) or ``max_range_answer_bytes`` (range
    queries, the rules API) is refused unread. Setting ``cancel`` cuts the requests in flight
    and refuses new ones (a service shutting down).
    """

    def __init__(self, url: str, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5,
                 max_answer_bytes: int = MAX_ANSWER_BYTES, max_range_answer_bytes: int = MAX_RANGE_ANSWER_BYTES,
                 cancel: threading.Event | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_answer_bytes = max_answer_bytes
        self.max_range_answer_bytes = max_range_answer_bytes
        self.cancel = cancel
        self._pool, self._target = self._pool_for(self.url)

    @staticmethod
    def _pool_for(url: str) -> tuple[urllib3.PoolManager | urllib3.HTTPConnectionPool, str]:
        """Kept-alive connections, with the proxy and CA settings of the environment read once,
        and what a request names before its path (the URL's own path; the whole URL through a proxy).

        urllib3 rather than requests' session: a tick's query cost half the CPU of the
        scorer's model through requests (its per-call request preparation), 0.19 ms
        instead of 0.41 ms here (scripts/bench_scorer.py measures the whole tick). Without a
        proxy, the one server's pool itself rather than a manager that looks it up per call.
        """
        proxy = requests.utils.get_environ_proxies(url).get(urlsplit(url).scheme)  # honours NO_PROXY
        ca_file = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        options: dict[str, Any] = {"retries": False, **({"ca_certs": ca_file} if ca_file else {})}
        manager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        if proxy:
            return manager, url
        return manager.connection_from_url(url), urlsplit(url).path

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
        params: dict[str, Any] = {"query": expr, **FRESH}
        if time is not None:
            params["time"] = time
        return self._get("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query; returns the matrix ``result`` list."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step, **FRESH},
                         cap=self.max_range_answer_bytes)
        if data.get("resultType") != "matrix":
            raise MalformedAnswer(f"{self.url}: expected a matrix from {expr!r}, got resultType {data.get('resultType')!r}")
        return _checked_series(data.get("result"), "values", expr)

    def query_stats(self, expr: str, start: float, end: float, step: float) -> QueryStats:
        """The samples a range query touches (``stats=all``), to compare query costs."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step, "stats": "all"},
                         cap=self.max_range_answer_bytes)
        samples = data.get("stats", {}).get("samples", {}) if isinstance(data.get("stats"), dict) else None
        counts = [samples.get(key, 0) for key in ("totalQueryableSamples", "peakSamples")] \
            if isinstance(samples, dict) else None
        if counts is None or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise MalformedAnswer(f"{self.url}: no sample counts in the stats of {expr!r}")
        return QueryStats(*counts)

    def scalar(self, expr: str, time: float | None = None) -> float | None:
        """The value of a query expected to return at most one series; None when empty."""
        result = self.query(expr, time)
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusQueryError(f"expected at most one series from {expr!r}, got {len(result)}")
        try:
            return float(result[0]["value"][1])
        except ValueError:
            raise PrometheusQueryError(f"expected a number from {expr!r}, got a string") from None

    def rule_groups(self) -> list[dict[str, Any]]:
        """The recording rule groups Prometheus evaluates (``/api/v1/rules?type=record``)."""
        # Rule groups list every rule with its query text: large installations answer megabytes.
        data = self._get("/api/v1/rules", {"type": "record"}, post=False, cap=self.max_range_answer_bytes)
        groups = data.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise MalformedAnswer(f"{self.url}/api/v1/rules: no list of groups")
        for group in groups:
            rules = group.get("rules")
            if not (isinstance(rules, list) and all(isinstance(r, dict) for r in rules)):
                raise MalformedAnswer(f"{self.url}/api/v1/rules: a group whose rules are not a list of rules: "
                                      f"{str(group)[:100]}")
        return groups

    def text(self, path: str, cap: int = 65536) -> tuple[int, str]:
        """The status and text of a plain GET of ``path`` (``/-/ready``, ``/metrics``), at most ``cap`` bytes."""
        status, body = self._fetch("GET", path, {}, time.monotonic() + self.timeout, cap)
        return status, body.decode(errors="replace")

    def build_info(self) -> dict[str, Any]:
        """``/api/v1/status/buildinfo``'s data (Prometheus: ``version``, ``revision``...; may be empty)."""
        return self._get("/api/v1/status/buildinfo", {}, post=False)

    def ready(self) -> bool:
        """True when the server answers its readiness endpoint."""
        try:
            status, _ = self._fetch("GET", "/-/ready", {}, time.monotonic() + self.timeout, 65536)
        except PrometheusUnavailable:
            return False
        return status == 200

    def _get(self, path: str, params: dict[str, Any], post: bool = True, cap: int | None = None) -> Any:
        deadline = time.monotonic() + self.timeout
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(path, params, post, deadline, cap)
            except MalformedAnswer:
                raise  # it answered: asking again at once gets the same answer; the next tick asks again
            except PrometheusUnavailable:
                pause = self.backoff * 2**attempt
                if attempt == self.retries or time.monotonic() + pause >= deadline or self._stopping():
                    raise
                if self.cancel is not None and self.cancel.wait(pause):
                    raise
                if self.cancel is None:
                    time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stopping(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _get_once(self, path: str, params: dict[str, Any], post: bool = True, deadline: float | None = None,
                  cap: int | None = None) -> Any:
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        # POST: long queries go in the body (no URL length limit); GET for endpoints that only answer it.
        status, data = self._fetch("POST" if post else "GET", path, params, deadline,
                                   self.max_answer_bytes if cap is None else cap)
        if status >= 500:
            # 503 is also what Prometheus answers while starting up or shutting down.
            raise PrometheusUnavailable(f"{self.url}{path}: HTTP {status}: {data[:200].decode(errors='replace')}")
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
            raise MalformedAnswer(f"{self.url}{path}: HTTP {status}, not JSON") from exc
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise MalformedAnswer(f"{self.url}{path}: HTTP {status}, not a Prometheus API answer: "
                                  f"{str(body)[:100]}")
        if body["status"] != "success":
            raise PrometheusQueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)} (query {params.get('query')!r})")
        if not isinstance(body.get("data"), dict):
            raise MalformedAnswer(f"{self.url}{path}: a success without its data object")
        return body["data"]

    def _fetch(self, method: str, path: str, params: dict[str, Any], deadline: float, cap: int) -> tuple[int, bytes]:
        """The status and body of one HTTP request that must end by ``deadline`` (monotonic
        clock) with at most ``cap`` bytes of body."""
        if self._stopping():
            raise PrometheusUnavailable(f"{self.url}{path}: not asked: stopping")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._abandoned(path, "deadline")
        request = _Request(deadline, self.cancel)
        _IN_FLIGHT.request = request
        _WATCHDOG.watch(request)
        try:
            # Socket timeouts too: a silent server is noticed by the read itself.
            timeout = urllib3.Timeout(connect=remaining, read=remaining)
            options: dict[str, Any] = {"encode_multipart": False} if method == "POST" else {}
            response = self._pool.request(method, f"{self._target}{path}", fields=params, timeout=timeout,
                                          preload_content=False, **options)
            try:
                body = self._read_body(response, path, request, cap)
            finally:
                response.release_conn()
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            if request.cut_because:
                raise self._abandoned(path, request.cut_because) from None
            raise PrometheusUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        finally:
            _WATCHDOG.unwatch(request)
            _IN_FLIGHT.request = None
        return response.status, body

    def _read_body(self, response: Any, path: str, request: _Request, cap: int) -> bytes:
        """The body read in chunks, refused as soon as it passes ``cap`` or the request is cut."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            response.close()  # not read: the connection cannot be reused
            raise self._too_large(path, cap)
        body = bytearray()  # grown chunk by chunk: a drip is noticed between chunks, a flood at the cap
        try:
            while chunk := response.read1(_CHUNK_BYTES):
                body += chunk
                if len(body) > cap:
                    raise self._too_large(path, cap)
                request.check(time.monotonic())
                if request.cut_because:
                    break
        except PrometheusUnavailable:
            response.close()
            raise
        if request.cut_because:
            response.close()
            raise self._abandoned(path, request.cut_because)
        return bytes(body)

    def _abandoned(self, path: str, because: str) -> PrometheusUnavailable:
        if because == "stopping":
            return PrometheusUnavailable(f"{self.url}{path}: abandoned: stopping")
        return PrometheusUnavailable(f"{self.url}{path}: no complete answer within {self.timeout:g} s "
                                     f"(the query deadline, prometheus.query_timeout_seconds)")

    def _too_large(self, path: str, cap: int) -> PrometheusUnavailable:
        knob = "max_answer_mib" if path == "/api/v1/query" else "max_range_answer_mib"
        return PrometheusUnavailable(f"{self.url}{path}: answer larger than the {cap / MIB:g} MiB cap "
                                     f"(prometheus.{knob}); narrow the query or raise the cap")


def _check_sample(sample: Any, numeric: bool, expr: str) -> None:
    """``[timestamp, "value"]``, the value a number in a string (``"NaN"`` and ``"+Inf"`` included),
    the timestamp a finite number of seconds between 1970 and the year 9999.

    >>> _check_sample([1700000000.5, "NaN"], True, "up")
    >>> _check_sample([float("inf"), "1"], True, "up")
    Traceback (most recent call last):
    ...
    vigilante.prometheus.api.MalformedAnswer: a sample of 'up' has no time: inf
    """
    if not (isinstance(sample, list) and len(sample) == 2 and isinstance(sample[0], (int, float))
            and not isinstance(sample[0], bool) and isinstance(sample[1], str)):
        raise MalformedAnswer(f"a sample of {expr!r} is not [timestamp, \"value\"]: {str(sample)[:100]}")
    if not 0 <= sample[0] <= MAX_TIMESTAMP:  # false for NaN and ±Inf too
        raise MalformedAnswer(f"a sample of {expr!r} has no time: {str(sample[0])[:40]}")
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
