"""Datasource, dashboard provider and contact-point files: consistent with the dashboards and alerts."""

from __future__ import annotations

import json

import yaml

from vigilante.config import load_config
from vigilante.dashboards import dashboard_json, grafana_alerts, grafana_format, provisioning


def test_every_provisioning_file_has_the_documented_shape():
    config = load_config(env={})
    assert grafana_format.check_datasources(yaml.safe_load(provisioning.datasource_yaml(config))) == []
    assert grafana_format.check_dashboard_providers(yaml.safe_load(provisioning.dashboard_provider_yaml(config))) == []
    assert grafana_format.check_contact_points(yaml.safe_load(provisioning.contact_points_yaml(config))) == []


def test_the_datasource_is_the_one_dashboards_and_alerts_name():
    config = load_config(env={}).replace("grafana", datasource_uid="prom-main", datasource_name="Main")
    source = provisioning.datasource(config)["datasources"][0]
    assert (source["uid"], source["name"], source["type"], source["access"]) == ("prom-main", "Main", "prometheus", "proxy")
    variables = {v["name"]: v for v in json.loads(dashboard_json(config, "overview"))["templating"]["list"]}
    assert variables["datasource"]["current"]["value"] == "prom-main"
    rules = [r for g in grafana_alerts.alert_rules(config)["groups"] for r in g["rules"]]
    assert {d["datasourceUid"] for r in rules for d in r["data"]} == {"prom-main", "__expr__"}


def test_the_datasource_scrape_interval_is_the_configured_one():
    """$__rate_interval is built from jsonData.timeInterval: it must be the real scrape interval."""
    config = load_config(env={}).replace("prometheus", scrape_interval_seconds=10.0)
    assert provisioning.datasource(config)["datasources"][0]["jsonData"]["timeInterval"] == "10s"


def test_generated_dashboards_are_read_only_in_the_configured_folder():
    config = load_config(env={}).replace("grafana", folder="Shop", dashboards_path="/dash")
    provider = provisioning.dashboard_provider(config)["providers"][0]
    assert provider["folder"] == "Shop" and provider["type"] == "file" and provider["options"]["path"] == "/dash"
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True


def test_the_contact_point_reads_its_secrets_from_the_environment_and_no_policy_is_shipped():
    document = provisioning.contact_points(load_config(env={}))
    receivers = {r["type"]: r for r in document["contactPoints"][0]["receivers"]}
    assert set(receivers) == {"webhook", "email"}
    assert receivers["webhook"]["settings"]["url"] == "${VIGILANTE_ALERT_WEBHOOK_URL}"
    assert receivers["webhook"]["settings"]["password"] == "${VIGILANTE_ALERT_WEBHOOK_PASSWORD}"
    assert receivers["email"]["settings"]["addresses"] == "${VIGILANTE_ALERT_EMAIL_ADDRESSES}"
    assert "policies" not in document
