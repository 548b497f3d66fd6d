"""The kustomize overlays build, validate against the Kubernetes schemas, and keep what the manifests promise.

Every test builds with the real ``kubectl kustomize`` and checks the rendered objects, the
way ``kubectl apply -k`` would receive them. No cluster runs here.
"""

from __future__ import annotations

import copy
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from vigilante import __version__, generate
from vigilante.cli import main
from vigilante.config import Config, ConfigError, load_config
from vigilante.kubernetes.manifests import (BLOCKED_PATHS, NO_BACKEND_SERVICE, PROMETHEUS_POD_SELECTOR, prometheus_retention,
                             prometheus_retention_size)
from vigilante.kubernetes.manifests import targets as manifest_targets
from scripts.demo_config import demo_config
from tests.fixtures.kustomize import (NATIVE_GROUPS, OVERLAYS, REPO_ROOT, build_overlay, containers, find, kustomize,
                                      matches, of_kind, pod_specs)
from tests.fixtures.network_policy import Source, UnsupportedManifest, admits, normalise, route, selector_matches
from tests.fixtures.prometheus_operator_crds import SCHEMAS
from tests.tools import missing_tool

CONFIG = demo_config()


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict]]:
    return {name: build_overlay(name) for name in OVERLAYS}


def _ids(objects):
    return {(o["kind"], o["metadata"].get("namespace", ""), re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"])
             if o["kind"] == "ConfigMap" else o["metadata"]["name"]) for o in objects}


# --- what each overlay holds ---------------------------------------------------------------

COMMON = {
    ("Namespace", "", "tickets"), ("Namespace", "", "vigilante"),
    ("Deployment", "tickets", "ticket-app"), ("Service", "tickets", "ticket-app"),
    ("HorizontalPodAutoscaler", "tickets", "ticket-app"),
    ("ServiceAccount", "vigilante", "vigilante-scorer"), ("ConfigMap", "vigilante", "vigilante-config"),
    ("PersistentVolumeClaim", "vigilante", "vigilante-scorer-state"),
    ("Deployment", "vigilante", "vigilante-scorer"), ("Service", "vigilante", "vigilante-scorer"),
    ("NetworkPolicy", "vigilante", "default-deny-ingress"), ("NetworkPolicy", "vigilante", "scorer-from-prometheus"),
    ("NetworkPolicy", "tickets", "app-from-prometheus-and-ingress"),
    ("Ingress", "tickets", "ticket-app"), ("Service", "tickets", NO_BACKEND_SERVICE),
}
STANDALONE_ONLY = {
    ("ServiceAccount", "vigilante", "prometheus"), ("ClusterRole", "", "vigilante-prometheus"),
    ("ClusterRoleBinding", "", "vigilante-prometheus"), ("Role", "tickets", "vigilante-prometheus-discovery"),
    ("RoleBinding", "tickets", "vigilante-prometheus-discovery"), ("Role", "vigilante", "vigilante-prometheus-discovery"),
    ("RoleBinding", "vigilante", "vigilante-prometheus-discovery"),
    ("PersistentVolumeClaim", "vigilante", "prometheus-data"), ("Deployment", "vigilante", "prometheus"),
    ("Service", "vigilante", "prometheus"), ("ConfigMap", "vigilante", "prometheus-config"),
    ("ConfigMap", "vigilante", "prometheus-rules"),
    ("ServiceAccount", "vigilante", "kube-state-metrics"), ("ClusterRole", "", "vigilante-kube-state-metrics"),
    ("ClusterRoleBinding", "", "vigilante-kube-state-metrics"), ("Deployment", "vigilante", "kube-state-metrics"),
    ("ServiceAccount", "vigilante", "grafana"), ("Deployment", "vigilante", "grafana"), ("Service", "vigilante", "grafana"),
    ("ConfigMap", "vigilante", "grafana-datasources"), ("ConfigMap", "vigilante", "grafana-dashboard-providers"),
    ("ConfigMap", "vigilante", "grafana-dashboards"), ("ConfigMap", "vigilante", "grafana-alerting"),
    ("Ingress", "vigilante", "grafana"), ("Service", "vigilante", NO_BACKEND_SERVICE),
    ("NetworkPolicy", "vigilante", "kube-state-metrics-from-prometheus"),
    ("NetworkPolicy", "vigilante", "prometheus-from-grafana-and-scorer"), ("NetworkPolicy", "vigilante", "grafana-from-ingress"),
}
KUBE_PROMETHEUS_STACK_ONLY = {
    ("PrometheusRule", "vigilante", "vigilante-rules"),
    ("ServiceMonitor", "vigilante", "ticket-app"), ("ServiceMonitor", "vigilante", "vigilante-scorer"),
    ("ConfigMap", "monitoring", "vigilante-dashboard-overview"), ("ConfigMap", "monitoring", "vigilante-dashboard-anomaly"),
    ("ConfigMap", "monitoring", "vigilante-dashboard-resources"),
}


