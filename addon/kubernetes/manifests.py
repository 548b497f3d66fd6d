"""The Kubernetes manifest pieces that come from the configuration, as generation targets.

``manifests/`` holds hand-written kustomize bases and overlays that name nothing an
installation changes. Everything that does (namespaces, the ``release`` label, the app's pod
selector and metrics port, image names and tags from the one version number, volume sizes,
the Ingress host) is rendered here into ``generated/`` folders next to them: kustomize
Components that set namespace, labels and images, ConfigMap sources (``prometheus.yml``,
rule files, Grafana provisioning, dashboards), and whole objects that cross namespaces
(NetworkPolicies, Ingresses, ServiceMonitors, RBAC).

Files produced elsewhere by ``vigilante generate`` (rule files, dashboards, Grafana alert
files) are *mirrored*: the copy under ``manifests/`` is byte for byte the other target's
text, because kustomize only reads files below the kustomization that names them.

    >>> from vigilante.config import Config
    >>> cfg = Config()
    >>> pieces = {t.path: t for t in targets([])}
    >>> "manifests/overlays/standalone/monitoring/generated/prometheus.yml" in pieces
    True
    >>> component = yaml.safe_load(pieces["manifests/addon/generated/kustomization.yaml"].render(cfg))
    >>> component["kind"], component["namespace"], component["images"][0]["newTag"] == __version__
    ('Component', 'vigilante', True)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any, Callable, Sequence

import yaml

from vigilante.version import __version__
from vigilante.config import Config, check_across
from vigilante.escaping import kubernetes_name, prometheus_duration
from vigilante.prometheus.scrape_config import (KUBE_STATE_METRICS_POD_SELECTOR, KUBE_STATE_METRICS_PORT,
                                                SCORER_METRICS_PORT, SCORER_POD_SELECTOR, kubernetes_scrape_configs,
                                                prometheus_config, scrape_timeout)
from vigilante.targets import Target

SOURCE = "addon/kubernetes/manifests.py"
LOOPBACK_ADDRESSES = ("127.0.0.1", "localhost", "::1")
ROOT = "manifests"
STANDALONE = f"{ROOT}/overlays/standalone"
KUBE_PROMETHEUS_STACK = f"{ROOT}/overlays/kube-prometheus-stack"
MONITORING = f"{STANDALONE}/monitoring"

APP_IMAGE = "vigilante-app"
SCORER_IMAGE = "vigilante-scorer"
"""Image names as the hand-written manifests spell them; the generated Components set registry and tag."""

PROMETHEUS_POD_SELECTOR = {"app.kubernetes.io/name": "prometheus"}
"""Label of Prometheus pods: ours (standalone), and kube-prometheus-stack's (set by the operator)."""
GRAFANA_POD_SELECTOR = {"app.kubernetes.io/name": "grafana"}
SCORER_LABELS = dict([SCORER_POD_SELECTOR.split("=")])
KUBE_STATE_METRICS_LABELS = dict([KUBE_STATE_METRICS_POD_SELECTOR.split("=")])
PROMETHEUS_PORT = 9090
GRAFANA_SUB_PATH = "/grafana"
DASHBOARD_PROVIDER_SOURCE = "dashboards_py/generated/grafana-dashboard-provider.yaml"
"""Mirrored as is: the standalone Grafana mounts the dashboards where this provider reads them."""
NO_BACKEND_SERVICE = "no-backend"
"""A Service without selector or endpoints: the Ingress sends paths that must never be served to it."""

BLOCKED_PATHS = ("/metrics", f"{GRAFANA_SUB_PATH}/metrics")
"""Paths the Ingress never forwards: the app serves /metrics on its main port, Grafana under its sub-path."""

MIRRORED_SOURCES = "dashboards_py/generated/"


# --- small helpers ----------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (inline patches) as ``|`` blocks."""


_BlockDumper.add_representer(
    str, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None))


