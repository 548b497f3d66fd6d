"""The condensed demo end to end: real app, Prometheus, Alertmanager, scorer and Locust (time compressed: 1 s ticks)."""

from __future__ import annotations

import copy
import os

import pytest
import requests

from scripts.demo import ANOMALY_ALERT, QUICK_PLAN, Demo, DemoPlan
from scripts.stack import LocalStack, interval_overrides


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


STEADY_SCORE_GOAL = 0.7
"""The demo's promise for its steady phase: the score stays at most 0.7 times the threshold
(tests/test_backtest_recorded.py holds the recorded runs to the same)."""


def check_quick_demo(summary: dict, plan: DemoPlan, transcript: str = "") -> None:
    """What the condensed demo's ``summary.json`` must show: it passed by its own account (no
    failures, so the spike was notified and no NaN was exported), steady traffic stayed well under
    the threshold and silent, and the spike went score -> alert -> notification within the deadline."""
    assert summary["failures"] == [] and summary["result"] == "ok", transcript
    assert summary["nan_scores_exported"] == 0, transcript
    assert summary["false_alerts_in_steady_phases"] == [], transcript
    ratio = summary["steady_max_score_ratio"]
    assert ratio is not None and 0 <= ratio <= STEADY_SCORE_GOAL, (ratio, transcript)
    assert summary["incident_detected"], transcript
    (incident,) = summary["incidents"]  # the condensed plan has no slowdown
    assert incident["name"] == "spike with errors" and incident["detected"]
    assert 0 < incident["seconds_to_notification"] <= plan.notification_deadline_seconds
    # The pipeline's order: score, then the alert in Prometheus, then the notification.
    assert incident["seconds_to_first_score_above_threshold"] <= incident["seconds_to_alert_firing"]
    assert incident["seconds_to_alert_firing"] <= incident["seconds_to_notification"]
    overrides = summary["settings"]["overrides_of_shipped_defaults"]
    assert overrides["scorer"]["tick_seconds"] == {"shipped": 15.0, "used": 1.0}


# A passed run's summary as Demo.summary() writes it: the spike's figures of a recorded demo run, the
# condensed plan's tick override; phases and the other settings left out (the check reads none).
PASSED = {
    "result": "ok", "failures": [], "incident_detected": True, "nan_scores_exported": 0,
    "false_alerts_in_steady_phases": [], "steady_max_score_ratio": 0.237, "threshold": 1.62,
    "incidents": [{"name": "spike with errors", "detected": True, "fault": {"error_ratio": 0.05},
                   "seconds_to_first_score_above_threshold": 8.0, "seconds_to_alert_firing": 12.4,
                   "seconds_to_notification": 12.4, "seconds_to_resolved_notification": None}],
    "settings": {"overrides_of_shipped_defaults": {"scorer": {"tick_seconds": {"shipped": 15.0, "used": 1.0}}}},
}


def test_the_check_of_the_demo_summary_accepts_a_passed_run():
    check_quick_demo(copy.deepcopy(PASSED), QUICK_PLAN)


@pytest.mark.parametrize("change", [
    {"result": "failed", "failures": ["spike with errors: not notified"]},
    {"result": "failed", "failures": ["3 NaN scores exported after the warm start"], "nan_scores_exported": 3},
    {"nan_scores_exported": 1},
    {"steady_max_score_ratio": None},
    {"steady_max_score_ratio": STEADY_SCORE_GOAL + 0.01},
    {"false_alerts_in_steady_phases": [{"alertname": ANOMALY_ALERT}]},
], ids=["failures", "nan-failure", "nan-count", "no-ratio", "ratio-above-goal", "false-alert"])
def test_the_check_of_the_demo_summary_refuses_what_the_demo_must_not_do(change):
    with pytest.raises(AssertionError):
        check_quick_demo({**copy.deepcopy(PASSED), **change}, QUICK_PLAN)


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_steady_traffic_stays_quiet_the_spike_is_notified_and_nothing_is_left_running(tmp_path):
    plan = QUICK_PLAN
    lines: list[str] = []
    with LocalStack(tmp_path / "stack", interval_overrides(plan.interval_seconds),
                    route_overrides=dict(plan.route_overrides), say=lines.append) as stack:
        stack.start(with_scorer=False)
        ui = requests.get(f"{stack.prometheus.url}/graph", timeout=10)
        assert ui.status_code == 200 and "Prometheus" in ui.text
        demo = Demo(stack, plan, lines.append)
        demo.run()
        summary = demo.summary()
        notifications = stack.webhook.alerts()
        groups = [p.pid for p in (stack.app.process, stack.prometheus.process, stack.alertmanager.process,
                                  stack.scorer, stack.load)]

    transcript = "\n".join(lines)
    check_quick_demo(summary, plan, transcript)
    anomaly = [a for a in notifications if a["labels"]["alertname"] == ANOMALY_ALERT and a["status"] == "firing"]
    assert anomaly and anomaly[0]["labels"]["service"] == "tickets"
    assert anomaly[0]["annotations"]["runbook_url"].endswith("#vigilanteanomalydetected")
    assert all(group_is_gone(pgid) for pgid in groups)