def test_the_standalone_overlay_holds_the_app_scorer_prometheus_grafana_and_ingress(overlays):
    assert _ids(overlays["standalone"]) == COMMON | STANDALONE_ONLY


def test_the_kube_prometheus_stack_overlay_adds_no_second_prometheus_or_grafana(overlays):
    objects = overlays["kube-prometheus-stack"]

    assert _ids(objects) == COMMON | KUBE_PROMETHEUS_STACK_ONLY
    images = {c["image"].split(":")[0] for _, spec in pod_specs(objects) for c in containers(spec)}
    assert not any("prometheus" in i.split("/")[-1] or "grafana" in i for i in images), images


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.29.0", "1.32.0"])
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_native_objects_pass_kubernetes_validate_strict(overlays, overlay, version, tmp_path):
    cli = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or shutil.which("kubernetes-validate")
    if cli is None:
        missing_tool("kubernetes-validate is not installed: pip install kubernetes-validate (make setup does)")
    native = [o for o in overlays[overlay] if o["apiVersion"] in NATIVE_GROUPS]
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(yaml.safe_dump_all(native))

    result = subprocess.run([cli, "--strict", "--kubernetes-version", version, str(path)],
                            capture_output=True, text=True, timeout=300)

    problems = [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("INFO")]
    assert result.returncode == 0 and not problems, "\n".join(problems)
    assert result.stdout.count("passed for resource") == len(native)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_the_prometheus_operator_crd_schemas(overlays, overlay):
    custom = [o for o in overlays[overlay] if o["apiVersion"] not in NATIVE_GROUPS]
    for obj in custom:
        schema = SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        assert schema is not None, f"no schema for {obj['apiVersion']} {obj['kind']}"
        jsonschema.validate(obj, schema)


def test_the_crd_check_rejects_a_misspelt_field(overlays):
    monitor = find(overlays["kube-prometheus-stack"], "ServiceMonitor", "ticket-app")
    broken = yaml.safe_load(yaml.safe_dump(monitor))
    broken["spec"]["endpoints"][0]["intervall"] = "15s"

    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        jsonschema.validate(broken, SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])