def dump(*documents: Any) -> str:
    """YAML documents as the generated manifests write them: key order kept, block style."""
    return "---\n".join(yaml.dump(d, Dumper=_BlockDumper, sort_keys=False, width=1_000_000, default_flow_style=False)
                        for d in documents)


def version_labels(part_of: str | None = "vigilante") -> dict[str, str]:
    labels = {"app.kubernetes.io/part-of": part_of} if part_of else {}
    labels["app.kubernetes.io/version"] = __version__
    return labels


def selector_of(pod_selector: str) -> dict[str, str]:
    """``'label=value'`` (the configuration's form) as a ``matchLabels`` mapping."""
    label, _, value = pod_selector.partition("=")
    return {label: value}


object_name = kubernetes_name
"""A Kubernetes object name for a job (:func:`vigilante.escaping.kubernetes_name`)."""


def image(config: Config, name: str) -> dict[str, str]:
    return {"name": name, "newName": f"{config.kubernetes.image_registry}/{name}", "newTag": __version__}


def prometheus_retention(config: Config) -> str:
    """``--storage.tsdb.retention.time``: the configured days, refused if shorter than a rule needs.

    The longest burn-rate window must fit, plus a day so the alert has history on day one
    of a restart; the scorer's bootstrap (its training rows) reads far less.
    """
    check_across(config)
    return f"{config.kubernetes.prometheus_retention_days}d"


def prometheus_retention_size(config: Config) -> str:
    """``--storage.tsdb.retention.size``: 80 % of the volume, so compaction and the WAL never fill it."""
    size = config.kubernetes.prometheus_storage
    mebibytes = int(size[:-2]) * {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}[size[-2:]]
    return f"{mebibytes * 8 // 10}MB"  # Prometheus' MB is 2**20 bytes


def component(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component", **fields}


def namespace_object(name: str, part_of: str | None = "vigilante") -> dict[str, Any]:
    # Every pod here meets the "restricted" Pod Security Standard: let the API server enforce it.
    labels = {**version_labels(part_of), "pod-security.kubernetes.io/enforce": "restricted"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def template_labels(part_of: str | None = "vigilante") -> list[dict[str, Any]]:
    # Not in selectors: a selector is immutable, so a version in it would block every upgrade.
    return [{"pairs": version_labels(part_of), "includeSelectors": False, "includeTemplates": True}]


def env_patch(deployment: str, container: str, env: dict[str, str]) -> dict[str, Any]:
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": deployment},
             "spec": {"template": {"spec": {"containers": [
                 {"name": container, "env": [{"name": k, "value": v} for k, v in env.items()]}]}}}}
    return {"target": {"kind": "Deployment", "name": deployment}, "patch": dump(patch)}


def json_patch(kind: str, name: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"target": {"kind": kind, "name": name}, "patch": dump(operations)}


# --- the add-on's own namespace (scorer), used by both overlays ----------------------------


def addon_component(config: Config) -> dict[str, Any]:
    return component(
        namespace=config.kubernetes.namespace,
        resources=["namespace.yaml"],
        labels=template_labels(),
        images=[image(config, SCORER_IMAGE)],
        configMapGenerator=[{"name": "vigilante-config", "files": ["vigilante.yaml"]}],
        patches=[
            json_patch("PersistentVolumeClaim", "vigilante-scorer-state", [
                {"op": "replace", "path": "/spec/resources/requests/storage", "value": config.kubernetes.scorer_storage}]),
            # The port the scorer listens on (scorer.listen_port, which it reads from the same
            # configuration), on its container and its Service; probes and scrapes use the name.
            json_patch("Deployment", "vigilante-scorer", [
                {"op": "replace", "path": "/spec/template/spec/containers/0/ports/0/containerPort",
                 "value": config.scorer.listen_port}]),
            json_patch("Service", "vigilante-scorer", [
                {"op": "replace", "path": "/spec/ports/0/port", "value": config.scorer.listen_port}]),
        ],
    )


def scorer_configuration(config: Config) -> str:
    """The configuration the scorer reads (``$VIGILANTE_CONFIG``): the one this output was generated from.

    A loopback ``service.listen_address`` (the default, right for a laptop) is widened to all
    addresses: in a pod, Prometheus scrapes the pod's own address.
    """
    if config.service.listen_address in LOOPBACK_ADDRESSES:
        config = config.replace("service", listen_address="0.0.0.0")
    return yaml.safe_dump(config.as_dict(), sort_keys=False)


# --- the demo app, and the components that attach the add-on to any app -------------------


def app_component(config: Config) -> dict[str, Any]:
    """The demo app's namespace, version, image, Ingress and NetworkPolicy: all of it goes when ``../../app`` does."""
    return component(namespace=config.app.namespace, resources=["namespace.yaml", "ingress.yaml", "network-policy.yaml"],
                     labels=template_labels(part_of=None), images=[image(config, APP_IMAGE)])


def attach_app_component(config: Config) -> dict[str, Any]:
    """Names the app's metrics port and labels its pods and Service as the scrape configs select them.

    Applies to every Deployment and Service in the kustomization that carry the configured
    pod-selector label; the container is found by name, the Service port is its first one.
    """
    k = config.kubernetes
    selector = selector_of(config.app_pod_selector)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "attached-app"}, "spec": {
        "template": {"metadata": {"labels": selector}, "spec": {"containers": [
            {"name": k.app_container, "ports": [{"containerPort": k.app_port, "name": k.app_metrics_port}]}]}}}}
    return component(patches=[
        {"target": {"kind": "Deployment", "labelSelector": config.app_pod_selector}, "patch": dump(deployment)},
        {"target": {"kind": "Service", "labelSelector": config.app_pod_selector}, "patch": dump([
            {"op": "add", "path": "/spec/ports/0/name", "value": k.app_metrics_port},
            {"op": "add", "path": "/spec/ports/0/targetPort", "value": k.app_metrics_port}])},
    ])


