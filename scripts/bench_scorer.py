"""Scorer cost: CPU per tick and resident memory of the service, against the bare model as the floor.

Both run on the same training rows and the same ticks:

- ``bare``: :meth:`Detector.step` on in-memory rows (the model alone);
- ``service``: :meth:`ScorerService.tick`, which also queries the real Prometheus for
  the five default features (recording-rule series backfilled with promtool), updates
  every exported metric and saves the state on its schedule.

CPU is measured side by side in one process, a bare step and a service tick in turn, so
that the machine's changing speed falls on both alike (five rounds of fresh processes run
one after the other gave ratios from 1.8 to 2.9 here, for the same code). Memory is each
one's peak in a fresh process of its own.

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
    """Run one measurement in this (fresh) process.

    ``bare`` and ``service`` report CPU per tick and peak RSS of that one alone;
    ``side_by_side`` reports both CPU figures, taken a tick of each in turn.
    """
    from vigilante.config import Config
    from vigilante.scorer import Detector

    config = Config()
    rows = feature_rows(TRAIN_ROWS + ticks, start)
    train, live = rows[:TRAIN_ROWS], rows[TRAIN_ROWS:]
    bare = Detector.fit(config.scorer, train) if mode != "service" else None
    service, source = _service(config, train, prometheus_url) if mode != "bare" else (None, None)
    cpu = {"bare": 0.0, "service": 0.0}
    outcomes = []
    for t, values in live:
        if bare is not None:
            started = time.process_time()
            bare.step(t, values, explain=True)
            cpu["bare"] += time.process_time() - started
        if service is not None:
            started = time.process_time()
            outcomes.append(service.tick(t))
            cpu["service"] += time.process_time() - started
    if service is not None and outcomes.count("scored") != len(live):
        raise SystemExit(f"service ticks not all scored: {sorted(set(outcomes))}")
    result: dict = {"mode": mode, "ticks": ticks}
    if mode == "side_by_side":
        return {**result, **{f"{name}_cpu_ms_per_tick": 1000 * seconds / ticks for name, seconds in cpu.items()}}
    result.update(cpu_ms_per_tick=1000 * cpu[mode] / ticks,
                  max_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if mode == "service":
        saves = time.process_time()
        for _ in range(10):
            service.save()
        saves = (time.process_time() - saves) / 10
        query = time.process_time()
        for t, _ in live[:50]:
            source.at(t)
        query = (time.process_time() - query) / 50
        saves_every = config.service.save_every_seconds / config.scorer.tick_seconds  # ticks between saves
        result.update(save_ms_per_tick=1000 * saves / saves_every, query_ms_per_tick=1000 * query)
    return result


def _service(config, train, prometheus_url: str):
    """A scorer service warmed on ``train`` (the same model as the bare one) that reads ``prometheus_url``."""
    from prometheus_client import CollectorRegistry

    from vigilante.prometheus.api import PrometheusAPI
    from vigilante.scorer import Detector
    from vigilante.service.feature_source import FeatureSource
    from vigilante.service.loop import ScorerService
    from vigilante.service.metrics import ScorerMetrics
    from vigilante.service.serve import feature_queries
    from vigilante.service.warm_start import WarmStart

    state = Path(tempfile.mkdtemp()) / "state.json"
    config = config.replace("scorer", state_path=str(state))
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    source = FeatureSource(PrometheusAPI(prometheus_url), feature_queries(config), metrics.observe_query)
    service = ScorerService(config, source, metrics, clock=lambda: train[-1][0])
    service._adopt(WarmStart(Detector.fit(config.scorer, train), "csv"))
    return service, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=400, help="ticks measured per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each side by side, then bare and service alone")
    parser.add_argument("--quick", action="store_true", help="60 ticks, 1 round: a smoke run")
    parser.add_argument("--child", choices=["bare", "service", "side_by_side"], help=argparse.SUPPRESS)
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
            results: dict[str, list[dict]] = {"side_by_side": [], "bare": [], "service": []}
            for round_ in range(args.rounds):
                for mode in results:
                    run = subprocess.run([sys.executable, "-m", "scripts.bench_scorer", "--child", mode, "--ticks",
                                          str(args.ticks), "--prometheus", server.url, "--start", str(start)],
                                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
                    if run.returncode != 0:
                        raise SystemExit(f"{mode} run failed:\n{run.stdout}{run.stderr}")
                    results[mode].append(json.loads(run.stdout.strip().splitlines()[-1]))
                side = results["side_by_side"][-1]
                print(f"round {round_ + 1}/{args.rounds}: side by side {side['bare_cpu_ms_per_tick']:.2f} and "
                      f"{side['service_cpu_ms_per_tick']:.2f} ms/tick; alone {results['bare'][-1]['cpu_ms_per_tick']:.2f} "
                      f"and {results['service'][-1]['cpu_ms_per_tick']:.2f}", file=sys.stderr)
        finally:
            server.stop()

    def median(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in results[mode])

    cpu = {mode: median("side_by_side", f"{mode}_cpu_ms_per_tick") for mode in ("bare", "service")}
    rss = {mode: median(mode, "max_rss_mib") for mode in ("bare", "service")}
    alone = {mode: median(mode, "cpu_ms_per_tick") for mode in ("bare", "service")}
    ratio, rss_ratio = cpu["service"] / cpu["bare"], rss["service"] / rss["bare"]
    round_ratios = [run["service_cpu_ms_per_tick"] / run["bare_cpu_ms_per_tick"] for run in results["side_by_side"]]
    query, save = median("service", "query_ms_per_tick"), median("service", "save_ms_per_tick")
    print(f"\nScorer cost, default features and model, {args.ticks} ticks x {args.rounds} rounds (medians)")
    print(f"{'':10s} {'CPU ms/tick':>12s} {'peak RSS MiB':>13s}")
    for mode in ("bare", "service"):
        print(f"{mode:10s} {cpu[mode]:12.2f} {rss[mode]:13.1f}")
    print(f"{'ratio':10s} {ratio:12.2f} {rss_ratio:13.2f}   (goal: CPU ratio <= 2; "
          f"rounds {min(round_ratios):.2f} to {max(round_ratios):.2f})")
    print(f"alone, in fresh processes one after the other: {alone['bare']:.2f} and {alone['service']:.2f} ms/tick, "
          f"ratio {alone['service'] / alone['bare']:.2f} (a bare model stepping without pause keeps its trees in the "
          "CPU's caches)")
    print(f"service tick = model + one Prometheus query ({query:.2f} ms) + state save every "
          f"{Config().service.save_every_seconds:g} s ({save:.2f} ms/tick amortized) + metric updates")
    print(json.dumps({"benchmark": "scorer_cost", "quick": args.quick, "ticks": args.ticks, "rounds": args.rounds,
                      **{f"{mode}_cpu_ms_per_tick": round(value, 3) for mode, value in cpu.items()},
                      **{f"{mode}_max_rss_mib": round(value, 3) for mode, value in rss.items()},
                      "service_query_ms_per_tick": round(query, 3), "service_save_ms_per_tick": round(save, 3),
                      "cpu_ratio": round(ratio, 3), "cpu_ratio_rounds": [round(r, 3) for r in round_ratios],
                      **{f"{mode}_alone_cpu_ms_per_tick": round(value, 3) for mode, value in alone.items()},
                      "alone_cpu_ratio": round(alone["service"] / alone["bare"], 3), "rss_ratio": round(rss_ratio, 3)}))


if __name__ == "__main__":
    main()
