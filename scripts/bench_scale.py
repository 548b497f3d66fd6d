"""Scale on this machine: one Prometheus beside VictoriaMetrics (vmagent, vmalert) on the same targets.

A fake exporter serves the app's request histogram for many pods x routes (one scrape target
per pod, told apart by a ``pod`` URL parameter), counters growing at fixed rates. Prometheus
(scraping, evaluating the generated rules) and VictoriaMetrics (vmagent scraping and
remote-writing to victoria-metrics, vmalert evaluating the same rule files) run at the same
time at the shipped 15 s intervals. After ``--minutes`` of scraping, each side reports:

- series: Prometheus' head series; VictoriaMetrics' ``/api/v1/status/tsdb`` total;
- ingestion: samples appended per second over the last minute (``prometheus_tsdb_head_samples_appended_total``,
  ``vm_rows_inserted_total``), scrapes and recorded series included;
- rule evaluation: the summed evaluation time of every rule group, from each rules API;
- dashboard queries: the overview's panels (the recorded series, as the dashboard reads them)
  over the last ``--minutes`` at a 15 s step, the median of three runs, summed;
- memory: resident memory of each process (the three VictoriaMetrics programs apart and summed).

Both sides share the two cores (a benchmark, not a test): the figures compare, they do not
promise. ``--quick``: 5 pods x 5 routes for 2 minutes, a smoke run.

    python -m scripts.bench_scale              # 50 pods x 30 routes, 5 minutes
    python -m scripts.bench_scale --quick

Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from scripts.bench_query_cost import dashboard_queries
from scripts.harness import (PrometheusServer, VictoriaMetricsServer, VMAgent, VMAlert, WebhookReceiver,
                             wait_until)
from vigilante.config import Config, load_config
from vigilante.rules.recording import RecordedSeries
from vigilante.rules.render import alerting_rules_yaml, recording_rules_yaml

SCRAPE = "15s"


@dataclass(frozen=True)
class Scale:
    pods: int
    routes: int
    error_routes: int  # routes that also have status="404" and "500" series (the others only 200)
    minutes: float


FULL = Scale(pods=50, routes=30, error_routes=10, minutes=5)
QUICK = Scale(pods=5, routes=5, error_routes=2, minutes=2)


class FakeExporter:
    """Serve ``/metrics?pod=N``: the request histogram of pod N, counters growing since start."""

    def __init__(self, config: Config, scale: Scale):
        self.config, self.scale = config, scale
        self.started = time.time()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                pod = int(parse_qs(urlsplit(self.path).query).get("pod", ["0"])[0])
                body = exporter.text(pod).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeExporter":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def text(self, pod: int) -> str:
        family = RecordedSeries(self.config).histogram
        app = self.config.app
        elapsed = time.time() - self.started
        buckets = [*(f"{b:g}" for b in app.latency_buckets), "+Inf"]
        shares = [min(1.0, 0.15 * (i + 1)) for i in range(len(buckets) - 1)] + [1.0]
        lines = [f"# TYPE {family} histogram\n"]
        for route in range(self.scale.routes):
            for status in (["200", "404", "500"] if route < self.scale.error_routes else ["200"]):
                per_second = (2.0 + route % 5) * {"200": 1.0, "404": 0.05, "500": 0.02}[status] / 10
                labels = f'method="GET",status="{status}",{app.route_label}="/r/{route:02d}"'
                count = per_second * elapsed
                lines += [f'{family}_bucket{{{labels},le="{le}"}} {count * share:.3f}\n'
                          for le, share in zip(buckets, shares)]
                lines.append(f"{family}_count{{{labels}}} {count:.3f}\n")
                lines.append(f"{family}_sum{{{labels}}} {count * 0.08:.3f}\n")
        return "".join(lines)


def scrape_config(config: Config, exporter: FakeExporter, scale: Scale) -> dict[str, Any]:
    """One job, one target per pod, labelled as pod discovery labels the app's pods."""
    app = config.app
    return {"global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
            "scrape_configs": [{"job_name": app.job, "static_configs": [
                {"targets": [exporter.address],
                 "labels": {"namespace": app.namespace, "pod": f"{app.job}-{pod:02d}", "__param_pod": str(pod)}}
                for pod in range(scale.pods)]}]}


