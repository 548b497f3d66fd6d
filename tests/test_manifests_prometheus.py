"""What the overlays give Prometheus is valid, and the cluster scrape config labels targets as panels expect.

Rules are checked with ``promtool check rules``, the standalone ``prometheus.yml`` with
``promtool check config``, both taken from the built manifests. Debian's Prometheus has no
Kubernetes discovery, so the pod and node discovery blocks are swapped for file discovery
whose targets carry the ``__meta_kubernetes_*`` labels the API server would give; the real
Prometheus then runs the relabelling against the real app on 127.0.0.1.

Time is compressed in the end-to-end test: scrape and evaluation every 1 s instead of the
configured 15 s; nothing else in the built configuration is changed but what is named there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
import yaml

from scripts.harness import promtool, wait_until
from scripts.demo_config import demo_config
from tests.fixtures.kustomize import REPO_ROOT, build_overlay, find

CONFIG = demo_config()


@pytest.fixture(scope="module")
def standalone():
    return build_overlay("standalone")


def _config_map_file(objects, name):
    (text,) = find(objects, "ConfigMap", name)["data"].values()
    return text


def test_the_prometheus_rule_groups_pass_promtool_check_rules(tmp_path):
    rule = find(build_overlay("kube-prometheus-stack"), "PrometheusRule", "vigilante-rules")
    path = tmp_path / "prometheusrule.rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))

    check = promtool("check", "rules", str(path))

    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule['spec']['groups'])} rules found" in check.stdout


def test_the_standalone_rule_files_pass_promtool_check_rules(standalone, tmp_path):
    data = find(standalone, "ConfigMap", "prometheus-rules")["data"]
    assert data
    for name, text in data.items():
        (tmp_path / name).write_text(text)
        check = promtool("check", "rules", str(tmp_path / name))
        assert check.returncode == 0, check.stdout + check.stderr
        groups = yaml.safe_load(text)["groups"]
        assert all("record" in r for g in groups for r in g["rules"]), "alerts here would page beside Grafana"


def _with_file_discovery(document, directory):
    """The same configuration with each ``kubernetes_sd_configs`` block read from ``<directory>/<role>.json``."""
    document = yaml.safe_load(yaml.safe_dump(document))
    for job in document["scrape_configs"]:
        (sd,) = job.pop("kubernetes_sd_configs")
        assert set(sd) <= {"role", "namespaces"}
        job["file_sd_configs"] = [{"files": [str(directory / f"{sd['role']}.json")], "refresh_interval": "1s"}]
    return document


def test_the_standalone_prometheus_yml_passes_promtool_check_config(standalone, tmp_path):
    document = yaml.safe_load(_config_map_file(standalone, "prometheus-config"))
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(_with_file_discovery(document, tmp_path)))

    check = promtool("check", "config", "--syntax-only", str(path))

    assert check.returncode == 0, check.stdout + check.stderr
    assert document["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert "alerting" not in document, "Grafana alerting sends the notifications in this overlay"


def _pod(address, namespace, name, app, port, container, phase="Running"):
    return {"targets": [address], "labels": {
        "__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
        "__meta_kubernetes_pod_container_port_name": port, "__meta_kubernetes_pod_container_name": container,
        "__meta_kubernetes_pod_phase": phase,
        # Prometheus merges targets with equal label sets: keep one per fake pod.
        "__param_pod": name}}


@pytest.mark.slow
def test_the_cluster_scrape_config_labels_app_scorer_and_recorded_series_as_panels_expect(
        standalone, tmp_path, prometheus_factory, gunicorn_factory):
    env = {"TICKETS_INSTANCE_PATH": str(tmp_path / "instance"), "VIGILANTE_CONFIG": ""}
    seed = subprocess.run([sys.executable, "-m", "app_under_test.seed"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, cwd=str(REPO_ROOT))
    assert seed.returncode == 0, seed.stderr
    app = gunicorn_factory(app="app_under_test:create_app()", env=env)
    stand_in = gunicorn_factory(app="tests.fixtures.tiny_app:app", ready_path="/")
    app_address, stand_in_address = app.url.split("//")[1], stand_in.url.split("//")[1]
    k = CONFIG.kubernetes
    pods = [
        _pod(app_address, "tickets", "ticket-app-7d9f-a1", "ticket-app", k.app_metrics_port, "app"),
        _pod(app_address, "tickets", "ticket-app-7d9f-starting", "ticket-app", k.app_metrics_port, "app", "Pending"),
        _pod(app_address, "tickets", "other-app-1", "other-app", k.app_metrics_port, "app"),
        _pod(stand_in_address, k.namespace, "vigilante-scorer-5c-b2", "vigilante-scorer", "metrics", "scorer"),
        _pod(stand_in_address, k.namespace, "kube-state-metrics-6b-c3", "kube-state-metrics", "http-metrics",
             "kube-state-metrics"),
    ]
    (tmp_path / "pod.json").write_text(json.dumps(pods))
    (tmp_path / "node.json").write_text(json.dumps([
        {"targets": ["10.0.0.7:10250"], "labels": {"__meta_kubernetes_node_name": "node-a"}}]))
    document = _with_file_discovery(yaml.safe_load(_config_map_file(standalone, "prometheus-config")), tmp_path)
    document["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}  # compressed time, see module doc
    for job in document["scrape_configs"]:
        # The service-account CA and token exist only in a pod; promtool checked them above.
        job.pop("tls_config", None), job.pop("authorization", None)
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in find(standalone, "ConfigMap", "prometheus-rules")["data"].items():
        (rules / name).write_text(text)
    document["rule_files"] = [str(rules / "*.yml")]
    prom = prometheus_factory(config=document)

    up = prom.wait_for("up == 1", lambda r: len(r) == 3, timeout=60)

    assert sorted((r["metric"]["job"], r["metric"]["namespace"], r["metric"]["pod"], r["metric"].get("container"))
                  for r in up) == [("kube-state-metrics", k.namespace, "kube-state-metrics-6b-c3", "kube-state-metrics"),
                                   (CONFIG.app.job, CONFIG.app.namespace, "ticket-app-7d9f-a1", "app"),
                                   (CONFIG.scorer.job, k.namespace, "vigilante-scorer-5c-b2", "scorer")]
    expr = f'namespace_job:flask_http_requests:rate1m{{job="{CONFIG.app.job}"}} > 0'
    recorded: list = []

    def traffic_recorded() -> bool:
        requests.get(f"{app.url}/", timeout=5)  # a rate needs traffic between two scrapes
        recorded[:] = prom.query(expr)
        return bool(recorded)

    wait_until(traffic_recorded, 60, f"{expr} (one request per check, at most 60 s)")
    assert recorded[0]["metric"] == {"__name__": "namespace_job:flask_http_requests:rate1m",
                                     "namespace": CONFIG.app.namespace, "job": CONFIG.app.job}

    kubelet = [t for t in requests.get(f"{prom.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
               if t["labels"]["job"] == "kubelet"]
    assert kubelet, "no kubelet target"
    assert [(t["scrapeUrl"], t["labels"]["node"], t["labels"]["metrics_path"]) for t in kubelet] == [
        ("https://kubernetes.default.svc:443/api/v1/nodes/node-a/proxy/metrics/cadvisor", "node-a", "/metrics/cadvisor")]
