"""Two apps watched side by side by one Prometheus: their rule files, series and alerts do not collide.

Each app has its own configuration (``app.job``, ``scorer.job``, ``scorer.listen_port``); the
rule files ``vigilante prometheus-config`` renders for each are loaded together, as the README's
"Several apps" says. Only one app fails; only its recorded error ratio moves, and each scorer
job has its own absence alert.
"""

from __future__ import annotations


import pytest
import yaml

from scripts.harness import GunicornServer, PrometheusServer, promtool
from tests.traffic import paced_traffic
from tests.user_commands import prometheus_config

pytestmark = pytest.mark.slow

APPS = {"a": 9111, "b": 9112}  # name -> its scorer's port


def config_text(name: str, scorer_port: int) -> str:
    return (f"app:\n  job: shop-{name}\n  namespace: shops\n"
            f"scorer:\n  job: scorer-{name}\n  listen_port: {scorer_port}\n"
            "prometheus:\n  scrape_interval_seconds: 1\n  evaluation_interval_seconds: 1\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("two-apps")
    running = []
    try:
        merged = None
        apps = {}
        for name, port in APPS.items():
            config = work / f"{name}.yaml"
            config.write_text(config_text(name, port))
            app = GunicornServer(work / f"app-{name}", app="tests.fixtures.foreign_app:create_app()",
                                 env={"VIGILANTE_CONFIG": str(config)}).start()
            running.append(app)
            apps[name] = app
            out = work / f"prometheus-{name}"
            prometheus_config(config, app.url, out)
            doc = yaml.safe_load((out / "prometheus.yml").read_text())
            doc["rule_files"] = [str(out / f) for f in doc["rule_files"]]
            if merged is None:
                merged = doc
            else:
                merged["rule_files"] += doc["rule_files"]
                merged["scrape_configs"] += doc["scrape_configs"]
        (work / "prometheus.yml").write_text(yaml.safe_dump(merged, sort_keys=False))
        check = promtool("check", "config", str(work / "prometheus.yml"))
        assert check.returncode == 0, check.stdout + check.stderr
        prometheus = PrometheusServer(work / "prometheus", config_file=work / "prometheus.yml").start()
        running.append(prometheus)
        prometheus.targets_up(2)
        paced_traffic(apps["a"].url, 10, 15, ["/shop/items/1", "/shop/fail"])
        paced_traffic(apps["b"].url, 10, 15, ["/shop/items/1", "/shop/items/2"])
        prometheus.wait_for('count(namespace_job:flask_http_requests:rate1m{namespace="shops"}) == 2')
        prometheus.rules_evaluated()
        yield prometheus
    finally:
        for process in reversed(running):
            process.stop()


def test_each_apps_recorded_series_are_its_own(stack):
    ratios = {r["metric"]["job"]: float(r["value"][1])
              for r in stack.query('namespace_job:flask_http_request_errors:ratio_rate1m{namespace="shops"}')}
    assert set(ratios) == {"shop-a", "shop-b"}
    assert ratios["shop-a"] == pytest.approx(0.5, abs=0.1) and ratios["shop-b"] == 0


def test_each_scorer_job_has_its_own_absence_alert(stack):
    alerts = stack.wait_for('ALERTS{alertname="VigilanteScorerAbsent"}', lambda r: len(r) == 2)
    assert {a["metric"]["job"] for a in alerts} == {"scorer-a", "scorer-b"}


def test_both_rule_sets_load_without_errors(stack):
    import requests

    groups = requests.get(f"{stack.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["file"].split("/")[-2] for g in groups} == {"prometheus-a", "prometheus-b"}
    assert all(rule["health"] == "ok" for g in groups for rule in g["rules"])