# --- security by default -------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_non_root_unprivileged_read_only_and_bounded(overlays, overlay):
    for workload, spec in pod_specs(overlays[overlay]):
        pod_sc = spec.get("securityContext", {})
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), workload["metadata"]["name"]
        assert not any("hostPath" in v for v in spec.get("volumes", [])), workload["metadata"]["name"]
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", workload["metadata"]["name"]
        for c in containers(spec):
            where = f"{workload['metadata']['name']}/{c['name']}"
            sc = c.get("securityContext", {})
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert not sc.get("privileged"), where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc.get("readOnlyRootFilesystem") is True, where
            for bound in ("requests", "limits"):
                assert set(c.get("resources", {}).get(bound, {})) >= {"cpu", "memory"}, f"{where}: {bound}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespaces_enforce_the_restricted_pod_security_standard(overlays, overlay):
    namespaces = of_kind(overlays[overlay], "Namespace")
    assert {n["metadata"]["name"] for n in namespaces} == {CONFIG.app.namespace, CONFIG.kubernetes.namespace}
    for namespace in namespaces:
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_material_in_any_object(overlays, overlay):
    objects = overlays[overlay]
    assert not of_kind(objects, "Secret")
    for workload, spec in pod_specs(objects):
        for c in containers(spec):
            for env in c.get("env", []):
                if re.search(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|DATABASE_URL", env["name"]):
                    assert "value" not in env and "secretKeyRef" in env.get("valueFrom", {}), \
                        f"{workload['metadata']['name']}/{c['name']}: {env['name']} is not read from a Secret"
    for cm in of_kind(objects, "ConfigMap"):
        for name, text in cm.get("data", {}).items():
            for match in re.finditer(r"(?im)^\s*(password|secret|token)\s*:\s*(\S+)", text):
                # Grafana resolves ${VAR} from its environment, which comes from a Secret.
                assert match.group(2).startswith("${"), f"{cm['metadata']['name']}/{name}: {match.group(0)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_versions_and_image_tags_come_from_the_one_version_number(overlays, overlay):
    objects = overlays[overlay]
    ours = [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "vigilante"]
    assert ours
    for o in ours + [find(objects, "Deployment", "ticket-app")]:
        assert o["metadata"]["labels"]["app.kubernetes.io/version"] == __version__, o["metadata"]["name"]
    for workload, spec in pod_specs(objects):
        template_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert template_labels.get("app.kubernetes.io/version") == __version__, workload["metadata"]["name"]
        assert "app.kubernetes.io/version" not in workload["spec"]["selector"]["matchLabels"]
        for c in containers(spec):
            reference, _, digest = c["image"].partition("@")
            name, _, tag = reference.rpartition(":")
            assert tag and tag != "latest" and "/" not in tag, c["image"]
            if name.endswith(("/vigilante-app", "/vigilante-scorer")):
                assert name.startswith(CONFIG.kubernetes.image_registry + "/") and tag == __version__, c["image"]
            else:  # third-party: a tag for people, the index digest for the runtime
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), c["image"]


# --- generated pieces ------------------------------------------------------------------------


def _texts(paths):
    rendered = generate.render_all(CONFIG)
    return {Path(p).name: rendered[p] for p in paths}


def test_configmaps_hold_exactly_the_generated_files(overlays):
    objects = overlays["standalone"]
    rendered = generate.render_all(CONFIG)
    dashboards = sorted(p for p in rendered if p.startswith("dashboards_py/generated/") and p.endswith(".json"))
    alerting = sorted(p for p in rendered if p.startswith("dashboards_py/generated/")
                      and re.search(r"(alert|contact)[^/]*\.ya?ml$", p))
    assert dashboards and alerting
    monitoring = "manifests/overlays/standalone/monitoring/generated/"
    expected = {
        "prometheus-config": {"prometheus.yml": rendered[monitoring + "prometheus.yml"]},
        "prometheus-rules": _texts(["rules/generated/vigilante-recording.rules.yml"]),
        "grafana-datasources": {"datasources.yaml": rendered[monitoring + "datasources.yaml"]},
        "grafana-dashboard-providers": _texts(["dashboards_py/generated/grafana-dashboard-provider.yaml"]),
        "grafana-dashboards": _texts(dashboards),
        "grafana-alerting": _texts(alerting),
        "vigilante-config": {"vigilante.yaml": rendered["manifests/addon/generated/vigilante.yaml"]},
    }
    for name, data in expected.items():
        assert find(objects, "ConfigMap", name)["data"] == data, name

    kps = overlays["kube-prometheus-stack"]
    for path in dashboards:
        slug = Path(path).stem
        cm = find(kps, "ConfigMap", f"vigilante-dashboard-{slug}", CONFIG.kubernetes.prometheus_namespace)
        assert cm["data"] == _texts([path])
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == CONFIG.grafana.folder
    rule = find(kps, "PrometheusRule", "vigilante-rules")
    source = yaml.safe_load(rendered["rules/generated/vigilante-prometheusrule.yaml"])
    assert rule["spec"] == source["spec"]
    assert rule["metadata"]["labels"] == {**source["metadata"]["labels"], "app.kubernetes.io/version": __version__}


def test_the_scorer_reads_the_configuration_the_manifests_were_generated_from(overlays, tmp_path):
    path = tmp_path / "vigilante.yaml"
    path.write_text(find(overlays["standalone"], "ConfigMap", "vigilante-config")["data"]["vigilante.yaml"])

    # ...but for the listen address: loopback by default, every address in a pod.
    assert load_config(path, env={}) == CONFIG.replace("service", listen_address="0.0.0.0")