MULTIPROC_DIR = "/run/prometheus-multiproc"


def multiprocess_component(config: Config) -> dict[str, Any]:
    """For apps run with several gunicorn worker processes: a memory-backed, per-pod metrics directory.

    The app's gunicorn must load :mod:`vigilante.gunicorn_hooks` (``-c python:vigilante.gunicorn_hooks``).
    """
    k = config.kubernetes
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "attached-app"}, "spec": {
        "template": {"spec": {
            "containers": [{"name": k.app_container,
                            "env": [{"name": "PROMETHEUS_MULTIPROC_DIR", "value": MULTIPROC_DIR}],
                            "volumeMounts": [{"name": "prometheus-multiproc", "mountPath": MULTIPROC_DIR}]}],
            "volumes": [{"name": "prometheus-multiproc", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]}}}}
    return component(patches=[{"target": {"kind": "Deployment", "labelSelector": config.app_pod_selector},
                               "patch": dump(deployment)}])


# --- network policies: only Prometheus reaches metrics ports -------------------------------


def _peer(namespace: str, pods: dict[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def _allow(name: str, namespace: str, pods: dict[str, str], peers: list[dict[str, Any]], ports: list[Any],
           why: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": version_labels(),
                         "annotations": {"vigilante.io/why": why}},
            "spec": {"podSelector": {"matchLabels": pods}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": peers, "ports": [{"port": p, "protocol": "TCP"} for p in ports]}]}}


def _deny_all_ingress(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-ingress", "namespace": namespace, "labels": version_labels()},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def app_network_policy(config: Config) -> dict[str, Any]:
    """The demo app's port: Prometheus (ours or kube-prometheus-stack's) and the Ingress controller only.

    The app serves /metrics on its main port, so that port is open to Prometheus and to the
    Ingress controller, which never forwards /metrics (see :func:`app_ingress`).
    """
    k = config.kubernetes
    prometheus = [_peer(ns, PROMETHEUS_POD_SELECTOR) for ns in dict.fromkeys([k.namespace, k.prometheus_namespace])]
    return _allow("app-from-prometheus-and-ingress", config.app.namespace, selector_of(config.app_pod_selector),
                  [*prometheus, _peer(k.ingress_namespace)], [k.app_metrics_port],
                  "Prometheus scrapes the app; the Ingress controller serves it but never forwards /metrics.")


def network_policies(config: Config, standalone: bool) -> list[dict[str, Any]]:
    """Ingress rules: everything in the add-on's namespace is closed but what is listed here."""
    k = config.kubernetes
    prometheus = _peer(k.namespace if standalone else k.prometheus_namespace, PROMETHEUS_POD_SELECTOR)
    ingress_controller = _peer(k.ingress_namespace)
    policies = [
        _deny_all_ingress(k.namespace),
        _allow("scorer-from-prometheus", k.namespace, SCORER_LABELS, [prometheus], [SCORER_METRICS_PORT],
               "Only Prometheus scrapes the scorer's metrics port."),
    ]
    if standalone:
        own = lambda pods: {"podSelector": {"matchLabels": pods}}  # noqa: E731 - peers in this namespace
        policies += [
            _allow("kube-state-metrics-from-prometheus", k.namespace, KUBE_STATE_METRICS_LABELS, [own(PROMETHEUS_POD_SELECTOR)],
                   [KUBE_STATE_METRICS_PORT], "Only Prometheus scrapes kube-state-metrics."),
            _allow("prometheus-from-grafana-and-scorer", k.namespace, PROMETHEUS_POD_SELECTOR,
                   [own(GRAFANA_POD_SELECTOR), own(SCORER_LABELS)], ["web"],
                   "Grafana and the scorer query Prometheus; nothing else does."),
            _allow("grafana-from-ingress", k.namespace, GRAFANA_POD_SELECTOR, [ingress_controller], ["http"],
                   "Grafana is reached through the Ingress only."),
        ]
    return policies


# --- standalone: Prometheus, Grafana, kube-state-metrics, Ingress ---------------------------


def monitoring_component(config: Config, dashboards: Sequence[str], alerting: Sequence[str]) -> dict[str, Any]:
    return component(
        namespace=config.kubernetes.namespace,
        labels=template_labels(),
        configMapGenerator=[
            {"name": "prometheus-config", "files": ["prometheus.yml"]},
            {"name": "prometheus-rules", "files": [RECORDING_RULES_NAME]},
            {"name": "grafana-datasources", "files": ["datasources.yaml"]},
            {"name": "grafana-dashboard-providers", "files": [PurePosixPath(DASHBOARD_PROVIDER_SOURCE).name]},
            {"name": "grafana-dashboards", "files": list(dashboards)},
            {"name": "grafana-alerting", "files": list(alerting)},
        ],
        patches=[
            json_patch("Deployment", "prometheus", [
                {"op": "add", "path": "/spec/template/spec/containers/0/args/-",
                 "value": f"--storage.tsdb.retention.time={prometheus_retention(config)}"},
                {"op": "add", "path": "/spec/template/spec/containers/0/args/-",
                 "value": f"--storage.tsdb.retention.size={prometheus_retention_size(config)}"}]),
            {"target": {"kind": "Deployment", "name": "grafana"}, "patch": dump({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "grafana"},
                "spec": {"template": {"spec": {"containers": [{"name": "grafana", "volumeMounts": [
                    {"name": "dashboards", "mountPath": config.grafana.dashboards_path, "readOnly": True}]}]}}}})},
            json_patch("PersistentVolumeClaim", "prometheus-data", [
                {"op": "replace", "path": "/spec/resources/requests/storage", "value": config.kubernetes.prometheus_storage}]),
        ],
    )


RECORDING_RULES_SOURCE = "rules/generated/vigilante-recording.rules.yml"
RECORDING_RULES_NAME = PurePosixPath(RECORDING_RULES_SOURCE).name
PROMETHEUS_RULE_SOURCE = "rules/generated/vigilante-prometheusrule.yaml"
RULES_DIR = "/etc/prometheus/rules"


def standalone_prometheus_yml(config: Config) -> str:
    """``prometheus.yml`` of the standalone Prometheus: pod discovery, cAdvisor, kube-state-metrics.

    Recording rules only: in this overlay Grafana alerting sends the notifications, so no
    Alertmanager is configured and no second engine pages for the same alert.
    """
    document = prometheus_config(config, kubernetes_scrape_configs(config), rule_files=[f"{RULES_DIR}/*.yml"])
    return dump(document)


def grafana_datasources(config: Config) -> str:
    return dump({"apiVersion": 1, "datasources": [{
        "name": "Prometheus", "type": "prometheus", "uid": config.grafana.datasource_uid,
        "url": f"http://prometheus.{config.kubernetes.namespace}.svc:{PROMETHEUS_PORT}", "access": "proxy",
        "isDefault": True, "editable": False,
        "jsonData": {"timeInterval": f"{config.prometheus.scrape_interval_seconds:g}s", "httpMethod": "POST"}}]})


def _ingress(name: str, namespace: str, config: Config, paths: list[tuple[str, str, Any]]) -> dict[str, Any]:
    k = config.kubernetes
    rule: dict[str, Any] = {"http": {"paths": [
        {"path": path, "pathType": "Prefix",
         "backend": {"service": {"name": service, "port": {"name" if isinstance(port, str) else "number": port}}}}
        for path, service, port in paths]}}
    if k.ingress_host:
        rule = {"host": k.ingress_host, **rule}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "labels": version_labels()},
            "spec": {"ingressClassName": k.ingress_class, "rules": [rule]}}


def _no_backend(namespace: str) -> dict[str, Any]:
    # No selector and no Endpoints: whatever the controller, nothing is behind it (it answers 503).
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NO_BACKEND_SERVICE, "namespace": namespace, "labels": version_labels(),
                         "annotations": {"vigilante.io/why": "Ingress target for paths that must never be served."}},
            "spec": {"ports": [{"name": "none", "port": 80, "protocol": "TCP"}]}}


