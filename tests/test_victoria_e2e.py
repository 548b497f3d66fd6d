"""The add-on on VictoriaMetrics end to end, with no Prometheus server in it.

Two app instances run under gunicorn with two workers each (multiprocess metrics). Two
``vmagent`` shards (``-promscrape.cluster.membersCount=2``) scrape them, and the scorer, with
the ``prometheus.yml`` that ``vigilante prometheus-config`` writes, and remote-write to a
single-node ``victoria-metrics`` (which serves vmalert's rules API, ``-vmalert.proxyURL``); ``vmalert`` evaluates the generated recording and alerting
rule files against it, writes the recorded series back and notifies a real Alertmanager, which
posts to a local webhook. ``vigilante serve`` is given the store's URL and nothing else.

One run (about 100 s) serves every test here: 70 s of known traffic at 20 req/s in the
Prometheus rules test's pattern (10 % 500, 5 % 404, 15 % slow), split over the two instances;
then, while the same traffic goes on, the scorer warms from the store's history (ten minutes of
the recorded features imported before the traffic, at the levels it recorded), and a burst of
failing requests must fire ``VigilanteAnomalyDetected`` through vmalert and Alertmanager.
Intervals are 1 s (scrapes, evaluations, ticks), the rate windows the shipped 1m.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import random
import re
import sys
import time

import pytest
import requests
import yaml

from scripts.harness import (AlertmanagerServer, GunicornServer, ManagedProcess, VictoriaMetricsServer, VMAgent,
                             VMAlert, WebhookReceiver, free_port, wait_until, webhook_config)
from tests.fixtures.victoria import require_victoria_metrics
from tests.support import REPO_ROOT
from tests.support.metrics import scrape, value
from tests.test_rules_prometheus import DURATION, PATTERN, RATE
from tests.traffic import Sent, paced_traffic
from vigilante.config import load_config
from vigilante.prometheus.prometheus_config import (ALERTING_RULES_NAME, CONFIG_NAME, RECORDING_RULES_NAME,
                                                    write_prometheus_config)
from vigilante.rules.recording import RecordedSeries, feature_queries

pytestmark = pytest.mark.slow

ONE_SECOND = {"VIGILANTE_PROMETHEUS__SCRAPE_INTERVAL_SECONDS": "1",
              "VIGILANTE_PROMETHEUS__EVALUATION_INTERVAL_SECONDS": "1",
              "VIGILANTE_PROMETHEUS__SCORER_INTERVAL_SECONDS": "1"}
ANOMALY_ALERT = "VigilanteAnomalyDetected"
FAULT_SECONDS = 25  # the longest the failing burst lasts; it stops once the scorer says anomaly
STEADY_SECONDS = 35  # the traffic that goes on after the measured 70 s, while the scorer warms and scores
HISTORY_SECONDS = 600  # recorded features imported before the traffic: what the scorer warms from


def start_app(work, name: str) -> GunicornServer:
    multiproc = work / name / "multiproc"
    multiproc.mkdir(parents=True)
    hooks = work / name / "gunicorn.conf.py"
    hooks.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    return GunicornServer(work / name, app="tests.fixtures.known_traffic_app:create_app()", workers=2, threads=8,
                          env={"VIGILANTE_CONFIG": "", "PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
                          config_file=hooks).start()


def split_traffic(apps: list[GunicornServer], seconds: float = DURATION) -> list[Sent]:
    """The known traffic, half to each instance, at once; what the client sent and saw, in time order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(apps)) as pool:
        halves = pool.map(lambda app: paced_traffic(app.url, RATE / len(apps), seconds, PATTERN), apps)
        return sorted((s for half in halves for s in half), key=lambda s: s.done)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_victoria_metrics()
    work = tmp_path_factory.mktemp("victoria-e2e")
    config = load_config(env=ONE_SECOND)
    started: list = []
    webhook = WebhookReceiver().start()
    try:
        apps = [start_app(work, f"app-{n}") for n in range(2)]
        started += apps
        vmalert_port = free_port()
        # As the README configures it: the store serves vmalert's rules API, which the scorer's phase lock reads.
        store = VictoriaMetricsServer(work / "vm", extra_args=[f"-vmalert.proxyURL=http://127.0.0.1:{vmalert_port}"])
        store.start()
        started.append(store)
        alertmanager = AlertmanagerServer(work / "alertmanager", webhook_config(webhook.url)).start()
        started.append(alertmanager)
        scorer_port = free_port()
        write_prometheus_config(config, [a.url.split("://")[1] for a in apps], [f"127.0.0.1:{scorer_port}"],
                                work / "config")
        scrape_config = yaml.safe_load((work / "config" / CONFIG_NAME).read_text())
        agents = [VMAgent(work / f"vmagent-{n}", scrape_config, f"{store.url}/api/v1/write", members_count=2,
                          member_num=n).start() for n in range(2)]
        started += agents
        vmalert = VMAlert(work / "vmalert", store.url, [work / "config" / RECORDING_RULES_NAME,
                                                        work / "config" / ALERTING_RULES_NAME],
                          notifier_url=alertmanager.url, port=vmalert_port).start()
        started.append(vmalert)
        wait_until(lambda: sum(t["health"] == "up" for a in agents for t in a.targets()) == 2, 30,
                   "both app instances scraped")

        began = time.time()
        sent = split_traffic(apps)
        checked_at = sent[0].done + 65
        store.wait_for("max(timestamp(namespace_job:flask_http_requests:rate1m))",
                       lambda r: bool(r) and float(r[0]["value"][1]) >= checked_at, 20)
        traffic_done = time.time()

        background = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        # The same traffic goes on while the scorer warms and scores: without it, the rates would fall.
        steady = background.submit(split_traffic, apps, STEADY_SECONDS)
        import_history(store, feature_queries(config), sent[0].done - 2)
        scorer = start_scorer(work, store.url, scorer_port)
        started.append(scorer)
        scorer_url = f"http://127.0.0.1:{scorer_port}"
        scorer.wait_ready(lambda: requests.get(f"{scorer_url}/readyz", timeout=2).status_code == 200, 30,
                          "to warm from the store's history")
        warm_at = time.time()
        decision_before_fault = value(scrape(scorer_url), "vigilante_anomaly_decision")
        fault_started = time.time()
        inject_fault(apps[0], scorer_url)
        notification = wait_until(lambda: firing(webhook, ANOMALY_ALERT), 40,
                                  f"{ANOMALY_ALERT} through vmalert and Alertmanager")
        notified = time.time()
        steady.result()
        background.shutdown()
        yield {"store": store, "sent": sent, "config": config, "agents": agents, "vmalert": vmalert,
               "scorer_log": (work / "scorer.log").read_text(), "notification": notification,
               "decision_before_fault": decision_before_fault, "apps": apps,
               "timings": {"traffic_and_rules": traffic_done - began, "warm": warm_at - traffic_done,
                           "fault_to_notification": notified - fault_started, "whole_run": time.time() - began}}
    finally:
        for process in reversed(started):
            process.stop()
        webhook.stop()


