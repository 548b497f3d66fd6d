"""The one ``prometheus.yml`` source, rendered in two scrape variants.

- :func:`kubernetes_scrape_configs`: pod discovery, so every replica is scraped on its
  own (never through the Service, which would sample one pod at random), plus cAdvisor
  through the API server's node proxy and kube-state-metrics, which the saturation
  alerts and panels read;
- :func:`static_scrape_configs`: fixed ``host:port`` targets for the local stack.

Both give the app's and the scorer's series the same ``job``, ``namespace`` and ``pod``
labels, so every recording rule, panel and alert works unchanged in both::

    >>> from vigilante.config import Config
    >>> cfg = Config()
    >>> [job["job_name"] for job in kubernetes_scrape_configs(cfg)]
    ['ticket-app', 'vigilante-scorer', 'kubelet', 'kube-state-metrics']
    >>> local = static_scrape_configs(cfg, app=["127.0.0.1:8000"], scorer=["127.0.0.1:9110"])
    >>> local[0]["static_configs"][0]["labels"]
    {'namespace': 'tickets', 'pod': 'local-0'}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from vigilante.config import Config
from vigilante.escaping import prometheus_duration

SCORER_POD_SELECTOR = "app.kubernetes.io/name=vigilante-scorer"
"""Label our scorer manifests put on the scorer's pod."""

SCORER_METRICS_PORT = "metrics"
KUBE_STATE_METRICS_POD_SELECTOR = "app.kubernetes.io/name=kube-state-metrics"
KUBE_STATE_METRICS_PORT = "http-metrics"

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def prometheus_config(config: Config, scrape_configs: Sequence[dict[str, Any]], rule_files: Sequence[str | Path] = (),
                      alertmanagers: Sequence[str] = ()) -> dict[str, Any]:
    """A whole ``prometheus.yml``: intervals from the configuration, the given jobs and rule files."""
    document: dict[str, Any] = {
        "global": {
            "scrape_interval": prometheus_duration(config.prometheus.scrape_interval_seconds),
            "evaluation_interval": prometheus_duration(config.prometheus.evaluation_interval_seconds),
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": list(scrape_configs),
    }
    if alertmanagers:
        document["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    return document


def kubernetes_scrape_configs(config: Config) -> list[dict[str, Any]]:
    """Scrape jobs for a cluster: app and scorer pods, cAdvisor, kube-state-metrics."""
    return [
        _pod_job(config.app.job, config.app.namespace, config.app_pod_selector,
                 config.kubernetes.app_metrics_port),
        {**_pod_job(config.scorer.job, config.kubernetes.namespace, SCORER_POD_SELECTOR, SCORER_METRICS_PORT),
         **scorer_scrape_interval(config)},
        _cadvisor_job(),
        {
            **_pod_job("kube-state-metrics", config.kubernetes.namespace, KUBE_STATE_METRICS_POD_SELECTOR,
                       KUBE_STATE_METRICS_PORT),
            # Its namespace/pod labels describe the objects it reports on, not itself.
            "honor_labels": True,
        },
    ]


def static_scrape_configs(config: Config, app: Sequence[str], scorer: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Scrape jobs for the local stack: each ``host:port`` gets the labels pod discovery would give it."""
    jobs = [_static_job(config.app.job, config.app.namespace, app)]
    if scorer:
        jobs.append({**_static_job(config.scorer.job, config.kubernetes.namespace, scorer), **scorer_scrape_interval(config)})
    return jobs


def scorer_scrape_interval(config: Config) -> dict[str, str]:
    """The scorer's own scrape interval and timeout (a timeout longer than the interval is refused).

    >>> scorer_scrape_interval(Config())
    {'scrape_interval': '5s', 'scrape_timeout': '5s'}
    """
    interval = config.prometheus.scorer_interval_seconds
    return {"scrape_interval": prometheus_duration(interval), "scrape_timeout": scrape_timeout(interval)}


def scrape_timeout(interval_seconds: float) -> str:
    """Prometheus' default scrape timeout (10 s), shortened to a shorter interval: it must not exceed it.

    >>> scrape_timeout(5), scrape_timeout(15)
    ('5s', '10s')
    """
    return prometheus_duration(min(interval_seconds, 10.0))


def pod_relabel_configs(pod_selector: str, port_name: str) -> list[dict[str, Any]]:
    """Keep running pods that carry ``pod_selector`` on their ``port_name`` port; label them as the rules expect."""
    label, _, value = pod_selector.partition("=")
    return [
        {"source_labels": [f"__meta_kubernetes_pod_label_{_sanitize(label)}"], "regex": re.escape(value),
         "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": re.escape(port_name),
         "action": "keep"},
        # Pods still starting or already finished have an address but no app to scrape.
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
    ]


def _pod_job(job: str, namespace: str, pod_selector: str, port_name: str) -> dict[str, Any]:
    return {
        "job_name": job,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": pod_relabel_configs(pod_selector, port_name),
    }


def _cadvisor_job() -> dict[str, Any]:
    # Through the API server's node proxy: its certificate verifies against the service
    # account's CA, unlike most kubelets' self-signed serving certificates.
    return {
        "job_name": "kubelet",
        "scheme": "https",
        "tls_config": {"ca_file": f"{SERVICE_ACCOUNT_DIR}/ca.crt"},
        "authorization": {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"},
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "__metrics_path__",
             "replacement": "/api/v1/nodes/${1}/proxy/metrics/cadvisor"},
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "node"},
            # The label kube-prometheus-stack puts on cAdvisor series, so one selector fits both installs.
            {"target_label": "metrics_path", "replacement": "/metrics/cadvisor"},
        ],
    }


def _static_job(job: str, namespace: str, targets: Sequence[str]) -> dict[str, Any]:
    return {
        "job_name": job,
        "static_configs": [{"targets": [target], "labels": {"namespace": namespace, "pod": f"local-{i}"}}
                           for i, target in enumerate(targets)],
    }


def _sanitize(label: str) -> str:
    """Kubernetes label name as Prometheus spells it in ``__meta_kubernetes_pod_label_*``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)