def app_ingress(config: Config) -> list[dict[str, Any]]:
    """Everything to the app but ``/metrics``, which goes to a Service with nothing behind it.

    The longest matching prefix wins (Ingress specification), so ``/metrics`` beats ``/``.
    """
    return [
        _no_backend(config.app.namespace),
        _ingress("ticket-app", config.app.namespace, config,
                 [("/", "ticket-app", config.kubernetes.app_metrics_port), ("/metrics", NO_BACKEND_SERVICE, 80)]),
    ]


def grafana_ingress(config: Config) -> list[dict[str, Any]]:
    """``/grafana`` to Grafana, but not ``/grafana/metrics``.

    A separate object from the app's because a backend must live in its Ingress' namespace;
    controllers merge the Ingresses of one class and host.
    """
    k = config.kubernetes
    return [
        _no_backend(k.namespace),
        _ingress("grafana", k.namespace, config,
                 [(GRAFANA_SUB_PATH, "grafana", "http"), (f"{GRAFANA_SUB_PATH}/metrics", NO_BACKEND_SERVICE, 80)]),
    ]


def pod_discovery_rbac(config: Config) -> list[dict[str, Any]]:
    """Prometheus lists pods in the two namespaces it scrapes, and nowhere else."""
    docs: list[dict[str, Any]] = []
    for namespace in dict.fromkeys([config.app.namespace, config.kubernetes.namespace]):
        meta = {"name": "vigilante-prometheus-discovery", "namespace": namespace, "labels": version_labels()}
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
                     "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]})
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
                     "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": config.kubernetes.namespace}]})
    return docs


