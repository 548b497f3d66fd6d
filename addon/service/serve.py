"""The scorer service and its training recorder (``vigilante serve``, ``vigilante collect``)."""

from __future__ import annotations

import csv
import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigilante.config import Config, spoken_duration
from vigilante.errors import UserError
from vigilante.output_files import atomic_open, check_target
from vigilante.prometheus.api import PrometheusAPI, PrometheusError
from vigilante.prometheus.store import identify_store
from vigilante.rules.recording import feature_queries as default_queries
from vigilante.service.feature_source import FeatureSource
from vigilante.service.http import HttpServer, endpoints
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.phase import RulePhase, rule_phase
from vigilante.service.setup_check import run_checks

log = logging.getLogger("vigilante")


def feature_queries(config: Config) -> dict[str, str]:
    """PromQL for each configured feature: ``service.queries``, else the recording-rule default."""
    known = {**default_queries(config), **config.service.queries}
    missing = [f for f in config.scorer.features if f not in known]
    if missing:
        raise UserError(f"no query for feature(s) {', '.join(missing)}: add them under service.queries "
                        f"(features with a default query: {', '.join(sorted(default_queries(config)))})")
    return {f: known[f] for f in config.scorer.features}


def prometheus_api(config: Config, cancel: threading.Event | None = None, retries: int = 2) -> PrometheusAPI:
    """The client of ``prometheus.url``: its deadline is the query timeout, cut to 80 % of a tick
    so that a slow answer never runs into the next tick; ``cancel`` abandons its requests.

    >>> prometheus_api(Config()).timeout, prometheus_api(Config().replace("scorer", tick_seconds=1)).timeout
    (10.0, 0.8)
    """
    p = config.prometheus
    return PrometheusAPI(p.url, timeout=min(p.query_timeout_seconds, 0.8 * config.scorer.tick_seconds),
                         retries=retries, max_answer_bytes=int(p.max_answer_mib * 2**20),
                         max_range_answer_bytes=int(p.max_range_answer_mib * 2**20), cancel=cancel)


def feature_source(config: Config, observe=None, cancel: threading.Event | None = None) -> FeatureSource:
    """The scorer's features read from ``prometheus.url``; ``observe`` sees each query's outcome."""
    return FeatureSource(prometheus_api(config, cancel), feature_queries(config), observe)


# --- serve ---------------------------------------------------------------------------


def serve(config: Config, port: int | None, started: float) -> int:
    """Score and serve until SIGTERM or SIGINT; the state file is checked and locked by the caller."""
    registry = CollectorRegistry()
    metrics = ScorerMetrics(registry, config.scorer.features)
    stop = threading.Event()  # set by SIGTERM/SIGINT: also abandons the Prometheus request in flight
    source = feature_source(config, metrics.observe_query, stop)
    tick = config.scorer.tick_seconds

    def phase() -> RulePhase | None:
        return rule_phase(source.api.rule_groups(), list(source.queries.values()), tick)

    service = ScorerService(config, source, metrics, phase=phase)

    def alive() -> bool:
        # Ticking: the last tick began within three intervals (or we are still starting).
        return time.time() - (service.last_attempt or started) < 3 * tick + 30

    def ready() -> tuple[bool, str]:
        if not service.warm:
            return False, "model not warm yet (see the log for why)"
        if not service.prometheus_ok and service.last_attempt:
            return False, f"last tick could not read Prometheus at {config.prometheus.url}"
        return True, f"warm from {service.warm_source}"

    port = port if port is not None else config.scorer.listen_port
    try:
        server = HttpServer(endpoints(registry, alive, ready), config.service.listen_address, port).start()
    except OSError as exc:
        raise UserError(f"cannot listen on {config.service.listen_address}:{port}: {exc.strerror}") from None
    log.info("serving /metrics, /healthz, /readyz on %s:%d; querying %s every %gs", config.service.listen_address,
             server.port, config.prometheus.url, tick)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    _log_setup_check(config, stop)
    service.start()
    try:
        service.run(stop)
    finally:
        server.stop()
    log.info("stopped")
    return 0


def _log_setup_check(config: Config, stop: threading.Event | None = None) -> None:
    """The checks of ``vigilante check``, once at start-up: each failure is a warning, never fatal."""
    api = prometheus_api(config, stop, retries=0)
    try:
        store = identify_store(api)
        if store:
            log.info("store: %s at %s; %s", store, config.prometheus.url, store.rules_note)
        findings = run_checks(config, api)
    except Exception as exc:  # noqa: BLE001 - advice at start-up must never keep the scorer from scoring
        log.warning("start-up check could not run: %s: %s", type(exc).__name__, exc)
        return
    for finding in findings:
        if not finding.ok:
            log.warning("start-up check: %s: %s", finding.check, finding.message)


# --- collect -------------------------------------------------------------------------


def collect_live(config: Config, source: FeatureSource, out: Path, duration: float) -> int:
    step = config.scorer.tick_seconds
    total = max(1, round(duration / step))
    next_tick = math.floor(time.time() / step) * step + step
    written = gaps = 0
    stop = threading.Event()
    check_target(out)  # before the first tick, not after an hour of them
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Each row is flushed to the temporary file as it is read; Ctrl-C and SIGTERM end the
    # collection normally, so the file is put in place with what was read so far.
    with atomic_open(out) as fh:
        writer = csv_writer(fh, source.queries)
        try:
            while written < total and not stop.wait(max(0.0, next_tick - time.time())):
                try:
                    row = source.at(next_tick)
                except PrometheusError as exc:
                    print(f"\ntick {next_tick:.0f}: {exc}", file=sys.stderr)
                    row = None
                if row is not None:
                    writer.writerow(csv_row(row))
                    fh.flush()
                    written += 1
                    gaps += not row.complete
                _progress(written, total, gaps, step)
                next_tick += step
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
    print(f"\nwrote {written} rows ({gaps} with gaps) to {out}", file=sys.stderr)
    return 0 if written else 1


def csv_writer(fh, features):
    """A writer of the backtest input format, its header written: ``timestamp``, then ``features``."""
    writer = csv.writer(fh)
    writer.writerow(["timestamp", *features])
    return writer


def csv_row(row) -> list[str]:
    """One :class:`~vigilante.service.feature_source.FeatureRow` as a CSV row; an empty cell for a missing value."""
    stamp = f"{row.timestamp:.3f}".rstrip("0").rstrip(".")  # whole seconds at shipped ticks
    return [stamp, *("" if v is None else repr(v) for v in row.values.values())]


def _progress(done: int, total: int, gaps: int, step: float) -> None:
    width = 30
    filled = int(width * done / total)
    left = (total - done) * step
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows, {gaps} with gaps, "
          f"{spoken_duration(left)} left", end="", file=sys.stderr, flush=True)


MAX_DURATION_SECONDS = 365 * 86400.0
"""Longest ``collect`` duration or history: longer is a typo (or ``inf``), not a plan."""


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``2h``, ``1d`` (or a plain number of seconds).

    >>> parse_duration("2h"), parse_duration("90s"), parse_duration("45")
    (7200.0, 90.0, 45.0)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    try:
        if text[-1:] in units:
            value = float(text[:-1]) * units[text[-1]]
        else:
            value = float(text)
    except ValueError:
        raise UserError(f"{text!r} is not a duration (e.g. 90s, 30m, 2h)") from None
    if not 0 < value <= MAX_DURATION_SECONDS:  # false for NaN too
        raise UserError(f"duration {text!r} must be positive and at most a year (365d)")
    return value
