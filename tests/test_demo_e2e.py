"""The condensed demo end to end: real app, Prometheus, Alertmanager, scorer and Locust (time compressed: 1 s ticks)."""

from __future__ import annotations

import os

import pytest
import requests

from scripts.demo import ANOMALY_ALERT, QUICK_PLAN, Demo
from scripts.stack import LocalStack, interval_overrides

pytestmark = pytest.mark.slow


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


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
    assert summary["false_alerts_in_steady_phases"] == [], transcript
    assert summary["incident_detected"], transcript
    (incident,) = summary["incidents"]  # the condensed plan has no slowdown
    assert incident["name"] == "spike with errors" and incident["detected"]
    assert summary["steady_max_score_ratio"] is not None
    assert 0 < incident["seconds_to_notification"] <= plan.notification_deadline_seconds
    # The pipeline's order: score, then the alert in Prometheus, then the notification.
    assert incident["seconds_to_first_score_above_threshold"] <= incident["seconds_to_alert_firing"]
    assert incident["seconds_to_alert_firing"] <= incident["seconds_to_notification"]
    anomaly = [a for a in notifications if a["labels"]["alertname"] == ANOMALY_ALERT and a["status"] == "firing"]
    assert anomaly and anomaly[0]["labels"]["service"] == "tickets"
    assert anomaly[0]["annotations"]["runbook_url"].endswith("#vigilanteanomalydetected")
    overrides = summary["settings"]["overrides_of_shipped_defaults"]
    assert overrides["scorer"]["tick_seconds"] == {"shipped": 15.0, "used": 1.0}
    assert all(group_is_gone(pgid) for pgid in groups)