def standalone_component(config: Config) -> dict[str, Any]:
    return component(
        resources=["network-policies.yaml", "ingress.yaml", "rbac.yaml"],
        patches=[env_patch("vigilante-scorer", "scorer", {
            "VIGILANTE_PROMETHEUS__URL": f"http://prometheus.{config.kubernetes.namespace}.svc:{PROMETHEUS_PORT}"})],
    )


# --- kube-prometheus-stack: ServiceMonitors, PrometheusRule, dashboards for the sidecar ----


def service_monitors(config: Config) -> list[dict[str, Any]]:
    """One ServiceMonitor per job, on named ports, with the install's ``release`` label.

    Each endpoint sets ``job`` to the configured name, so rules and panels select the same
    series as with the standalone Prometheus; the operator adds ``namespace`` and ``pod``.
    """
    k = config.kubernetes

    def monitor(name: str, job: str, namespace: str, selector: dict[str, str], port: str,
                interval: float) -> dict[str, Any]:
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": {"name": name, "namespace": k.namespace,
                             "labels": {**version_labels(), "release": k.release}},
                "spec": {"selector": {"matchLabels": selector}, "namespaceSelector": {"matchNames": [namespace]},
                         "endpoints": [{"port": port, "path": "/metrics", "interval": prometheus_duration(interval),
                                        "scrapeTimeout": scrape_timeout(interval),
                                        "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": job}]}]}}

    return [
        monitor(object_name(config.app.job), config.app.job, config.app.namespace, selector_of(config.app_pod_selector),
                k.app_metrics_port, config.prometheus.scrape_interval_seconds),
        monitor(object_name(config.scorer.job), config.scorer.job, k.namespace, SCORER_LABELS, SCORER_METRICS_PORT,
                config.prometheus.scorer_interval_seconds),
    ]