def test_manifests_follow_a_changed_configuration(tmp_path):
    cfg = Config().replace("kubernetes", namespace="observability", release="prom", image_registry="registry.example/me",
                           scorer_storage="5Gi").replace("app", namespace="shop", job="shop-web")
    rendered = {t.path: t.render(cfg) for t in manifest_targets([])}
    base = "manifests/overlays/kube-prometheus-stack/generated/"

    monitors = list(yaml.safe_load_all(rendered[base + "service-monitors.yaml"]))
    assert {m["metadata"]["labels"]["release"] for m in monitors} == {"prom"}
    assert monitors[0]["spec"]["namespaceSelector"] == {"matchNames": ["shop"]}
    assert monitors[0]["spec"]["endpoints"][0]["relabelings"][0]["replacement"] == "shop-web"
    component = yaml.safe_load(rendered["manifests/addon/generated/kustomization.yaml"])
    assert component["namespace"] == "observability"
    assert component["images"] == [{"name": "vigilante-scorer", "newName": "registry.example/me/vigilante-scorer",
                                    "newTag": __version__}]
    assert "5Gi" in component["patches"][0]["patch"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scorers_listen_port_reaches_its_container_service_and_configuration(tmp_path, overlay):
    shutil.copytree(REPO_ROOT / "manifests", tmp_path / "manifests")
    config = tmp_path / "vigilante.yaml"
    config.write_text("scorer:\n  listen_port: 9200\n")
    assert main(["generate", "--config", str(config), "--root", str(tmp_path), "--demo-app"]) == 0
    objects = kustomize(tmp_path / "manifests" / "overlays" / overlay)
    deployment = find(objects, "Deployment", "vigilante-scorer")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"containerPort": 9200, "name": "metrics"}]
    assert find(objects, "Service", "vigilante-scorer")["spec"]["ports"][0]["port"] == 9200
    (configmap,) = [o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].startswith("vigilante-config")]
    assert yaml.safe_load(configmap["data"]["vigilante.yaml"])["scorer"]["listen_port"] == 9200


# --- scraping: ServiceMonitors, retention -------------------------------------------------


