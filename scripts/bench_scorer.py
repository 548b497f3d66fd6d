"""Scorer cost: CPU per tick and resident memory of the service, against the bare model as the floor.

Both run in fresh processes, alternating, on the same training rows and the same ticks:

- ``bare``: :meth:`Detector.step` on in-memory rows (the model alone);
- ``service``: :meth:`ScorerService.tick`, which also queries the real Prometheus for
  the five default features (recording-rule series backfilled with promtool) and
  updates every exported metric.

Prints a table and one JSON line. Shipped defaults (15 s ticks, default features and
model); the Prometheus is local, so its query latency is a floor, not a field figure.

    python -m scripts.bench_scorer [--ticks 400] [--rounds 3]
    python -m scripts.bench_scorer --quick    # 60 ticks, 1 round: a smoke run (its figures are noise)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STEP = 15.0
TRAIN_ROWS = 480  # the default bootstrap window: 2 h at 15 s


def feature_rows(count: int, start: float) -> list[tuple[float, dict[str, float]]]:
    """Steady traffic with a daily rhythm and noise, in the default features."""
    rows = []
    for i in range(count):
        t = start + i * STEP
        day = 1 + 0.3 * math.sin(2 * math.pi * t / 86400)
        jitter = ((i * 7919) % 13 - 6) / 60
        rps = 20 * day * (1 + jitter)
        ratio = 0.01 * (1 + jitter)
        rows.append((t, {"requests_per_second": rps, "errors_per_second": rps * ratio, "error_ratio": ratio,
                         "latency_p50_seconds": 0.08 * (1 + jitter / 2), "latency_p95_seconds": 0.3 * (1 + jitter)}))
    return rows


def openmetrics(rows, config) -> str:
    """The rows as the recorded series the default feature queries read (untyped samples)."""
    from vigilante.rules.recording import feature_queries

    series = {feature: query.split("{")[0] for feature, query in feature_queries(config).items()}
    labels = f'{{namespace="{config.app.namespace}",job="{config.app.job}"}}'
    body = [f"{series[feature]}{labels} {values[feature]} {t:.0f}" for feature in rows[0][1] for t, values in rows]
    return "\n".join(body) + "\n# EOF\n"


def child(mode: str, ticks: int, prometheus_url: str | None, start: float) -> dict:
    """Run one measurement in this (fresh) process; return CPU per tick and peak RSS."""
    from prometheus_client import CollectorRegistry

    from vigilante.config import Config
    from vigilante.scorer import Detector

    config = Config()
    rows = feature_rows(TRAIN_ROWS + ticks, start)
    train, live = rows[:TRAIN_ROWS], rows[TRAIN_ROWS:]
    if mode == "bare":
        detector = Detector.fit(config.scorer, train)
        cpu = time.process_time()
        for t, values in live:
            detector.step(t, values, explain=True)
        cpu = time.process_time() - cpu
    else:
        from vigilante.service.feature_source import FeatureSource
        from vigilante.prometheus.api import PrometheusAPI
        from vigilante.service.serve import feature_queries
        from vigilante.service.loop import ScorerService
        from vigilante.service.metrics import ScorerMetrics

        state = Path(tempfile.mkdtemp()) / "state.json"
        config = config.replace("scorer", state_path=str(state))
        metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
        source = FeatureSource(PrometheusAPI(prometheus_url), feature_queries(config), metrics.observe_query)
        from vigilante.service.warm_start import WarmStart

        service = ScorerService(config, source, metrics, clock=lambda: train[-1][0])
        service._adopt(WarmStart(Detector.fit(config.scorer, train), "csv"))  # same model as bare
        cpu = time.process_time()
        outcomes = [service.tick(t) for t, _ in live]
        cpu = time.process_time() - cpu
        if outcomes.count("scored") != len(live):
            raise SystemExit(f"service ticks not all scored: {sorted(set(outcomes))}")
        saves = time.process_time()
        for _ in range(10):
            service.save()
        saves = (time.process_time() - saves) / 10
        query = time.process_time()
        for t, _ in live[:50]:
            source.at(t)
        query = (time.process_time() - query) / 50
        saves_every = config.service.save_every_seconds / config.scorer.tick_seconds  # ticks between saves
        extra = {"save_ms_per_tick": 1000 * saves / saves_every, "query_ms_per_tick": 1000 * query}
    return {"mode": mode, "ticks": ticks, "cpu_ms_per_tick": 1000 * cpu / ticks,
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **(extra if mode != "bare" else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=400, help="ticks measured per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/service rounds")
    parser.add_argument("--quick", action="store_true", help="60 ticks, 1 round: a smoke run")
    parser.add_argument("--child", choices=["bare", "service"], help=argparse.SUPPRESS)
    parser.add_argument("--prometheus", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.ticks, args.rounds = 60, 1
    if args.child:
        print(json.dumps(child(args.child, args.ticks, args.prometheus, args.start)))
        return

    from vigilante.config import Config
    from scripts.harness import PrometheusServer, backfill_openmetrics

    config = Config()
    end = math.floor(time.time() / STEP) * STEP - 300
    start = end - (TRAIN_ROWS + args.ticks) * STEP
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        backfill_openmetrics(openmetrics(feature_rows(TRAIN_ROWS + args.ticks, start), config), workdir / "data", workdir)
        server = PrometheusServer(workdir, data_dir=workdir / "data",
                                  extra_args=["--storage.tsdb.retention.time=30d"]).start()
        try:
            results = {"bare": [], "service": []}
            for round_ in range(args.rounds):
                for mode in ("bare", "service"):
                    run = subprocess.run([sys.executable, "-m", "scripts.bench_scorer", "--child", mode, "--ticks",
                                          str(args.ticks), "--prometheus", server.url, "--start", str(start)],
                                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
                    if run.returncode != 0:
                        raise SystemExit(f"{mode} run failed:\n{run.stdout}{run.stderr}")
                    results[mode].append(json.loads(run.stdout.strip().splitlines()[-1]))
                    print(f"round {round_ + 1}/{args.rounds} {mode:7s} {results[mode][-1]['cpu_ms_per_tick']:.2f} ms/tick",
                          file=sys.stderr)
        finally:
            server.stop()

    summary = {}
    for mode, runs in results.items():
        summary[mode] = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key.endswith(("_tick", "_mib"))}
    ratio = summary["service"]["cpu_ms_per_tick"] / summary["bare"]["cpu_ms_per_tick"]
    rss_ratio = summary["service"]["max_rss_mib"] / summary["bare"]["max_rss_mib"]
    print(f"\nScorer cost, default features and model, {args.ticks} ticks x {args.rounds} alternating rounds (medians)")
    print(f"{'':10s} {'CPU ms/tick':>12s} {'peak RSS MiB':>13s}")
    for mode in ("bare", "service"):
        print(f"{mode:10s} {summary[mode]['cpu_ms_per_tick']:12.2f} {summary[mode]['max_rss_mib']:13.1f}")
    print(f"{'ratio':10s} {ratio:12.2f} {rss_ratio:13.2f}   (goal: CPU ratio <= 2)")
    print(f"service tick = model + one Prometheus query ({summary['service']['query_ms_per_tick']:.2f} ms) + state save "
          f"every {Config().service.save_every_seconds:g} s ({summary['service']['save_ms_per_tick']:.2f} ms/tick amortized)"
          " + metric updates")
    print(json.dumps({"benchmark": "scorer_cost", "quick": args.quick, "ticks": args.ticks, "rounds": args.rounds, **{
        f"{mode}_{key}": round(value, 3) for mode, values in summary.items() for key, value in values.items()},
        "cpu_ratio": round(ratio, 3), "rss_ratio": round(rss_ratio, 3)}))


if __name__ == "__main__":
    main()