DASHBOARD_CONFIGMAP_PREFIX = "vigilante-dashboard-"


def kube_prometheus_stack_component(config: Config, dashboards: Sequence[str]) -> dict[str, Any]:
    """Dashboards as one ConfigMap each (a ConfigMap holds at most 1 MiB) in Grafana's namespace."""
    k = config.kubernetes
    return component(
        resources=["prometheusrule.yaml", "service-monitors.yaml", "network-policies.yaml"],
        # The PrometheusRule is mirrored byte for byte from rules/generated/; the version label is added here.
        labels=[{"pairs": {"app.kubernetes.io/version": __version__}}],
        configMapGenerator=[{
            "name": DASHBOARD_CONFIGMAP_PREFIX + PurePosixPath(name).stem.replace(".", "-").replace("_", "-"),
            "namespace": k.prometheus_namespace,
            "files": [name],
            "options": {
                # The sidecar watches these names; a hash suffix would leave old copies behind.
                "disableNameSuffixHash": True,
                "labels": {"grafana_dashboard": "1", **version_labels()},
                "annotations": {"grafana_folder": config.grafana.folder}},
        } for name in dashboards],
        patches=[env_patch("vigilante-scorer", "scorer", {"VIGILANTE_PROMETHEUS__URL": k.prometheus_url})],
    )


# --- the registry ----------------------------------------------------------------------


def _mirror(source: Target, path: str) -> Target:
    """``path`` holds exactly the text of ``source`` (already headed), so it gets no second header."""
    return Target(path, source.source, source.text, comment=None)


def mirrored_grafana_files(sources: Sequence[Target]) -> tuple[list[Target], list[Target]]:
    """The generated dashboards (``*.json``) and Grafana alerting files (alert rules, contact points)."""
    dashboards, alerting = [], []
    for t in sources:
        if not t.path.startswith(MIRRORED_SOURCES):
            continue
        name = PurePosixPath(t.path).name
        if name.endswith(".json"):
            dashboards.append(t)
        elif name.endswith((".yml", ".yaml")) and ("alert" in name or "contact" in name):
            alerting.append(t)
    return dashboards, alerting