def _named_container_ports(objects, namespace, pod_labels_selector):
    ports = set()
    for workload, spec in pod_specs(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if workload["metadata"].get("namespace") == namespace and matches(pod_labels_selector, labels):
            ports |= {p["name"] for c in spec["containers"] for p in c.get("ports", []) if "name" in p}
    return ports


def test_service_monitors_select_an_existing_service_by_label_and_named_port(overlays):
    objects = overlays["kube-prometheus-stack"]
    monitors = of_kind(objects, "ServiceMonitor")
    assert {m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in monitors} == {CONFIG.app.job,
                                                                                               CONFIG.scorer.job}
    for monitor in monitors:
        spec = monitor["spec"]
        assert monitor["metadata"]["labels"]["release"] == CONFIG.kubernetes.release
        services = [s for s in of_kind(objects, "Service")
                    if s["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
                    and selector_matches(spec["selector"], s["metadata"].get("labels", {}))]
        assert len(services) == 1, monitor["metadata"]["name"]
        service = services[0]
        for endpoint in spec["endpoints"]:
            port = next(p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"])
            # ...and the Service sends that port to a named container port of the pods it selects.
            assert port["targetPort"] in _named_container_ports(objects, service["metadata"]["namespace"],
                                                                service["spec"]["selector"])


def test_prometheus_keeps_the_longest_burn_rate_window_and_stays_below_its_volume(overlays):
    prometheus = find(overlays["standalone"], "Deployment", "prometheus")
    args = prometheus["spec"]["template"]["spec"]["containers"][0]["args"]

    assert "--storage.tsdb.retention.time=8d" in args
    assert "--storage.tsdb.retention.size=16384MB" in args  # 80 % of 20Gi
    assert find(overlays["standalone"], "PersistentVolumeClaim", "prometheus-data")["spec"]["resources"] == {
        "requests": {"storage": "20Gi"}}


def test_a_retention_shorter_than_the_longest_window_is_refused():
    assert prometheus_retention(Config().replace("kubernetes", prometheus_retention_days=4)) == "4d"  # 3d window + 1
    with pytest.raises(ConfigError, match="prometheus_retention_days: expected at least 4"):
        prometheus_retention(Config().replace("kubernetes", prometheus_retention_days=3))
    assert prometheus_retention_size(Config().replace("kubernetes", prometheus_storage="512Mi")) == "409MB"


# --- the scorer, the app, Grafana ------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scorer_is_one_replica_recreated_on_its_own_volume(overlays, overlay):
    objects = overlays[overlay]
    scorer = find(objects, "Deployment", "vigilante-scorer")
    spec = scorer["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}

    assert scorer["spec"]["replicas"] == 1 and scorer["spec"]["strategy"] == {"type": "Recreate"}
    claim = next(v for v in spec["volumes"] if "persistentVolumeClaim" in v)["persistentVolumeClaim"]["claimName"]
    assert find(objects, "PersistentVolumeClaim", claim)["spec"]["resources"]["requests"]["storage"] == "1Gi"
    state_dir = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "state")
    assert posixpath.dirname(env["VIGILANTE_SCORER__STATE_PATH"]) == state_dir
    assert container["ports"] == [{"containerPort": CONFIG.scorer.listen_port, "name": "metrics"}]
    assert {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]} == {
        "/healthz", "/readyz"}
    expected_url = (f"http://prometheus.{CONFIG.kubernetes.namespace}.svc:9090" if overlay == "standalone"
                    else CONFIG.kubernetes.prometheus_url)
    assert env["VIGILANTE_PROMETHEUS__URL"] == expected_url
    config_map = next(v for v in spec["volumes"] if "configMap" in v)["configMap"]["name"]
    assert env["VIGILANTE_CONFIG"] == "/etc/vigilante/vigilante.yaml"
    assert find(objects, "ConfigMap", "vigilante-config")["metadata"]["name"] == config_map


def test_the_app_has_probes_a_named_metrics_port_and_scales_on_cpu_from_1_to_10(overlays):
    objects = overlays["standalone"]
    app = find(objects, "Deployment", "ticket-app")
    container = app["spec"]["template"]["spec"]["containers"][0]
    hpa = find(objects, "HorizontalPodAutoscaler", "ticket-app")

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"containerPort": CONFIG.kubernetes.app_port, "name": CONFIG.kubernetes.app_metrics_port} in container["ports"]
    assert "replicas" not in app["spec"]  # the HPA owns it
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 10)
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    assert hpa["spec"]["scaleTargetRef"]["name"] == app["metadata"]["name"]


