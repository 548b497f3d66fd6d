"""The structural checks: each rule catches what Grafana's documented format forbids, citing the section."""

from __future__ import annotations

import copy
import json

import pytest

from vigilante.config import load_config
from vigilante.dashboards import dashboard_json, grafana_alerts, grafana_format as f, provisioning


@pytest.fixture(scope="module")
def config():
    return load_config(env={})


def problems_after(check, document, mutate):
    doc = copy.deepcopy(document)
    mutate(doc)
    return check(doc)


def rule0(doc):
    return doc["groups"][0]["rules"][0]


def data(doc, ref):
    return next(d for d in rule0(doc)["data"] if d["refId"] == ref)


ALERT_MUTATIONS = {
    "api version": (lambda d: d.update(apiVersion=2), "apiVersion", "alert-rules"),
    "folder missing": (lambda d: d["groups"][0].pop("folder"), "'folder'", "alert-rules"),
    "interval not a multiple of 10s": (lambda d: d["groups"][0].update(interval="15s"), "multiple of 10s",
                                       "alert-rules"),
    "uid too long": (lambda d: rule0(d).update(uid="x" * 41), "'uid'", "alert-rules"),
    "duplicate uid": (lambda d: d["groups"][0]["rules"].append(copy.deepcopy(rule0(d))), "used twice",
                      "alert-rules"),
    "bad noDataState": (lambda d: rule0(d).update(noDataState="Nope"), "noDataState", "alert-rules"),
    "condition names nothing": (lambda d: rule0(d).update(condition="Z"), "'condition'", "alert-rules"),
    "condition not a threshold": (lambda d: rule0(d).update(condition="B"), "threshold", "queries"),
    "query range zero": (lambda d: data(d, "A")["relativeTimeRange"].update({"from": 0}), "relativeTimeRange",
                         "alert-rules"),
    "empty expr": (lambda d: data(d, "A")["model"].update(expr=""), "model.expr", "alert-rules"),
    "unknown reducer": (lambda d: data(d, "B")["model"].update(reducer="median"), "reducer", "queries"),
    "threshold without evaluator": (lambda d: data(d, "C")["model"].update(conditions=[]), "evaluator", "queries"),
    "reduce of a missing ref": (lambda d: data(d, "B")["model"].update(expression="Q"), "'expression'", "queries"),
    "env var in a label": (lambda d: rule0(d)["labels"].update(team="$TEAM"), "labels are interpolated",
                           "interpolation"),
    "braced env var in an annotation": (lambda d: rule0(d)["annotations"].update(x="${HOME}"), "'${'",
                                        "interpolation"),
    "unknown rule key": (lambda d: rule0(d).update(exec_err_state="Error"), "unknown key", "alert-rules"),
    "policies shipped": (lambda d: d.update(policies=[{"orgId": 1, "receiver": "x"}]), "routing tree", "policies"),
}


@pytest.mark.parametrize("case", sorted(ALERT_MUTATIONS))
def test_alert_rule_check_catches(config, case):
    mutate, text, doc = ALERT_MUTATIONS[case]
    problems = problems_after(f.check_alert_rules, grafana_alerts.alert_rules(config), mutate)
    assert any(text in p.message and p.doc == doc for p in problems), problems


DASHBOARD_MUTATIONS = {
    "no uid": (lambda m: m.pop("uid"), "'uid'"),
    "numeric id": (lambda m: m.update(id=3), "'id'"),
    "editable": (lambda m: m.update(editable=True), "not editable"),
    "no marker": (lambda m: m.pop("__generated"), "generated"),
    "no datasource variable": (lambda m: m["templating"].update(list=[v for v in m["templating"]["list"]
                                                                        if v["name"] != "datasource"]), "'datasource'"),
    "no job variable": (lambda m: m["templating"].update(list=[v for v in m["templating"]["list"]
                                                                 if v["name"] != "job"]), "'job'"),
    "panel without unit": (lambda m: m["panels"][1]["fieldConfig"]["defaults"].update(unit=""), "unit"),
    "panel without description": (lambda m: m["panels"][1].update(description=""), "'description'"),
    "fixed datasource": (lambda m: m["panels"][1].update(datasource={"uid": "abc"}), "datasource variable"),
    "duplicate panel id": (lambda m: m["panels"][2].update(id=m["panels"][1]["id"]), "used twice"),
    "panel off the grid": (lambda m: m["panels"][1]["gridPos"].update(x=20, w=8), "gridPos"),
    "unknown variable": (lambda m: m["panels"][1]["targets"][0].update(expr="up{x=\"$nope\"}"), "$nope"),
}


@pytest.mark.parametrize("case", sorted(DASHBOARD_MUTATIONS))
def test_dashboard_check_catches(config, case):
    mutate, text = DASHBOARD_MUTATIONS[case]
    model = json.loads(dashboard_json(config, "overview"))
    assert f.check_dashboard(model) == []
    problems = problems_after(f.check_dashboard, model, mutate)
    assert any(text in p.message for p in problems), problems


def found(problems) -> list[tuple[str, str, str]]:
    return [(p.where, p.message, p.doc) for p in problems]


def test_provisioning_checks_catch_the_documented_mistakes(config):
    datasource, provider, points = (provisioning.datasource(config), provisioning.dashboard_provider(config),
                                    provisioning.contact_points(config))
    assert f.check_datasources(datasource) == f.check_dashboard_providers(provider) == f.check_contact_points(points) == []
    assert found(problems_after(f.check_datasources, datasource,
                                lambda d: d["datasources"][0]["jsonData"].pop("timeInterval"))) == [
        ("datasources[0]", "'jsonData.timeInterval' (the scrape interval $__rate_interval is built from) must be a "
                           "duration", "prometheus")]
    assert found(problems_after(f.check_datasources, datasource, lambda d: d["datasources"][0].update(access="browser"))) \
        == [("datasources[0]", "'access' must be proxy or direct", "datasources")]
    assert found(problems_after(f.check_dashboard_providers, provider,
                                lambda d: d["providers"][0].update(allowUiUpdates=True))) == [
        ("providers[0]", "generated dashboards must not be saved from the UI: 'allowUiUpdates: false'", "dashboards")]
    assert found(problems_after(f.check_dashboard_providers, provider, lambda d: d["providers"][0]["options"].pop("path"))) \
        == [("providers[0]", "'options.path' must name the directory of the dashboard files", "dashboards")]
    assert found(problems_after(f.check_contact_points, points,
                                lambda d: d["contactPoints"][0]["receivers"][0]["settings"].update(password="hunter2"))) == [
        ("contactPoints[0].receivers[0].settings.password",
         "must come from the environment (${VAR} or $__env{VAR}), not be written in the file", "interpolation")]
    assert found(problems_after(f.check_contact_points, points,
                                lambda d: d["contactPoints"][0]["receivers"][1]["settings"].pop("addresses"))) == [
        ("contactPoints[0].receivers[1]", "a email receiver needs 'settings.addresses'", "contact-points")]


def test_every_problem_cites_a_documented_section(config):
    model = json.loads(dashboard_json(config, "overview"))
    model["id"] = 1
    problems = f.check_dashboard(model) + f.check_alert_rules({"apiVersion": 1, "groups": [{}]})
    assert problems and all(p.doc in f.DOCS and f.DOCS[p.doc].startswith("https://grafana.com/docs/") for p in problems)