def _dump_built(built: Any) -> str:
    return dump(*built) if isinstance(built, list) else dump(built)


def targets(sources: Sequence[Target]) -> list[Target]:
    """Every generated file under ``manifests/``; ``sources`` are the other targets (some are mirrored)."""
    by_path = {t.path: t for t in sources}
    dashboards, alerting = mirrored_grafana_files(sources)
    names = lambda ts: [PurePosixPath(t.path).name for t in ts]  # noqa: E731

    def doc(path: str, build: Callable[[Config], Any]) -> Target:
        return Target(path, SOURCE, lambda c: _dump_built(build(c)))

    out = [
        doc(f"{ROOT}/addon/generated/kustomization.yaml", addon_component),
        doc(f"{ROOT}/addon/generated/namespace.yaml", lambda c: namespace_object(c.kubernetes.namespace)),
        Target(f"{ROOT}/addon/generated/vigilante.yaml", SOURCE, scorer_configuration),
        doc(f"{ROOT}/app/generated/kustomization.yaml", app_component),
        doc(f"{ROOT}/app/generated/namespace.yaml", lambda c: namespace_object(c.app.namespace, part_of=None)),
        doc(f"{ROOT}/app/generated/ingress.yaml", app_ingress),
        doc(f"{ROOT}/app/generated/network-policy.yaml", app_network_policy),
        doc(f"{ROOT}/components/attach-app/kustomization.yaml", attach_app_component),
        doc(f"{ROOT}/components/multiprocess/kustomization.yaml", multiprocess_component),
        doc(f"{MONITORING}/generated/kustomization.yaml",
            lambda c: monitoring_component(c, names(dashboards), names(alerting))),
        Target(f"{MONITORING}/generated/prometheus.yml", SOURCE, standalone_prometheus_yml),
        Target(f"{MONITORING}/generated/datasources.yaml", SOURCE, grafana_datasources),
        doc(f"{STANDALONE}/generated/kustomization.yaml", standalone_component),
        doc(f"{STANDALONE}/generated/network-policies.yaml", lambda c: network_policies(c, standalone=True)),
        doc(f"{STANDALONE}/generated/ingress.yaml", grafana_ingress),
        doc(f"{STANDALONE}/generated/rbac.yaml", pod_discovery_rbac),
        doc(f"{KUBE_PROMETHEUS_STACK}/generated/kustomization.yaml",
            lambda c: kube_prometheus_stack_component(c, names(dashboards))),
        doc(f"{KUBE_PROMETHEUS_STACK}/generated/service-monitors.yaml", service_monitors),
        doc(f"{KUBE_PROMETHEUS_STACK}/generated/network-policies.yaml", lambda c: network_policies(c, standalone=False)),
    ]
    if RECORDING_RULES_SOURCE in by_path:
        out.append(_mirror(by_path[RECORDING_RULES_SOURCE], f"{MONITORING}/generated/{RECORDING_RULES_NAME}"))
    if DASHBOARD_PROVIDER_SOURCE in by_path:
        out.append(_mirror(by_path[DASHBOARD_PROVIDER_SOURCE],
                           f"{MONITORING}/generated/{PurePosixPath(DASHBOARD_PROVIDER_SOURCE).name}"))
    if PROMETHEUS_RULE_SOURCE in by_path:
        out.append(_mirror(by_path[PROMETHEUS_RULE_SOURCE], f"{KUBE_PROMETHEUS_STACK}/generated/prometheusrule.yaml"))
    for t in dashboards:
        name = PurePosixPath(t.path).name
        out.append(_mirror(t, f"{MONITORING}/generated/{name}"))
        out.append(_mirror(t, f"{KUBE_PROMETHEUS_STACK}/generated/{name}"))
    for t in alerting:
        out.append(_mirror(t, f"{MONITORING}/generated/{PurePosixPath(t.path).name}"))
    return out