def test_grafana_reads_its_admin_from_a_secret_serves_grafana_and_mounts_what_it_provisions(overlays):
    objects = overlays["standalone"]
    grafana = find(objects, "Deployment", "grafana")["spec"]["template"]["spec"]
    container = grafana["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v.get("configMap", {}).get("name") for v in grafana["volumes"]}
    provider = yaml.safe_load(find(objects, "ConfigMap", "grafana-dashboard-providers")["data"][
        "grafana-dashboard-provider.yaml"])

    for var in ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD"):
        assert env[var]["valueFrom"]["secretKeyRef"]["name"] == "grafana-admin"
    assert env["GF_SERVER_SERVE_FROM_SUB_PATH"]["value"] == "true"
    assert env["GF_SERVER_ROOT_URL"]["value"].endswith("/grafana/")
    assert mounts["dashboards"] == provider["providers"][0]["options"]["path"]
    for volume, config_map in [("dashboards", "grafana-dashboards"), ("alerting", "grafana-alerting"),
                               ("datasources", "grafana-datasources")]:
        assert volumes[volume] == find(objects, "ConfigMap", config_map)["metadata"]["name"]
    datasource = yaml.safe_load(find(objects, "ConfigMap", "grafana-datasources")["data"]["datasources.yaml"])
    assert datasource["datasources"][0]["uid"] == CONFIG.grafana.datasource_uid
    assert datasource["datasources"][0]["url"] == f"http://prometheus.{CONFIG.kubernetes.namespace}.svc:9090"


# --- the Ingress never routes /metrics --------------------------------------------------------


BLOCKED_REQUESTS = ["/metrics", "/metrics/", "/metrics?format=prometheus", "//metrics", "/./metrics",
                    "/static/../metrics", "/%6detrics", "/metrics/anything", "/grafana/metrics", "/grafana//metrics/"]
SERVED_REQUESTS = [("/", "ticket-app"), ("/event/3", "ticket-app"), ("/metricsfoo", "ticket-app"),
                   ("/healthz", "ticket-app"), ("/grafana", "grafana"), ("/grafana/d/vigilante-overview", "grafana"),
                   ("/grafana/api/health", "grafana")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_sends_grafana_to_grafana_the_rest_to_the_app_and_never_metrics(overlays, overlay):
    objects = overlays[overlay]
    ingresses = of_kind(objects, "Ingress")
    with_grafana = overlay == "standalone"
    assert {i["spec"]["ingressClassName"] for i in ingresses} == {CONFIG.kubernetes.ingress_class}
    assert {tuple(r.get("host", "") for r in i["spec"]["rules"]) for i in ingresses} == {("",)}

    for url, service in SERVED_REQUESTS:
        if service == "grafana" and not with_grafana:
            continue
        assert route(ingresses, url)[1] == service, url
    for url in BLOCKED_REQUESTS:
        if url.startswith("/grafana") and not with_grafana:
            continue
        namespace, service = route(ingresses, url)
        assert service == NO_BACKEND_SERVICE, url
        blackhole = find(objects, "Service", service, namespace)
        assert "selector" not in blackhole["spec"], "a Service with a selector would have endpoints"
    assert not of_kind(objects, "Endpoints", "EndpointSlice")
    assert set(BLOCKED_PATHS) <= {normalise(u) for u in BLOCKED_REQUESTS}


def test_grafana_does_not_serve_its_own_metrics(overlays):
    grafana = find(overlays["standalone"], "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "GF_METRICS_ENABLED", "value": "false"} in grafana["env"]


# --- network policies: only Prometheus reaches the metrics ports ------------------------------


def _pods(objects):
    for workload, spec in pod_specs(objects):
        yield workload["metadata"]["namespace"], workload["spec"]["template"]["metadata"]["labels"], spec


METRICS_PORTS = {"vigilante-scorer": "metrics", "kube-state-metrics": "http-metrics", "ticket-app": "http"}


def _port_number(spec, name):
    return next(p["containerPort"] for c in spec["containers"] for p in c.get("ports", []) if p.get("name") == name)


def _metrics_reach_problems(objects, overlay) -> list[str]:
    """Who, besides Prometheus (and the Ingress controller for the app's one port), reaches a metrics port."""
    k = CONFIG.kubernetes
    prometheus_ns = k.namespace if overlay == "standalone" else k.prometheus_namespace
    prometheus = Source("10.244.0.2", prometheus_ns, dict(PROMETHEUS_POD_SELECTOR))
    controller = Source("10.244.0.3", k.ingress_namespace, {"app.kubernetes.io/name": "ingress-nginx"})
    others = [Source(f"10.244.1.{i}", ns, labels) for i, (ns, labels, _) in enumerate(_pods(objects))
              if not matches(PROMETHEUS_POD_SELECTOR, labels)]
    others += [Source("10.244.2.1", "default", {"app": "curious"}), Source("203.0.113.7")]  # a pod; a client outside
    policies = of_kind(objects, "NetworkPolicy")

    problems, checked = [], 0
    for namespace, labels, spec in _pods(objects):
        name = labels["app.kubernetes.io/name"]
        if name not in METRICS_PORTS:
            continue
        port = METRICS_PORTS[name]
        reaches = lambda source: admits(policies, namespace, labels, port, _port_number(spec, port), source)  # noqa: E731
        if not reaches(prometheus):
            problems.append(f"{name}: Prometheus cannot scrape it")
        problems += [f"{name}:{port} is reachable from {s}" for s in others if reaches(s)]
        if reaches(controller) != (name == "ticket-app"):
            problems.append(f"{name}: the Ingress controller {'reaches' if reaches(controller) else 'cannot reach'} it")
        checked += 1
    if checked != (3 if overlay == "standalone" else 2):
        problems.append(f"{checked} metrics ports checked")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_prometheus_and_for_the_app_the_ingress_controller_reach_metrics_ports(overlays, overlay):
    assert _metrics_reach_problems(overlays[overlay], overlay) == []


def _with_scorer_peer(objects, peer):
    """The overlay with one more peer on the scorer's metrics rule."""
    objects = copy.deepcopy(objects)
    policy = find(objects, "NetworkPolicy", "scorer-from-prometheus", CONFIG.kubernetes.namespace)
    policy["spec"]["ingress"][0]["from"].append(peer)
    return objects


@pytest.mark.parametrize("peer, reached_from", [
    ({"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}, "203.0.113.7"),
    ({"namespaceSelector": {}, "podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["prometheus"]}]}}, "curious"),
    ({"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]}}, "grafana"),
])
def test_the_metrics_check_catches_a_peer_opened_by_ip_block_or_match_expressions(overlays, peer, reached_from):
    problems = _metrics_reach_problems(_with_scorer_peer(overlays["standalone"], peer), "standalone")
    assert any(p.startswith("vigilante-scorer:metrics is reachable from") and reached_from in p for p in problems), problems


def test_the_metrics_check_catches_a_policy_that_selects_by_expression_and_opens_every_port(overlays):
    objects = copy.deepcopy(overlays["standalone"])
    objects.append({"kind": "NetworkPolicy", "metadata": {"name": "open", "namespace": CONFIG.kubernetes.namespace},
                    "spec": {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                                                    "values": ["kube-state-metrics"]}]},
                             "ingress": [{}]}})
    problems = _metrics_reach_problems(objects, "standalone")
    assert any(p.startswith("kube-state-metrics:http-metrics is reachable from") for p in problems), problems
    assert not any(p.startswith("vigilante-scorer") for p in problems), problems


@pytest.mark.parametrize("peer", [
    {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}},
    {"podSelector": {"matchFields": [{"key": "a"}]}},
    {"ipBlock": {"cidr": "0.0.0.0/0"}, "podSelector": {}},
    {"serviceAccount": "x"},
])
def test_the_network_policy_simulator_refuses_what_it_does_not_model(overlays, peer):
    with pytest.raises(UnsupportedManifest):
        _metrics_reach_problems(_with_scorer_peer(overlays["standalone"], peer), "standalone")


@pytest.mark.parametrize("change", [
    {"metadata": {"annotations": {"nginx.ingress.kubernetes.io/use-regex": "true"}}},
    {"spec": {"defaultBackend": {"service": {"name": "ticket-app", "port": {"number": 80}}}}},
    {"rule": {"host": "shop.example"}},
    {"path": {"pathType": "ImplementationSpecific"}},
    {"path": {"backend": {"resource": {"kind": "Bucket", "name": "b"}}}},
])
def test_the_ingress_simulator_refuses_what_it_does_not_model(overlays, change):
    ingress = copy.deepcopy(find(overlays["standalone"], "Ingress", "ticket-app"))
    for key, value in change.items():
        target = {"rule": ingress["spec"]["rules"][0], "path": ingress["spec"]["rules"][0]["http"]["paths"][0]}.get(key)
        if target is None:
            ingress[key].update(value)
        else:
            target.update(value)
    with pytest.raises(UnsupportedManifest):
        route([ingress], "/metrics")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_in_the_addon_namespace_is_closed_by_default(overlays, overlay):
    deny = find(overlays[overlay], "NetworkPolicy", "default-deny-ingress", CONFIG.kubernetes.namespace)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


# --- the components, on an app shaped like a user's ---------------------------------------------

USER_APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-web, labels: {app.kubernetes.io/name: ticket-app}}
spec:
  selector: {matchLabels: {tier: web}}
  template:
    metadata: {labels: {tier: web}}
    spec:
      containers:
      - name: sidecar
        image: example/proxy:1.0
      - name: app
        image: example/shop:2.3
        ports: [{containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: shop-web, labels: {app.kubernetes.io/name: ticket-app}}
spec:
  selector: {tier: web}
  ports: [{port: 80, targetPort: 8000}]
"""


def test_the_components_attach_the_addon_to_a_users_deployment_and_service(tmp_path):
    (tmp_path / "app.yaml").write_text(USER_APP)
    components = REPO_ROOT / "manifests" / "components"
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["app.yaml"],
        "components": [posixpath.relpath(components / name, tmp_path) for name in ("attach-app", "multiprocess")],
    }))

    objects = kustomize(tmp_path)

    deployment, service = find(objects, "Deployment", "shop-web"), find(objects, "Service", "shop-web")
    pod = deployment["spec"]["template"]
    app = next(c for c in pod["spec"]["containers"] if c["name"] == "app")
    sidecar = next(c for c in pod["spec"]["containers"] if c["name"] == "sidecar")
    assert matches({"app.kubernetes.io/name": "ticket-app", "tier": "web"}, pod["metadata"]["labels"])
    assert app["ports"] == [{"containerPort": 8000, "name": "http"}]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/run/prometheus-multiproc"} in app["env"]
    assert {"name": "prometheus-multiproc", "mountPath": "/run/prometheus-multiproc"} in app["volumeMounts"]
    assert {"name": "prometheus-multiproc", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}} in pod["spec"]["volumes"]
    assert "ports" not in sidecar and "env" not in sidecar


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_configmap_fits_the_one_mebibyte_limit(overlays, overlay):
    # Client-side apply also stores the whole object in an annotation (256 KiB limit): the
    # README says `kubectl apply --server-side`, which does not.
    for cm in of_kind(overlays[overlay], "ConfigMap"):
        size = sum(len(k) + len(v.encode()) for k, v in cm.get("data", {}).items())
        assert size < 1024 * 1024, f"{cm['metadata']['name']}: {size} bytes"


def test_a_users_own_install_builds_from_the_pieces_without_the_demo_app(tmp_path):
    """The README's recipe: your app with the components, the add-on, one overlay's generated parts."""
    manifests = REPO_ROOT / "manifests"
    (tmp_path / "app.yaml").write_text(USER_APP)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["app.yaml", posixpath.relpath(manifests / "addon", tmp_path)],
        "components": [posixpath.relpath(manifests / p, tmp_path) for p in (
            "components/attach-app", "overlays/kube-prometheus-stack/generated")],
    }))

    objects = kustomize(tmp_path)

    assert not [o for o in objects if o["metadata"]["name"] == "ticket-app" and o["kind"] != "ServiceMonitor"]
    assert find(objects, "Deployment", "shop-web") and find(objects, "Deployment", "vigilante-scorer")
    monitor = find(objects, "ServiceMonitor", CONFIG.app.job)
    assert matches(monitor["spec"]["selector"]["matchLabels"], find(objects, "Service", "shop-web")["metadata"]["labels"])


def test_the_policies_still_let_grafana_and_the_scorer_query_prometheus_and_users_reach_grafana(overlays):
    objects = overlays["standalone"]
    k = CONFIG.kubernetes
    policies = of_kind(objects, "NetworkPolicy")

    def allowed(to_pod, port, from_namespace, from_labels):
        return admits(policies, k.namespace, to_pod, port, 0, Source("10.244.1.1", from_namespace, from_labels))

    prometheus, grafana = {"app.kubernetes.io/name": "prometheus"}, {"app.kubernetes.io/name": "grafana"}
    assert allowed(prometheus, "web", k.namespace, grafana)
    assert allowed(prometheus, "web", k.namespace, {"app.kubernetes.io/name": "vigilante-scorer"})
    assert not allowed(prometheus, "web", CONFIG.app.namespace, {"app.kubernetes.io/name": "ticket-app"})
    assert allowed(grafana, "http", k.ingress_namespace, {"app.kubernetes.io/name": "ingress-nginx"})


def test_the_scorer_binds_loopback_by_default_and_all_addresses_in_its_pod():
    from vigilante.config import Config
    from vigilante.kubernetes.manifests import scorer_configuration

    assert Config().service.listen_address == "127.0.0.1"
    in_pod = yaml.safe_load(scorer_configuration(Config()))
    assert in_pod["service"]["listen_address"] == "0.0.0.0"
    chosen = Config().replace("service", listen_address="10.1.2.3")
    assert yaml.safe_load(scorer_configuration(chosen))["service"]["listen_address"] == "10.1.2.3"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_demo_seed_takes_its_users_password_from_a_secret(overlays, overlay):
    seeds = [c for _, spec in pod_specs(overlays[overlay]) for c in spec.get("initContainers", []) if c["name"] == "seed"]
    assert seeds, "no seed init container"
    for seed in seeds:
        env = {e["name"]: e for e in seed["env"]}
        ref = env["TICKETS_DEMO_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"], ref["optional"]) == ("ticket-app", "demo-password", True)
