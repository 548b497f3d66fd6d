"""Record the scorer's features from the real local stack under a labelled schedule.

The detection benchmark's generated series say what their author thinks Prometheus
records; this records what it does record: latencies quantized by histogram buckets,
scrape jitter, the counter reset of a restarted worker. The local stack (app, Prometheus
with the recording rules; no scorer) runs Locust through :data:`SCHEDULE`, then the default
features are read back from Prometheus at every evaluation and written as

- ``NAME.csv``: the ``vigilante backtest`` input (unix seconds, then the default features);
- ``NAME.json``: the schedule as it ran: each phase's name, kind (``normal`` or an anomaly
  kind of ``scripts/scenarios.py``), fault, users, start and end, and ``train_rows``, the
  rows of the training phase (the first rows of the CSV).

The recorded tier of ``scripts/detection_tiers.py`` backtests every such pair under
``tests/fixtures/recorded/``::

    .venv/bin/python -m scripts.record_series tests/fixtures/recorded/stack-run-1   # about 32 minutes
    .venv/bin/python -m scripts.record_series tests/fixtures/recorded/demo-1 --from-demo out/demo

The second form takes a finished ``make demo`` instead: its phases (the spike with errors and
the slowdown are the anomalies) and the Prometheus data it leaves under ``out/demo/stack/``.

Everything runs on 127.0.0.1, at the demo's compressed 2 s intervals (every scorer window
is a duration in seconds, so the model sees the shipped wall-clock windows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.load_shapes import STEADY_USERS, write_control
from scripts.stack import LocalStack, interval_overrides

INTERVAL_SECONDS = 2.0


@dataclass(frozen=True)
class Phase:
    name: str
    kind: str  # "normal", or an anomaly kind of scripts/scenarios.py
    seconds: float
    users: int = STEADY_USERS
    error_ratio: float = 0.0
    added_latency_seconds: float = 0.0
    restart_worker: bool = False


QUIET = 180.0
"""Steady traffic between two events: the tiers allow an alert for 2 minutes after an event's
end (the 1-minute rates' tail); one that starts in the last minute is a false one."""

SCHEDULE = (
    Phase("warm-up", "excluded", 65),  # the 1-minute rates fill; not written
    Phase("training", "normal", 180),  # the demo's 3 minutes
    Phase("steady", "normal", QUIET),
    Phase("spike with errors", "spike_errors", 60, users=3 * STEADY_USERS, error_ratio=0.05),
    Phase("steady", "normal", QUIET),
    Phase("error burst", "error_burst", 60, error_ratio=0.05),
    Phase("steady", "normal", QUIET),
    Phase("slowdown", "latency", 60, added_latency_seconds=0.05),
    Phase("steady", "normal", QUIET),
    Phase("worker restart", "normal", 30, restart_worker=True),
    Phase("steady", "normal", QUIET),
    Phase("mild error burst", "mild_error_burst", 60, error_ratio=0.01),
    Phase("steady", "normal", QUIET),
    Phase("traffic drop", "drop", 60, users=STEADY_USERS // 4),
    Phase("steady", "normal", QUIET),
)


def run_schedule(stack: LocalStack, control: Path, say) -> list[dict]:
    """Drive the schedule on a started stack; the phases as they ran."""
    ran = []
    for phase in SCHEDULE:
        say(f"== {phase.name} ({phase.kind}, {phase.users} users, {phase.seconds:.0f} s)")
        write_control(control, phase.users, spawn_rate=max(4, phase.users))
        stack.set_fault(error_ratio=phase.error_ratio, added_latency_seconds=phase.added_latency_seconds)
        record = {"name": phase.name, "kind": phase.kind, "users": phase.users, "start": time.time(),
                  "fault": {k: v for k, v in (("error_ratio", phase.error_ratio),
                                              ("added_latency_seconds", phase.added_latency_seconds)) if v}}
        if phase.restart_worker:
            # gunicorn replaces its worker on HUP: the new one's counters start from 0
            os.kill(stack.app.process.pid, signal.SIGHUP)
            record["restarted_worker"] = True
        deadline = record["start"] + phase.seconds
        while time.time() < deadline:
            if stack.load and stack.load.popen.poll() is not None:
                raise RuntimeError("Locust stopped before the schedule ended")
            time.sleep(min(1.0, max(0.0, deadline - time.time())))
        record["end"] = time.time()
        ran.append(record)
    write_control(control, 0, stop=True)
    return ran


def read_back(prometheus_url: str, config, phases: list[dict]) -> tuple[list, int]:
    """The default features at every interval from the training phase's start; and the training rows."""
    from vigilante.service.feature_source import FeatureSource
    from vigilante.prometheus.api import PrometheusAPI
    from vigilante.service.serve import feature_queries

    training = next(p for p in phases if p["name"] == "training")
    source = FeatureSource(PrometheusAPI(prometheus_url, timeout=30), feature_queries(config))
    start = math.ceil(training["start"] / INTERVAL_SECONDS) * INTERVAL_SECONDS
    end = math.floor(phases[-1]["end"] / INTERVAL_SECONDS) * INTERVAL_SECONDS
    rows = source.between(start, end, INTERVAL_SECONDS)
    train_rows = sum(1 for r in rows if r.timestamp < training["end"])
    return rows, train_rows


DEMO_KINDS = {"warm-up": "excluded", "spike with errors": "spike_errors", "slowdown": "latency"}
"""The anomaly kind of each ``make demo`` phase; the others (training, steady, recoveries) are normal."""


def from_demo(outdir: Path, name: Path, say) -> None:
    """The same pair from a finished ``make demo`` (its summary.json and Prometheus data under ``outdir``)."""
    from scripts.harness.prometheus import PrometheusServer
    from vigilante.config import load_config

    summary = json.loads((outdir / "summary.json").read_text())
    if summary["settings"]["intervals_used"]["scrape_interval_seconds"] != INTERVAL_SECONDS:
        raise SystemExit(f"{outdir}: the demo ran at other intervals than {INTERVAL_SECONDS:g} s")
    phases = [{**p, "kind": DEMO_KINDS.get(p["name"], "normal")} for p in summary["phases"] if "end" in p]
    with tempfile.TemporaryDirectory(prefix="vigilante-record-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(outdir / "stack" / "prometheus" / "data", data)  # Prometheus writes to what it opens
        prometheus = PrometheusServer(Path(tmp), data_dir=data, extra_args=["--storage.tsdb.retention.time=10y"]).start()
        try:
            config = load_config(env={})
            rows, train_rows = read_back(prometheus.url, config, phases)
        finally:
            prometheus.stop()
    write(name, rows, train_rows, phases, list(config.scorer.features), recorded_with=f"make demo ({summary['result']})")
    say(f"wrote {name.with_suffix('.csv')} ({len(rows)} rows, {train_rows} of training) and {name.with_suffix('.json')}")


def write(name: Path, rows, train_rows: int, phases: list[dict], features,
          recorded_with: str = "python -m scripts.record_series") -> None:
    from vigilante.output_files import atomic_open
    from vigilante.service.serve import csv_row, csv_writer

    name.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(name.with_suffix(".csv")) as fh:  # what `vigilante collect` writes
        writer = csv_writer(fh, features)
        for r in rows:
            writer.writerow(csv_row(r))
    labels = {"recorded_with": recorded_with, "interval_seconds": INTERVAL_SECONDS,
              "train_rows": train_rows, "phases": [p for p in phases if p["kind"] != "excluded"]}
    name.with_suffix(".json").write_text(json.dumps(labels, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Writes NAME.csv and NAME.json; takes about %d minutes."
                                % round(sum(ph.seconds for ph in SCHEDULE) / 60 + 1))
    p.add_argument("name", type=Path, help="output path without suffix, e.g. tests/fixtures/recorded/stack-run-1")
    p.add_argument("--from-demo", type=Path, metavar="OUTDIR",
                   help="write the pair from a finished `make demo` (e.g. out/demo) instead of running the schedule")
    args = p.parse_args(argv)
    say = lambda text: print(text, flush=True)  # noqa: E731
    if args.from_demo:
        from_demo(args.from_demo, args.name, say)
        return 0
    with tempfile.TemporaryDirectory(prefix="vigilante-record-") as tmp:
        workdir = Path(tmp)
        with LocalStack(workdir / "stack", interval_overrides(INTERVAL_SECONDS), say=say) as stack:
            stack.start(with_scorer=False)
            control = workdir / "control.json"
            write_control(control, STEADY_USERS)
            stack.start_load("control", sum(ph.seconds for ph in SCHEDULE) + 120, control)
            phases = run_schedule(stack, control, say)
            rows, train_rows = read_back(stack.prometheus.url, stack.config, phases)
            features = list(stack.config.scorer.features)
    write(args.name, rows, train_rows, phases, features)
    missing = sum(1 for r in rows if not r.complete)
    say(f"wrote {args.name.with_suffix('.csv')} ({len(rows)} rows, {train_rows} of training, {missing} incomplete) "
        f"and {args.name.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