def rss_mib(pid: int | None) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def own_metric(url: str, name: str) -> float:
    total = 0.0
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{", 1)[0] == name:
            total += float(value)
    return total


def ingestion_per_second(url: str, counter: str, seconds: float = 60.0) -> float:
    """The counter's growth per second over ``seconds`` (measured, not a query: both stores alike)."""
    before, t0 = own_metric(url, counter), time.monotonic()
    time.sleep(seconds)  # measuring a rate over a fixed span, not waiting for a condition
    return (own_metric(url, counter) - before) / (time.monotonic() - t0)


def rule_seconds(groups: list[dict[str, Any]]) -> float:
    """Summed evaluation time of every group (Prometheus gives it per group, vmalert per rule)."""
    total = 0.0
    for group in groups:
        if isinstance(group.get("evaluationTime"), (int, float)):
            total += group["evaluationTime"]
        else:
            total += sum(rule.get("evaluationTime", 0.0) for rule in group["rules"])
    return total


def dashboard_seconds(url: str, config: Config, minutes: float) -> tuple[float, int]:
    """Summed median time of the overview's recorded queries over the last ``minutes``; and how many answered."""
    end = time.time() - 30
    start = end - minutes * 60
    total, answered = 0.0, 0
    for _, _, recorded in dashboard_queries(config):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            response = requests.post(f"{url}/api/v1/query_range", timeout=60,
                                     data={"query": recorded, "start": start, "end": end, "step": 15})
            times.append(time.perf_counter() - t0)
        answered += bool(response.json()["data"]["result"])
        total += statistics.median(times)
    return total, answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 pods x 5 routes for 2 minutes (a smoke run)")
    parser.add_argument("--minutes", type=float, help="minutes of scraping before measuring (default: 5, quick 2)")
    parser.add_argument("--vmalert-cached", action="store_true",
                        help="vmalert reads the store without ?nocache=1 (answers 30 s old, the store's caches on)")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    minutes = args.minutes or scale.minutes
    config = load_config(env={})
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rules = []
    for name, text in (("recording", recording_rules_yaml(config)), ("alerts", alerting_rules_yaml(config))):
        rules.append(work / f"{name}.rules.yml")
        rules[-1].write_text(text)
    exporter = FakeExporter(config, scale).start()
    notifier = WebhookReceiver().start()  # vmalert refuses alerting rules without a notifier
    started: list = []
    try:
        scrape = scrape_config(config, exporter, scale)
        prometheus = PrometheusServer(work / "prometheus", config={**scrape, "rule_files": [str(p) for p in rules]})
        started.append(prometheus.start())
        store = VictoriaMetricsServer(work / "vm")
        started.append(store.start())
        agent = VMAgent(work / "vmagent", scrape, f"{store.url}/api/v1/write")
        started.append(agent.start())
        vmalert = VMAlert(work / "vmalert", store.url, rules, notifier_url=notifier.url, evaluation_interval=SCRAPE,
                          fresh=not args.vmalert_cached)
        started.append(vmalert.start())
        deadline = time.time() + minutes * 60
        wait_until(lambda: time.time() >= deadline, minutes * 60 + 5, f"{minutes:g} minutes of scraping", interval=5)
        figures = {}
        figures["prometheus"] = {
            "series": int(own_metric(prometheus.url, "prometheus_tsdb_head_series")),
            "samples_per_second": ingestion_per_second(prometheus.url, "prometheus_tsdb_head_samples_appended_total"),
            "rule_evaluation_seconds": rule_seconds(prometheus.api.rule_groups()),
            "dashboard": dashboard_seconds(prometheus.url, config, minutes),
            "rss_mib": {"prometheus": rss_mib(prometheus.process.pid)},
        }
        store.flush()
        figures["victoriametrics"] = {
            "series": store.series_count(),
            "samples_per_second": ingestion_per_second(store.url, "vm_rows_inserted_total"),
            "rule_evaluation_seconds": rule_seconds(vmalert.rule_groups()),
            "dashboard": dashboard_seconds(store.url, config, minutes),
            "rss_mib": {name: rss_mib(p.process.pid) for name, p in
                        (("victoria-metrics", store), ("vmagent", agent), ("vmalert", vmalert))},
        }
    finally:
        for process in reversed(started):
            process.stop()
        notifier.stop()
        exporter.stop()
        shutil.rmtree(work, ignore_errors=True)

    p, v = figures["prometheus"], figures["victoriametrics"]
    print(f"scale: {scale.pods} pods x {scale.routes} routes, scraped every {SCRAPE} for {minutes:g} min, "
          f"the generated rules every {SCRAPE}; both stacks at once on this machine")
    print()
    rows = [
        ("series", f"{p['series']:,}", f"{v['series']:,}"),
        ("samples ingested per second (last minute)", f"{p['samples_per_second']:,.0f}",
         f"{v['samples_per_second']:,.0f}"),
        ("rule evaluation, every group once (ms)", f"{p['rule_evaluation_seconds'] * 1000:.1f}",
         f"{v['rule_evaluation_seconds'] * 1000:.1f}"),
        (f"overview dashboard, {len(dashboard_queries(config))} recorded queries over {minutes:g} min (ms)",
         f"{p['dashboard'][0] * 1000:.1f}", f"{v['dashboard'][0] * 1000:.1f}"),
        ("resident memory (MiB)", f"{sum(p['rss_mib'].values()):.0f}",
         f"{sum(v['rss_mib'].values()):.0f} (" + ", ".join(f"{k} {m:.0f}" for k, m in v["rss_mib"].items()) + ")"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'Prometheus':>14}  VictoriaMetrics")
    for name, left, right in rows:
        print(f"{name:{width}}  {left:>14}  {right}")
    print(json.dumps({"benchmark": "scale", "pods": scale.pods, "routes": scale.routes, "minutes": minutes,
                      "vmalert_cached": args.vmalert_cached, **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