def import_history(store: VictoriaMetricsServer, queries: dict[str, str], before: float) -> None:
    """Ten minutes of the recorded features up to ``before``, as if the store had held them for
    that long: each series at its value now (the traffic's steady state), 3 % noise, one sample a second."""
    rng = random.Random(28)
    lines = []
    for feature, query in queries.items():
        for series in store.query(query):
            level = float(series["value"][1])
            if not math.isfinite(level):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in series["metric"].items() if k != "__name__")
            name = series["metric"]["__name__"]
            lines += [f"{name}{{{labels}}} {level * (1 + rng.gauss(0, 0.03))!r} {int((before - i) * 1000)}\n"
                      for i in range(HISTORY_SECONDS, 0, -1)]
    store.import_prometheus("".join(lines))


def start_scorer(work, store_url: str, port: int) -> ManagedProcess:
    """`vigilante serve` reading the store, ticking every second, trained on its last 12 minutes."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **ONE_SECOND,
           "VIGILANTE_PROMETHEUS__URL": store_url,
           "VIGILANTE_SCORER__TICK_SECONDS": "1",
           # Compressed time: a hold of two 1 s ticks instead of the shipped scorer.hold_seconds.
           "VIGILANTE_SCORER__HOLD_SECONDS": "2",
           "VIGILANTE_SERVICE__BOOTSTRAP_HOURS": "0.2",
           "VIGILANTE_SCORER__LISTEN_PORT": str(port),
           "VIGILANTE_SCORER__STATE_PATH": str(work / "scorer-state.json")}
    return ManagedProcess("vigilante serve", [sys.executable, "-m", "vigilante.cli", "serve"], work / "scorer.log",
                          env=env).start()


def inject_fault(app: GunicornServer, scorer_url: str) -> None:
    """Failing requests at 40 req/s until the scorer's decision is 1 (at most FAULT_SECONDS)."""
    session = requests.Session()
    deadline = time.monotonic() + FAULT_SECONDS
    for i in range(40 * FAULT_SECONDS):
        if time.monotonic() > deadline:
            break
        session.get(f"{app.url}/fail", timeout=5)
        if i % 20 == 19:
            if value(scrape(scorer_url), "vigilante_anomaly_decision") == 1:
                return
        time.sleep(0.025)  # pacing the burst, not waiting for a condition


