"""`vigilante generate` for a user's configuration: every name comes from that configuration, none from the demo.

A foreign app (job ``shop-api`` in namespace ``payments``, no business counters) is
generated for through the real command. No file may mention the demo's tickets; the
alerts' routing labels, the Alertmanager receivers and the pod selectors follow the
configured job and namespace; the Flask dashboard has no business row until counters are
configured; the rule files still pass ``promtool check rules`` and the Alertmanager file
``amtool check-config``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from vigilante.cli import main
from vigilante.escaping import template_text
from scripts.harness import AMTOOL, find_binary
from scripts.harness.prometheus import promtool

ALERT_RULES = "rules/generated/vigilante-alerts.rules.yml"
RECORDING_RULES = "rules/generated/vigilante-recording.rules.yml"
ALERTMANAGER = "rules/generated/alertmanager.yml"
OVERVIEW = "dashboards_py/generated/overview.json"
SERVICE_MONITORS = "manifests/overlays/kube-prometheus-stack/generated/service-monitors.yaml"
ATTACH_APP = "manifests/components/attach-app/kustomization.yaml"

# Valid, but awkward wherever it is inserted: quotes, template braces, a capture-group
# reference, a backslash, non-ASCII.
HOSTILE_FOLDER = 'Shop "ops" {{ $labels.job }} $1 \\ Zahlungsverkehr ü'

FOREIGN = {
    "app": {"job": "shop-api", "namespace": "payments"},
    "scorer": {"job": "shop-api-scorer"},
    "grafana": {"folder": HOSTILE_FOLDER},
}


def generate(tmp_path: Path, config: dict, monkeypatch) -> Path:
    """Run the real ``vigilante generate`` for ``config``; the output folder."""
    for name in [n for n in os.environ if n.startswith("VIGILANTE_")]:
        monkeypatch.delenv(name)  # the configuration is the file alone
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "generated"
    assert main(["generate", "--config", str(path), "--out", str(out)]) == 0
    return out


def every_alert(out: Path) -> list[dict]:
    doc = yaml.safe_load((out / ALERT_RULES).read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def overview_titles(out: Path) -> list[str]:
    return [panel["title"] for panel in json.loads((out / OVERVIEW).read_text(encoding="utf-8"))["panels"]]


def test_nothing_generated_for_a_foreign_app_mentions_the_demo(tmp_path, monkeypatch):
    out = generate(tmp_path, FOREIGN, monkeypatch)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 20
    mentions = [f"{p.relative_to(out)}: {m.group(0)!r}" for p in files
                for m in re.finditer(r".{0,40}ticket.{0,40}", p.read_text(encoding="utf-8"), re.IGNORECASE)]
    assert mentions == []


def test_routing_labels_receivers_and_selectors_follow_the_configured_job_and_namespace(tmp_path, monkeypatch):
    out = generate(tmp_path, FOREIGN, monkeypatch)
    alerts = every_alert(out)
    assert alerts
    assert {(a["labels"]["service"], a["labels"]["team"]) for a in alerts} == {("shop-api", "payments")}
    # No runbook was configured: no alert links to one that does not exist.
    assert [a["alert"] for a in alerts if "runbook_url" in a["annotations"]] == []

    alertmanager = yaml.safe_load((out / ALERTMANAGER).read_text(encoding="utf-8"))
    assert [r["name"] for r in alertmanager["receivers"]] == ["default", "shop-api-page", "shop-api-notify"]
    assert alertmanager["route"]["routes"][0]["matchers"] == ['service="shop-api"']

    monitors = list(yaml.safe_load_all((out / SERVICE_MONITORS).read_text(encoding="utf-8")))
    app_monitor = next(m for m in monitors if m["spec"]["namespaceSelector"]["matchNames"] == ["payments"])
    assert app_monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "shop-api"}
    patches = yaml.safe_load((out / ATTACH_APP).read_text(encoding="utf-8"))["patches"]
    assert {p["target"]["labelSelector"] for p in patches} == {"app.kubernetes.io/name=shop-api"}


def test_the_business_row_appears_only_with_configured_counters(tmp_path, monkeypatch):
    without = overview_titles(generate(tmp_path / "without", FOREIGN, monkeypatch))
    assert "Business" not in without
    assert not [t for t in without if t.endswith(" per minute") and "_total" in t]

    counters = {**FOREIGN, "grafana": {**FOREIGN["grafana"], "business_counters": ["shop_orders_total"]}}
    with_counters = overview_titles(generate(tmp_path / "with", counters, monkeypatch))
    assert "Business" in with_counters and "shop_orders_total per minute" in with_counters


def test_configured_service_team_receivers_and_runbook_are_used_as_given(tmp_path, monkeypatch):
    config = {
        "app": {"job": "shop-api", "namespace": "payments", "service": "checkout", "team": 'Zahlung & Co "core" {{x}} ü'},
        "alerting": {"page_receiver": "oncall", "notify_receiver": "payments-queue",
                     "runbook_base_url": "https://wiki.example/ops/shop-api.md"},
        "kubernetes": {"app_pod_selector": "app=shop"},
    }
    out = generate(tmp_path, config, monkeypatch)
    alerts = every_alert(out)
    # Labels are templates to Prometheus: the braces are written so that they expand to themselves.
    assert {(a["labels"]["service"], a["labels"]["team"]) for a in alerts} == {
        ("checkout", template_text('Zahlung & Co "core" {{x}} ü'))}
    assert {a["annotations"]["runbook_url"].partition("#")[0] for a in alerts} == {"https://wiki.example/ops/shop-api.md"}
    alertmanager = yaml.safe_load((out / ALERTMANAGER).read_text(encoding="utf-8"))
    assert [r["name"] for r in alertmanager["receivers"]] == ["default", "oncall", "payments-queue"]
    patches = yaml.safe_load((out / ATTACH_APP).read_text(encoding="utf-8"))["patches"]
    assert {p["target"]["labelSelector"] for p in patches} == {"app=shop"}


@pytest.mark.parametrize("extra", [{}, {"alerting": {"runbook_base_url": "https://wiki.example/runbook.md"},
                                        "grafana": {"business_counters": ["shop_orders_total"]}}],
                         ids=["defaults", "runbook and counters"])
def test_the_generated_rules_and_alertmanager_file_pass_promtool_and_amtool(tmp_path, monkeypatch, extra):
    config = {section: {**FOREIGN.get(section, {}), **extra.get(section, {})} for section in {*FOREIGN, *extra}}
    out = generate(tmp_path, config, monkeypatch)
    checked = promtool("check", "rules", RECORDING_RULES, ALERT_RULES, cwd=out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    amtool = subprocess.run([find_binary(AMTOOL), "check-config", ALERTMANAGER], cwd=out,
                            capture_output=True, text=True, timeout=60)
    assert amtool.returncode == 0, amtool.stdout + amtool.stderr
