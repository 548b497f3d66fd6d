"""The example Alertmanager configuration: amtool-checked routes, and inhibition in a real Alertmanager."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from vigilante.config import load_config
from vigilante.rules.alertmanager import APP_DOWN_ALERTS, SILENCED_WHEN_APP_DOWN, alertmanager_config, alertmanager_yaml
from vigilante.rules.alerts import alerts
from scripts.harness import AMTOOL, AlertmanagerServer, find_binary, wait_until
from scripts.demo_config import demo_config

from tests.support import REPO_ROOT as REPO
GENERATED = REPO / "rules" / "generated" / "alertmanager.yml"


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([find_binary(AMTOOL), *args], capture_output=True, text=True, timeout=60)


def routed_to(config_file: Path, *labels: str) -> str:
    run = amtool("config", "routes", "test", f"--config.file={config_file}", *labels)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()



def test_amtool_accepts_the_generated_configuration():
    run = amtool("check-config", str(GENERATED))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=VigilanteAppDown", "service=tickets", "severity=critical"), "tickets-page"),
        (("alertname=VigilanteHighLatencyP95", "service=tickets", "severity=warning"), "tickets-ticket"),
        (("alertname=VigilanteCPUThrottlingHigh", "service=tickets", "severity=info"), "tickets-ticket"),
        (("alertname=Watchdog", "severity=none"), "default"),
        (("alertname=VigilanteAppDown", "service=other", "severity=critical"), "default"),
    ],
)
def test_routes_send_pages_and_tickets_of_the_service_to_its_receivers(labels, receiver):
    assert routed_to(GENERATED, *labels) == receiver


def test_verify_receivers_fails_on_a_wrong_route():
    run = amtool("config", "routes", "test", f"--config.file={GENERATED}", "--verify.receivers=tickets-page",
                 "service=tickets", "severity=warning")
    assert run.returncode != 0


def test_a_second_service_gets_its_own_route(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("app:\n  service: shop\nalerting:\n  webhook_url: http://127.0.0.1:9/hook\n")
    out = tmp_path / "alertmanager.yml"
    out.write_text(alertmanager_yaml(load_config(path, env={})))
    assert amtool("check-config", str(out)).returncode == 0
    assert routed_to(out, "service=shop", "severity=critical") == "shop-page"
    assert routed_to(out, "service=tickets", "severity=critical") == "default"


def test_inhibition_names_only_alerts_that_exist_and_matches_on_routing_labels():
    config = demo_config()
    names = {a.name for a in alerts(config)}
    assert set(APP_DOWN_ALERTS) <= names and set(SILENCED_WHEN_APP_DOWN) <= names
    labels = alerts(config)[0].all_labels(config)
    for rule in alertmanager_config(config)["inhibit_rules"]:
        assert set(rule["equal"]) - {"job"} <= set(labels)


@pytest.mark.slow
def test_app_down_silences_its_latency_alert_in_a_real_alertmanager(tmp_path, webhook_receiver):
    config = demo_config().replace("alerting", webhook_url=webhook_receiver.url)
    am = AlertmanagerServer(tmp_path / "am", yaml.safe_load(alertmanager_yaml(config))).start()
    try:
        routing = {"service": "tickets", "namespace": "tickets", "team": "platform"}
        am.post_alert({"alertname": "VigilanteAppDown", "severity": "critical", "job": "ticket-app", **routing})
        am.post_alert({"alertname": "VigilanteHighLatencyP95", "severity": "warning", "job": "ticket-app", **routing})
        am.post_alert({"alertname": "VigilanteHighLatencyP95", "severity": "warning", "job": "shop",
                       "service": "shop", "namespace": "shop", "team": "platform"})

        def states() -> dict[tuple[str, str], str] | None:
            found = {(a["labels"]["alertname"], a["labels"]["service"]): a["status"]["state"] for a in am.alerts()}
            return found if len(found) == 3 and found[("VigilanteHighLatencyP95", "tickets")] == "suppressed" else None

        found = wait_until(states, 20, "the latency alert of the down app to be inhibited")
        assert found[("VigilanteAppDown", "tickets")] == "active"
        assert found[("VigilanteHighLatencyP95", "shop")] == "active"  # another service is not silenced
        page = webhook_receiver.wait_for(lambda item: isinstance(item["body"], dict) and item["body"].get("receiver") == "tickets-page",
                                         30, "the page notification")
        assert [a["labels"]["alertname"] for a in page["body"]["alerts"]] == ["VigilanteAppDown"]
    finally:
        am.stop()