def firing(webhook: WebhookReceiver, alertname: str) -> dict | None:
    for item in webhook.received:
        for alert in item["body"].get("alerts", []) if isinstance(item["body"], dict) else []:
            if alert["labels"].get("alertname") == alertname and alert["status"] == "firing":
                return alert
    return None


def sample_in_traffic(stack, expr: str) -> tuple[float, float]:
    """(timestamp, value) of the one series ``expr`` returns, evaluated 65 s into the traffic."""
    at = stack["sent"][0].done + 65
    stamped = stack["store"].query(f"timestamp({expr})", at)
    result = stack["store"].query(expr, at)
    assert len(stamped) == 1 and len(result) == 1, (expr, result)
    return float(stamped[0]["value"][1]), float(result[0]["value"][1])


def sent_in_window(stack, end: float, seconds: float = 60) -> list[Sent]:
    return [s for s in stack["sent"] if end - seconds < s.done <= end]


def test_the_two_shards_scrape_every_target_once(stack):
    instances = [t["labels"]["instance"] for agent in stack["agents"] for t in agent.targets()]
    assert len(instances) == len(set(instances)) == 3  # two app instances and the scorer


def test_request_rate_matches_what_was_sent(stack):
    names = RecordedSeries(stack["config"])
    ts, recorded = sample_in_traffic(stack, names.requests("1m") + names.selector())
    expected = len(sent_in_window(stack, ts)) / 60
    assert expected == pytest.approx(RATE, rel=0.1)
    print(f"\nrate1m on VictoriaMetrics {recorded:.3f} req/s, sent {expected:.3f} req/s")
    assert recorded == pytest.approx(expected, rel=2 / 60 + 0.02)  # the Prometheus test's tolerance


def test_error_ratio_is_the_injected_share_of_5xx_and_404_is_not_an_error(stack):
    names = RecordedSeries(stack["config"])
    ts, ratio = sample_in_traffic(stack, names.error_ratio("1m") + names.selector())
    window = sent_in_window(stack, ts)
    sent_ratio = sum(s.status >= 500 for s in window) / len(window)
    assert sent_ratio == pytest.approx(0.10, abs=0.01)
    print(f"\nerror ratio on VictoriaMetrics {ratio:.4f}, sent {sent_ratio:.4f}")
    assert ratio == pytest.approx(sent_ratio, abs=0.015)
    _, client_errors = sample_in_traffic(stack, names.client_errors("1m") + names.selector())
    assert client_errors == pytest.approx(sum(s.status == 404 for s in window) / 60, rel=0.1)


def test_p95_falls_in_the_bucket_where_the_apps_own_counts_cross_95_percent(stack):
    names = RecordedSeries(stack["config"])
    ts, p95 = sample_in_traffic(stack, names.latency(0.95, "1m") + names.selector())
    counts = {float(r["metric"]["le"]): float(r["value"][1]) for r in stack["store"].query(
        f"sum by (le) (increase({names.raw_bucket()}{names.selector()}[1m]))", ts)}
    bounds = sorted(counts)
    total = counts[math.inf]
    high = next(b for b in bounds if counts[b] >= 0.95 * total)
    low = max([b for b in bounds if b < high], default=0.0)
    print(f"\np95 on VictoriaMetrics {p95:.4f} s, in the bucket ({low:g}, {high:g}]")
    assert total > 0.9 * RATE * 60 and low < p95 <= high, (p95, (low, high), counts)


def test_every_default_scorer_feature_query_returns_one_series(stack):
    at = stack["sent"][0].done + 65
    for feature, query in feature_queries(stack["config"]).items():
        assert len(stack["store"].query(query, at)) == 1, feature


def test_the_scorer_reads_the_store_warms_from_its_history_and_ticks_after_vmalerts_group(stack):
    log = stack["scorer_log"]
    assert re.search(r"store: VictoriaMetrics at \S+; its rules API lists [1-9]\d* rule group", log), log
    assert "warm from prometheus" in log, log
    # The phase of vmalert's group, read through the store; near the whole second the clock grid is kept.
    locked = re.search(r"ticking ([\d.]+) s past each multiple of 1 s: just after rule group (\S+) is evaluated", log)
    assert locked or "tick phase" not in log, log
    if locked:
        assert locked.group(2) == "vigilante.flask_http_requests.rules"
    assert stack["decision_before_fault"] == 0


def test_an_injected_fault_fires_the_anomaly_alert_through_vmalert_and_alertmanager(stack):
    alert = stack["notification"]
    assert alert["labels"]["service"] == "ticket-app" and alert["labels"]["severity"] == "warning"
    print(f"\ntimings on VictoriaMetrics: {stack['timings']}")
