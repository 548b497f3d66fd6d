"""The one prometheus.yml source: both variants are valid, and pod discovery labels targets as the rules expect."""

from __future__ import annotations

import json

import yaml

from vigilante.config import Config
from vigilante.prometheus.scrape_config import (kubernetes_scrape_configs, pod_relabel_configs, prometheus_config,
                                 static_scrape_configs)
from scripts.harness import promtool


def _check_config(tmp_path, document):
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(document))
    return promtool("check", "config", "--syntax-only", str(path))


def test_the_static_variant_passes_promtool_check_config(tmp_path):
    cfg = Config().replace("prometheus", scrape_interval_seconds=0.5)
    jobs = static_scrape_configs(cfg, app=["127.0.0.1:8000", "127.0.0.1:8001"], scorer=["127.0.0.1:9110"])
    document = prometheus_config(cfg, jobs, alertmanagers=["127.0.0.1:9093"])

    check = _check_config(tmp_path, document)

    assert check.returncode == 0, check.stdout + check.stderr
    assert document["global"]["scrape_interval"] == "500ms"


# Debian's Prometheus 2.42 is built without Kubernetes service discovery: its promtool
# rejects `kubernetes_sd_configs` as an unknown field. So the discovery blocks are checked
# against the documented schema here, and everything else in the job (relabelling, TLS,
# authorization) by promtool with file discovery in their place.
KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


def test_the_kubernetes_variant_passes_promtool_with_discovery_swapped_out(tmp_path):
    cfg = Config()
    jobs = kubernetes_scrape_configs(cfg)
    for job in jobs:
        for sd in job.pop("kubernetes_sd_configs"):
            assert set(sd) <= {"role", "namespaces"} and sd["role"] in KUBERNETES_SD_ROLES, sd
            assert set(sd.get("namespaces", {})) <= {"names", "own_namespace"}
        job["file_sd_configs"] = [{"files": [str(tmp_path / "targets.json")]}]

    check = _check_config(tmp_path, prometheus_config(cfg, jobs))

    assert check.returncode == 0, check.stdout + check.stderr


def test_pods_are_discovered_in_the_configured_namespaces():
    cfg = Config().replace("app", namespace="shop").replace("kubernetes", namespace="observability")
    by_job = {job["job_name"]: job for job in kubernetes_scrape_configs(cfg)}

    assert by_job["ticket-app"]["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["shop"]}}]
    assert by_job["vigilante-scorer"]["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["observability"]}


def test_both_variants_scrape_the_same_jobs_for_app_and_scorer():
    cfg = Config()
    k8s = {job["job_name"] for job in kubernetes_scrape_configs(cfg)}
    local = {job["job_name"] for job in static_scrape_configs(cfg, app=["a:1"], scorer=["b:2"])}

    assert local == {cfg.app.job, cfg.scorer.job}
    assert local <= k8s


def test_pod_discovery_keeps_running_app_pods_and_labels_them(tmp_path, prometheus_factory, gunicorn_factory):
    """Pod-discovery relabelling run by the real Prometheus on targets that carry __meta_kubernetes_* labels."""
    cfg = Config()
    app = gunicorn_factory(app="tests.fixtures.tiny_app:app", ready_path="/")
    address = app.url.split("//")[1]

    def pod(name, **overrides):
        labels = {"__meta_kubernetes_namespace": "tickets", "__meta_kubernetes_pod_name": name,
                  "__meta_kubernetes_pod_label_app_kubernetes_io_name": "ticket-app",
                  "__meta_kubernetes_pod_container_port_name": "http",
                  "__meta_kubernetes_pod_container_name": "app", "__meta_kubernetes_pod_phase": "Running"}
        labels.update(overrides)
        # Distinct addresses per pod: Prometheus merges targets with equal label sets.
        return {"targets": [address], "labels": {**labels, "__param_pod": name}}

    targets = tmp_path / "pods.json"
    targets.write_text(json.dumps([
        pod("ticket-app-7d9f-abcde"),
        pod("ticket-app-7d9f-pending", __meta_kubernetes_pod_phase="Pending"),
        pod("other-app-1", __meta_kubernetes_pod_label_app_kubernetes_io_name="other-app"),
        pod("ticket-app-7d9f-debugport", __meta_kubernetes_pod_container_port_name="debug"),
    ]))
    job = {"job_name": cfg.app.job, "file_sd_configs": [{"files": [str(targets)]}],
           "relabel_configs": pod_relabel_configs(cfg.app_pod_selector, cfg.kubernetes.app_metrics_port)}
    prom = prometheus_factory(scrape_configs=[job])

    result = prom.wait_for("up == 1", timeout=30)
    prom.wait_for("tiny_app_hits_total", timeout=30)

    assert [r["metric"] for r in result] == [{
        "__name__": "up", "job": "ticket-app", "namespace": "tickets", "pod": "ticket-app-7d9f-abcde",
        "container": "app", "instance": address}]
    assert prom.query("count(up)")[0]["value"][1] == "1"
