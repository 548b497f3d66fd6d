"""The add-on attached to an app we did not write, end to end, as a user would attach it.

``tests.fixtures.foreign_app`` (factory, blueprint, an app hook that fails in an "outage", an
error handler that fails) runs under real gunicorn in both modes, with ``instrument()`` called
first and last: four apps side by side, each with its own configuration and job. Each is
scraped by its own real Prometheus started from what ``vigilante prometheus-config`` wrote, and
the recorded rate, error ratio and p95 must match what the client sent and saw.
"""

from __future__ import annotations

import concurrent.futures

import pytest
import requests

from vigilante.config import load_config
from vigilante.rules.recording import RecordedSeries
from scripts.harness import GunicornServer, PrometheusServer
from tests.support.metrics import samples, scrape, total
from tests.traffic import paced_traffic
from tests.user_commands import prometheus_config

pytestmark = pytest.mark.slow

VARIANTS = [f"{mode}-{order}" for mode in ("threads", "processes") for order in ("first", "last")]
RATE = 8  # requests per second, per app
DURATION = 70  # seconds: more than the 1m window
PATTERN = [  # per 20 requests: 4 x 5xx (20 %: 2 from the failing hook, 2 unhandled), 3 slow (15 %)
    "/shop/items/1", "/shop/items/2?db=down", "POST /shop/orders", "/shop/items/3", "/shop/slow",
    "/shop/fail", "/shop/items/4?basket=x", "/shop/missing", "/shop/items/5", "/shop/gone",
    "/shop/items/6", "POST /shop/orders?db=down", "/shop/slow", "/shop/items/7", "/shop/items/8",
    "/shop/items/9", "/shop/slow", "/shop/items/10", "/shop/items/11", "BREW /shop/items/12",
]
SLOW_SECONDS = 0.3  # the /shop/slow default


def config_text(variant: str) -> str:
    return ("app:\n"
            f"  job: foreign-{variant}\n"
            "  namespace: foreign\n"
            "prometheus:\n"
            "  scrape_interval_seconds: 1\n"
            "  evaluation_interval_seconds: 1\n")


def start_app(work, variant: str, config_path) -> GunicornServer:
    mode, order = variant.split("-")
    env = {"VIGILANTE_CONFIG": str(config_path), "VIGILANTE_INSTRUMENT_AT": order}
    config_file = None
    workers, threads = 1, 8
    if mode == "processes":
        workers, threads = 2, 2
        multiproc = work / "multiproc"
        multiproc.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        config_file = work / "gunicorn.conf.py"
        config_file.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    return GunicornServer(work / "app", app="tests.fixtures.foreign_app:create_app()", workers=workers,
                          threads=threads, env=env, config_file=config_file).start()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    running = []
    try:
        stacks = {}
        for variant in VARIANTS:
            work = tmp_path_factory.mktemp(variant)
            config_path = work / "vigilante.yaml"
            config_path.write_text(config_text(variant))
            app = start_app(work, variant, config_path)
            running.append(app)
            out = work / "prometheus-config"
            # The command a user runs, as a user runs it.
            config_file = prometheus_config(config_path, app.url, out)
            prometheus = PrometheusServer(work / "prometheus", config_file=config_file).start()
            running.append(prometheus)
            stacks[variant] = {"app": app, "prometheus": prometheus, "config": load_config(config_path, env={})}
        for stack in stacks.values():
            stack["prometheus"].targets_up(1)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            futures = {v: pool.submit(paced_traffic, s["app"].url, RATE, DURATION, PATTERN) for v, s in stacks.items()}
            for variant, future in futures.items():
                stacks[variant]["sent"] = future.result()
        for stack in stacks.values():
            stack["at"] = stack["sent"][0].done + 65
            stack["prometheus"].wait_for("max(timestamp(namespace_job:flask_http_requests:rate1m))",
                                         lambda r, at=stack["at"]: bool(r) and float(r[0]["value"][1]) >= at, 30)
        yield stacks
    finally:
        for process in reversed(running):
            process.stop()


def recorded(stack, expr: str) -> tuple[float, float]:
    """(timestamp, value) of the one series ``expr`` returns, 65 s into the traffic."""
    prometheus = stack["prometheus"]
    stamp = prometheus.query(f"timestamp({expr})", stack["at"])
    value = prometheus.query(expr, stack["at"])
    assert len(stamp) == 1 and len(value) == 1, (expr, value)
    return float(stamp[0]["value"][1]), float(value[0]["value"][1])


def sent_before(stack, end: float, seconds: float = 60):
    return [s for s in stack["sent"] if end - seconds < s.done <= end]


@pytest.mark.parametrize("variant", VARIANTS)
def test_recorded_rate_matches_what_was_sent(stacks, variant):
    stack = stacks[variant]
    names = RecordedSeries(stack["config"])
    ts, rate = recorded(stack, names.requests("1m") + names.selector())
    expected = len(sent_before(stack, ts)) / 60
    print(f"{variant}: rate recorded {rate:.3f}/s, sent {expected:.3f}/s")
    assert expected == pytest.approx(RATE, rel=0.1)
    # rate() extrapolates to the window's edges from 1 s scrapes: allow two scrapes' worth.
    assert rate == pytest.approx(expected, rel=2 / 60 + 0.02)


@pytest.mark.parametrize("variant", VARIANTS)
def test_recorded_error_ratio_counts_the_failing_hook_and_handler(stacks, variant):
    stack = stacks[variant]
    names = RecordedSeries(stack["config"])
    ts, ratio = recorded(stack, names.error_ratio("1m") + names.selector())
    window = sent_before(stack, ts)
    sent_ratio = sum(s.status >= 500 for s in window) / len(window)
    print(f"{variant}: error ratio recorded {ratio:.4f}, sent {sent_ratio:.4f}")
    assert sent_ratio == pytest.approx(0.20, abs=0.02)
    assert ratio == pytest.approx(sent_ratio, abs=0.015)


@pytest.mark.parametrize("variant", VARIANTS)
def test_recorded_p95_is_in_the_bucket_of_the_slow_requests(stacks, variant):
    # 15 % of requests sleep 0.3 s on the server and the rest answer in milliseconds, so the
    # 95th percentile is a slow request whatever the load: the server-side fact, not a
    # client-side timing, decides the bucket.
    stack = stacks[variant]
    names = RecordedSeries(stack["config"])
    _, p95 = recorded(stack, names.latency(0.95, "1m") + names.selector())
    bounds = list(stack["config"].app.latency_buckets)
    high = min(b for b in bounds if b >= SLOW_SECONDS)
    low = max(b for b in bounds if b < SLOW_SECONDS)
    print(f"{variant}: p95 recorded {p95:.3f} s, slow requests sleep {SLOW_SECONDS} s")
    assert low < p95 <= high


@pytest.mark.parametrize("variant", VARIANTS)
def test_counter_and_histogram_hold_every_request_sent(stacks, variant):
    stack = stacks[variant]
    job = stack["config"].app.job
    text = scrape(stack['app'].url, timeout=10)
    counted = total(text, "flask_http_request_total")
    histogram = total(text, "flask_http_request_duration_seconds_count")
    methods = {s.labels["method"] for s in samples(text) if s.name == "flask_http_request_total"}
    sent = len(stack["sent"])
    print(f"{variant} ({job}): sent {sent}, counter {counted:g}, histogram {histogram:g}")
    # The start-up probes went to /healthz, which is not measured.
    assert counted == histogram == sent
    assert methods == {"GET", "POST", "other"}
