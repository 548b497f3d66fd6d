"""``vigilante backtest`` with the shipped defaults on runs recorded from the real stack.

The fixtures (tests/fixtures/recorded/README.md) are what Prometheus recorded, not what a
generator thinks it records: latencies quantized by histogram buckets, scrape jitter, a
restarted worker, a machine busy with a second stack. Each is a CSV and the JSON of the
phases it was recorded under (scripts/record_series.py).
"""

import csv
import json
from pathlib import Path

import pytest

from scripts.detection_tiers import GRACE_SECONDS  # an alert may go on this long after its fault ended
from vigilante.cli import main
from vigilante.config import load_config
from vigilante.scorer.features import histogram_buckets

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
RUNS = sorted(RECORDED.glob("*.json"))
STEADY_GOAL = 0.7
"""The demo's promise for its steady phase: the score stays at most 0.7 times the threshold."""


def backtest(tmp_path, labels: Path) -> tuple[dict, list[tuple[float, float, bool]]]:
    schedule = json.loads(labels.read_text())
    out = tmp_path / "out.csv"
    argv = ["backtest", str(labels.with_suffix(".csv")), "--train-rows", str(schedule["train_rows"]), "--out", str(out)]
    assert main(argv) == 0
    with open(out, newline="") as fh:
        rows = [(float(r["timestamp"]), float(r["score"]) / float(r["threshold"]), r["alert"] == "1")
                for r in csv.DictReader(fh)]
    return schedule, rows


def test_the_fixtures_are_there():
    names = [p.stem for p in RUNS]
    assert sum(n.startswith("demo-") for n in names) >= 6 and any(n.startswith("stack-run-") for n in names), names


KNOWN_MISSES = {
    # 1 % of requests failed for a minute, 4 or 5 errors over several routes; recorded before
    # instrument() made a route's 500 series at 0, Prometheus' rate() saw one of them (the others
    # were their route's first). stack-run-2 and stack-run-3, recorded since, hold all of their
    # bursts' errors and alert 40 s in.
    "stack-run-1": ["mild error burst"],
}
KNOWN_FALSE_ALERTS: dict[str, list[str]] = {
    # none since hold_seconds is 60 s: the 8 s episode in stack-run-1's steady phase (Locust's
    # traffic 12 % above anything in 3 minutes of training, for 40 s) is over before the hold
}
"""What the shipped scorer gets wrong on these runs (bench_detection's recorded tier counts them
too): listed, so that a change for the better or the worse fails here until it is written down."""


@pytest.mark.parametrize("labels", RUNS, ids=lambda p: p.stem)
def test_every_fault_of_a_recorded_run_alerts_and_nothing_else_does(tmp_path, labels):
    schedule, rows = backtest(tmp_path, labels)
    faults = [p for p in schedule["phases"] if p["kind"] != "normal"]
    missed = [f["name"] for f in faults
              if not any(alert for t, _, alert in rows if f["start"] <= t <= f["end"] + GRACE_SECONDS)]
    assert missed == KNOWN_MISSES.get(labels.stem, [])
    starts = [t for (t, _, alert), (_, _, before) in zip(rows, [(0, 0, False)] + rows) if alert and not before]
    false = [p["name"] for t in starts if not any(f["start"] <= t <= f["end"] + GRACE_SECONDS for f in faults)
             for p in schedule["phases"] if p["start"] <= t <= p["end"]]
    assert false == KNOWN_FALSE_ALERTS.get(labels.stem, [])


@pytest.mark.parametrize("labels", [p for p in RUNS if p.stem.startswith("demo-")], ids=lambda p: p.stem)
def test_the_demo_steady_phase_stays_well_below_the_threshold(tmp_path, labels):
    # Trained on 3 minutes; in demo-1 and demo-4 the p95 then wandered 0.2-0.7 ms inside its
    # 5-10 ms bucket, which the scorer without a bucket's noise floor scored 2.7-2.9 times
    # its threshold.
    schedule, rows = backtest(tmp_path, labels)
    [steady] = [p for p in schedule["phases"] if p["name"] == "steady"]
    ratios = [ratio for t, ratio, _ in rows if steady["start"] <= t <= steady["end"]]
    assert len(ratios) >= 25 and max(ratios) <= STEADY_GOAL


def test_the_latency_quantiles_bring_their_buckets_unless_their_query_is_replaced():
    config = load_config(env={})
    assert set(histogram_buckets(config)) == {"latency_p50_seconds", "latency_p95_seconds"}
    mine = load_config(env={"VIGILANTE_SERVICE__QUERIES": '{"latency_p95_seconds": "my_p95"}',
                            "VIGILANTE_APP__LATENCY_BUCKETS": "[0.001, 0.002]"})
    assert histogram_buckets(mine) == {"latency_p50_seconds": (0.001, 0.002)}
