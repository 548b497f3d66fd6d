"""The queries that need Kubernetes (cAdvisor, kube-state-metrics), proven on synthetic series.

No cluster runs here, so a tiny exposition server stands in for the kubelet's cAdvisor endpoint and
kube-state-metrics, with known values: gauges are constants and counters grow at known rates
(computed at each scrape). The real Prometheus scrapes it every second with the generated alerting
rules loaded, and every resources panel query and every Grafana alert query (expanded as Grafana
expands them) must return those values. The scorer's panels and alerts are proven on a real
``vigilante serve`` in tests/test_dashboards_scorer_queries.py.

Kubernetes-only expressions (listed by ``KUBERNETES_ONLY``): every query of the resources dashboard and
the three saturation alerts.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vigilante.config import load_config
from vigilante.dashboards.interpolation import expand
from vigilante.rules import render
from scripts.harness import PrometheusServer, free_port, static_scrape_config, wait_until
from tests.grafana_queries import alert_queries, by_label, context, panel_queries, single

pytestmark = pytest.mark.slow

CONFIG = load_config(env={})
SCRAPE = 1.0
NS = CONFIG.app.namespace
PODS = {"ticket-app-0": {"memory": 950e6, "cpu": 0.5, "throttled": 0.5},
        "ticket-app-1": {"memory": 300e6, "cpu": 0.2, "throttled": 0.1}}
MEMORY_LIMIT = 1e9
CPU_REQUEST = 0.25
PERIODS_PER_SECOND = 10.0
HPA = {"current": 10, "desired": 12, "max": 10}
KUBERNETES_ONLY = {"resources"}, {"VigilanteContainerMemoryNearLimit", "VigilanteCPUThrottlingHigh", "VigilanteHpaMaxedOut"}


class Exposition:
    """Renders the synthetic metrics at the time of each scrape."""

    def __init__(self) -> None:
        self.t0 = time.time()

    def render(self, path: str) -> str:
        t = time.time() - self.t0
        lines: list[str] = []
        if path == "/cadvisor":
            for pod, v in PODS.items():
                labels = f'namespace="{NS}", pod="{pod}", container="app", image="registry/app:1"'
                lines += [
                    f"container_memory_working_set_bytes{{{labels}}} {v['memory']}",
                    f"container_cpu_usage_seconds_total{{{labels}}} {v['cpu'] * t}",
                    f"container_cpu_cfs_periods_total{{{labels}}} {PERIODS_PER_SECOND * t}",
                    f"container_cpu_cfs_throttled_periods_total{{{labels}}} {v['throttled'] * PERIODS_PER_SECOND * t}",
                ]
                # The pause container and the pod-level cgroup (no image) must not count.
                lines.append(f'container_memory_working_set_bytes{{namespace="{NS}", pod="{pod}", container="POD", '
                             f'image="pause"}} 1e6')
                lines.append(f'container_memory_working_set_bytes{{namespace="{NS}", pod="{pod}", container="app", '
                             f'image=""}} 5e9')
        elif path == "/ksm":
            for pod in PODS:
                labels = f'namespace="{NS}", pod="{pod}", container="app"'
                lines += [
                    f'kube_pod_container_resource_limits{{{labels}, resource="memory", unit="byte"}} {MEMORY_LIMIT}',
                    f'kube_pod_container_resource_requests{{{labels}, resource="cpu", unit="core"}} {CPU_REQUEST}',
                    f"kube_pod_container_status_ready{{{labels}}} 1",
                ]
            hpa = f'namespace="{NS}", horizontalpodautoscaler="ticket-app"'
            lines += [
                f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}} {HPA['current']}",
                f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}} {HPA['desired']}",
                f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}} {HPA['max']}",
            ]
        return "\n".join(lines) + "\n"


def serve(exposition: Exposition) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            body = exposition.render(self.path).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synthetic-queries")
    rules = tmp / "alerts.rules.yml"
    rules.write_text(render.alerting_rules_yaml(CONFIG))
    exposition = Exposition()
    server, port = serve(exposition)
    target = [f"127.0.0.1:{port}"]
    prometheus = PrometheusServer(tmp / "prometheus", rule_files=[rules], scrape_interval="1s", evaluation_interval="1s",
                                  scrape_configs=[
                                      static_scrape_config("kubelet", target, {"metrics_path": "/metrics/cadvisor"},
                                                           metrics_path="/cadvisor"),
                                      static_scrape_config("kube-state-metrics", target, metrics_path="/ksm"),
                                  ])
    try:
        prometheus.start()
        prometheus.targets_up(2)
        # Enough samples for the 5m increase of the throttling alert and the 4s rate windows.
        prometheus.wait_for("min(count_over_time(container_cpu_usage_seconds_total[1m]))",
                            lambda r: r and single(r) >= 12, 60, what="12 samples of cAdvisor")
        at = time.time()
        wait_until(lambda: time.time() > at + SCRAPE, 5, "one more second")
        yield {"prometheus": prometheus, "at": at, "exposition": exposition}
    finally:
        prometheus.stop()
        server.shutdown()


QUERIES = panel_queries(CONFIG)
APP_VARIABLES = {"namespace": NS, "job": CONFIG.app.job}


def run(synthetic, key, variables):
    """One panel query, as Grafana expands it, at the test's moment (every key a test passes here, written
    out, counts as proven: tests/grafana_queries.keys_evaluated)."""
    q = QUERIES[key]
    at = synthetic["at"]
    return synthetic["prometheus"].query(expand(q.expr, context(q, at - 300, at, SCRAPE, variables)), at)


def approx(x, rel=0.03):
    return pytest.approx(x, rel=rel)


def test_resources_panels_read_the_pods_of_the_namespace(synthetic):
    r = lambda title, ref="A": run(synthetic, ("resources", title, ref), APP_VARIABLES)  # noqa: E731
    assert by_label(r("Memory working set / limit"), "pod") == {p: approx(v["memory"] / MEMORY_LIMIT) for p, v in PODS.items()}
    assert by_label(r("Memory working set"), "pod") == {p: v["memory"] for p, v in PODS.items()}
    assert by_label(r("CPU usage per pod"), "pod") == {p: approx(v["cpu"]) for p, v in PODS.items()}
    assert by_label(r("CPU usage per pod", "B"), "pod") == {p: CPU_REQUEST for p in PODS}
    assert by_label(r("CPU throttling"), "pod") == {p: approx(v["throttled"]) for p, v in PODS.items()}
    assert [single(r("HPA replicas / maximum", ref)) for ref in "ABC"] == [HPA["current"], HPA["desired"], HPA["max"]]
    assert single(r("Ready containers")) == len(PODS)


EXPECTED_ALERTS = {
    # rule: the value its V query must show (None: must not fire here)
    "VigilanteContainerMemoryNearLimit": ({"pod": "ticket-app-0"}, PODS["ticket-app-0"]["memory"] / MEMORY_LIMIT),
    "VigilanteCPUThrottlingHigh": ({"pod": "ticket-app-0"}, PODS["ticket-app-0"]["throttled"]),
    "VigilanteHpaMaxedOut": ({"horizontalpodautoscaler": "ticket-app"}, HPA["current"]),
    "VigilanteScorerAbsent": ({"job": CONFIG.scorer.job}, 1),  # no scorer target in this test
    "VigilanteAppAbsent": ({"job": CONFIG.app.job}, 1),  # nor an app target
}


def test_grafana_alert_queries_on_synthetic_series(synthetic):
    prometheus, at = synthetic["prometheus"], synthetic["at"]
    queries = alert_queries(CONFIG)
    for title in sorted({t for t, _ in queries}):
        indicator = prometheus.query(queries[(title, "A")], at)
        value = prometheus.query(queries[(title, "V")], at)
        if title not in EXPECTED_ALERTS:
            assert indicator == [] and value == [], title
            continue
        labels, expected = EXPECTED_ALERTS[title]
        assert [float(x["value"][1]) for x in indicator] == [1.0], title
        assert indicator[0]["metric"] == value[0]["metric"], title
        assert labels.items() <= indicator[0]["metric"].items(), (title, indicator)
        assert single(value) == approx(expected, rel=0.02), title


def test_kubernetes_only_expressions_are_the_ones_proven_here():
    dashboards, alerts = KUBERNETES_ONLY
    kube = {k for k, q in QUERIES.items() if "container_" in q.expr or "kube_" in q.expr}
    assert {k[0] for k in kube} == dashboards
    kube_alerts = {t for (t, ref), e in alert_queries(CONFIG).items() if "container_" in e or "kube_" in e}
    assert kube_alerts == alerts
