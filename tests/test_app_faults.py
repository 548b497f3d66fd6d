"""Fault injection: off by default, token-guarded, exact error ratios, added latency, per route, shared by workers."""

from __future__ import annotations

import doctest

import pytest
import requests

import app_under_test.faults
from app_under_test.testing import seeded_app
from scripts.harness import static_scrape_config, wait_until
from tests.support.workers import wait_for_workers

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def faulty_app(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGILANTE_FAULTS_ENABLED", "1")
    monkeypatch.setenv("VIGILANTE_FAULTS_TOKEN", TOKEN)
    return seeded_app(tmp_path / "instance")


def test_off_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("VIGILANTE_FAULTS_ENABLED", raising=False)
    app = seeded_app(tmp_path / "instance")
    client = app.test_client()
    assert client.put("/_faults", json={"error_ratio": 1}, headers=AUTH).status_code in (404, 405)
    assert app.extensions["tickets_metrics"].registry.get_sample_value("vigilante_fault_error_ratio", {"route": "*"}) is None


def test_refuses_to_start_enabled_without_a_token(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGILANTE_FAULTS_ENABLED", "1")
    monkeypatch.delenv("VIGILANTE_FAULTS_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="VIGILANTE_FAULTS_TOKEN is empty"):
        seeded_app(tmp_path / "instance")


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer wrong"}, 403),
                                             ({"Authorization": TOKEN}, 401)])
def test_control_needs_the_token(faulty_app, headers, status):
    client = faulty_app.test_client()
    assert client.put("/_faults", json={"error_ratio": 1}, headers=headers).status_code == status
    assert client.get("/_faults", headers=headers).status_code == status
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("body", [{"error_ratio": 1.5}, {"error_ratio": -0.1}, {"error_ratio": "0.5"},
                                  {"added_latency_seconds": 31}, {"route": ""}, {"error_ratio": True}, []])
def test_bad_fault_settings_are_400(faulty_app, body):
    response = faulty_app.test_client().put("/_faults", json=body, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["message"]


def test_error_ratio_is_exact_and_exported(faulty_app):
    client = faulty_app.test_client()
    registry = faulty_app.extensions["tickets_metrics"].registry
    assert client.put("/_faults", json={"route": "*", "error_ratio": 0.25}, headers=AUTH).status_code == 200
    statuses = [client.get("/api/events?limit=1").status_code for _ in range(40)]
    assert statuses.count(500) == 10 and statuses.count(200) == 30
    assert registry.get_sample_value("vigilante_fault_error_ratio", {"route": "*"}) == 0.25
    assert registry.get_sample_value("flask_http_request_duration_seconds_count",
                                     {"method": "GET", "url_rule": "/api/events", "status": "500"}) == 10
    assert client.get("/healthz").status_code == 200  # probes are never faulted
    assert client.delete("/_faults", headers=AUTH).get_json() == {"faults": []}
    assert all(client.get("/").status_code == 200 for _ in range(8))
    assert registry.get_sample_value("vigilante_fault_error_ratio", {"route": "*"}) == 0


def test_a_small_ratio_on_every_route_fails_that_share_of_all_requests(faulty_app):
    # 1 % over four routes, 25 requests each: no route alone owes a whole error, all of them owe one.
    client = faulty_app.test_client()
    client.put("/_faults", json={"route": "*", "error_ratio": 0.01}, headers=AUTH)
    paths = ["/", "/api/events?limit=1", "/events/1", "/events/2"]
    statuses = [client.get(paths[i % 4]).status_code for i in range(100)]
    assert statuses.count(500) == 1


def test_per_route_fault_leaves_other_routes_alone(faulty_app):
    client = faulty_app.test_client()
    client.put("/_faults", json={"route": "/events/<int:event_id>", "error_ratio": 1.0}, headers=AUTH)
    assert client.get("/events/2").status_code == 500
    assert client.get("/").status_code == 200
    shown = client.get("/_faults", headers=AUTH).get_json()["faults"]
    assert shown == [{"route": "/events/<int:event_id>", "error_ratio": 1.0, "added_latency_seconds": 0.0}]


def test_added_latency_is_measured_by_the_request_histogram(faulty_app):
    client = faulty_app.test_client()
    registry = faulty_app.extensions["tickets_metrics"].registry
    client.put("/_faults", json={"route": "/", "added_latency_seconds": 0.3}, headers=AUTH)
    client.get("/")
    labels = {"method": "GET", "url_rule": "/", "status": "200"}
    assert registry.get_sample_value("flask_http_request_duration_seconds_sum", labels) >= 0.3
    assert registry.get_sample_value("flask_http_request_duration_seconds_bucket", {**labels, "le": "0.25"}) == 0
    assert registry.get_sample_value("vigilante_fault_added_latency_seconds", {"route": "/"}) == 0.3


def test_docstring_examples_run():
    assert doctest.testmod(app_under_test.faults).failed == 0


@pytest.mark.slow
def test_faults_reach_every_worker_and_prometheus(tmp_path, gunicorn_factory, prometheus_factory, monkeypatch):
    instance = tmp_path / "instance"
    env = {"VIGILANTE_FAULTS_ENABLED": "1", "VIGILANTE_FAULTS_TOKEN": TOKEN}
    with monkeypatch.context() as patched:
        for key, value in env.items():
            patched.setenv(key, value)
        seeded_app(instance)
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    # The access log names the worker that answered each request (%(p)s): "every worker" is
    # then observed, not inferred from a run of answers.
    server = gunicorn_factory(app="app_under_test:create_app()", workers=3, threads=1, config_file=conf,
                              env={**env, "TICKETS_INSTANCE_PATH": str(instance),
                                   "PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
                              extra_args=["--access-logformat", "answered-by %(p)s %(s)s %(U)s"])
    workers = set(wait_for_workers(server.process.pid, 3))

    def every_worker_answers_root_with(status: str) -> bool:
        """Ask until each worker has answered '/' since now; True when each one's latest answer is ``status``."""
        latest = {}
        start = len(server.process.log_path.read_text().splitlines())
        for _ in range(60):
            requests.get(f"{server.url}/", timeout=10)
            for line in server.process.log_path.read_text().splitlines()[start:]:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "answered-by" and parts[3] == "/":
                    latest[int(parts[1].strip("<>"))] = parts[2]  # gunicorn writes the pid as <1234>
            if set(latest) == workers:
                break
        return set(latest) == workers and all(answer == status for answer in latest.values())
    prometheus = prometheus_factory(scrape_configs=[static_scrape_config("tickets", [server.url.split("://")[1]])])

    with requests.Session() as http:
        set_response = http.put(f"{server.url}/_faults", json={"route": "/", "error_ratio": 1.0}, headers=AUTH,
                                timeout=10)
        assert set_response.status_code == 200
        # Each worker re-reads the shared rules within its refresh period (1 s).
        wait_until(lambda: every_worker_answers_root_with("500"), 20, "every worker to fail '/'")
        assert http.get(f"{server.url}/events/2", timeout=10).status_code == 200
        prometheus.wait_for('max(vigilante_fault_error_ratio{route="/"})', lambda r: r and float(r[0]["value"][1]) == 1,
                            timeout=30)
        http.delete(f"{server.url}/_faults", headers=AUTH, timeout=10)
        wait_until(lambda: every_worker_answers_root_with("200"), 20, "every worker to stop failing '/'")
        prometheus.wait_for('max(vigilante_fault_error_ratio{route="/"})', lambda r: r and float(r[0]["value"][1]) == 0,
                            timeout=30)
