import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scripts.bench_detection import evaluate
from scripts.detection_tiers import evaluate as tier_evaluate
from scripts.detection_tiers import recorded_scenarios
from scripts.scenarios import Event, Scenario

from tests.support import REPO_ROOT as ROOT


def labelled(n=2000, events=()):
    return Scenario(seed=0, rows=[{}] * (100 + n), train_rows=100, events=list(events))


def test_evaluate_counts_recall_delay_and_false_episodes():
    sc = labelled(events=[Event("spike", 300, 340), Event("ramp", 800, 900)])
    decisions = np.zeros(2000, dtype=int)
    decisions[203:230] = 1  # spike (ticks 200..240 after training) found 3 ticks after onset
    decisions[750:752] = 1  # inside the ramp: false
    decisions[1500:1502] = 1  # plain normal traffic: false
    o = evaluate(decisions, sc, shift_bound=100)
    assert o.detected == {"spike": [True]} and o.delays == {"spike": [3]}
    assert o.false_episodes == 2 and o.normal_alerts == {"ramp": 1}


def test_a_level_shift_may_alert_within_its_bound_only():
    sc = labelled(events=[Event("level_shift", 600, 1200)])
    decisions = np.zeros(2000, dtype=int)
    decisions[505:560] = 1
    assert evaluate(decisions, sc, shift_bound=100).false_episodes == 0
    decisions[700:705] = 1
    o = evaluate(decisions, sc, shift_bound=100)
    assert o.false_episodes == 1 and o.shift_alert_ticks == [60]


def test_tiers_score_in_seconds_and_time_a_false_episode():
    # Rows 60 s apart; an anomaly from row 10 to 20 found at row 12; a false episode of 3 rows.
    sc = Scenario(seed=0, rows=[{"timestamp": 60.0 * i} for i in range(200)], train_rows=0,
                  events=[Event("spike", 10, 20), Event("drop", 150, 150)])
    times = [60.0 * i for i in range(200)]
    decisions = [1 if 12 <= i < 15 or 100 <= i < 103 else 0 for i in range(200)]
    o = tier_evaluate(times, decisions, sc, [r["timestamp"] for r in sc.rows], shift_bound_seconds=0)
    assert o.detected == {"spike": [True]} and o.delays_seconds == [120.0]
    assert o.false_episodes == 1 and o.false_minutes == [3.0]
    # The same decisions in compressed time, one second standing for 15: figures in the scenario's seconds.
    scaled = tier_evaluate([t / 60 for t in times], decisions, sc, [i * 1.0 for i in range(200)], 0, scale=60.0)
    assert scaled.delays_seconds == [120.0] and scaled.false_minutes == [3.0]


def test_a_recorded_run_becomes_a_scenario_with_its_phases_as_events_on_its_rows(tmp_path):
    # Rows 2 s apart from t=1000; a slowdown from t=1010 to t=1020 covers rows 5 to 9.
    lines = ["timestamp,value"] + [f"{1000 + 2 * i},{i}" for i in range(20)]
    (tmp_path / "run.csv").write_text("\n".join(lines) + "\n")
    phases = [{"name": "training", "kind": "normal", "start": 999.5, "end": 1007.0},
              {"name": "slowdown", "kind": "latency", "start": 1009.3, "end": 1019.1}]
    (tmp_path / "run.json").write_text(json.dumps({"train_rows": 4, "phases": phases}))
    [(name, sc)] = recorded_scenarios(tmp_path, features=["value"])
    assert name == "run" and sc.train_rows == 4 and len(sc.rows) == 20
    assert sc.events == [Event("latency", 5, 10)] and sc.rows[5] == {"timestamp": 1010.0, "value": 5.0}


@pytest.mark.slow
def test_quick_mode_reports_and_holds_the_readmes_recall_and_false_alert_bounds():
    proc = subprocess.run([sys.executable, "-m", "scripts.bench_detection", "--quick", "--jobs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result["held_out"]) == {"scorer", "static", "zscore", "original"}
    assert result["cost"]["ticks"] > 0
    assert any(line.startswith("== scorer (held-out)") for line in lines)
    assert set(result["tiers"]["held-out"]) == {"15 s", "1 min", "5 min", "irregular", "flat"}
    assert result["recorded"]["events"] > 0  # the runs under tests/fixtures/recorded/
    # The README's claims, within what one held-out seed of two days can show (seeded: the run
    # is the same on every machine). One false episode in the quick run is 7 a week.
    scorer = result["held_out"]["scorer"]
    assert scorer["recall"] == 1.0 and scorer["false_per_week"] <= 7.0, scorer
    assert scorer["false_per_week"] < result["held_out"]["original"]["false_per_week"]
    for tier in ("15 s", "irregular", "flat"):
        held = result["tiers"]["held-out"][tier]
        assert held["recall"] == 1.0 and held["false_per_week"] <= 7.0, (tier, held)
    # The recorded runs are the README's own: 27 faults, recall 0.96 (stack-run-1's 1 % error burst
    # missed: its features hold one error), no false episode.
    recorded = result["recorded"]
    assert recorded["events"] == 27 and recorded["recall"] >= round(26 / 27, 3) and recorded["false_per_week"] == 0, recorded
    # The daily tier (one seed in quick mode): rhythm-breaking days caught, no false episode, where the
    # z-score at |z| > 8 catches fewer and alarms falsely.
    daily = result["daily"]["detectors"]
    scorer, z8 = daily["scorer"]["ALL"], daily["z > 8"]["ALL"]
    assert scorer["recall"] >= 0.7 and scorer["false_episodes"] == 0, scorer
    assert z8["recall"] < scorer["recall"] and z8["false_episodes"] > 0, z8
