"""The local stack's pieces: load scenarios, overrides, pre-flight messages, Locust against the real app, the picture."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest
import yaml

from vigilante.config import Config, load_config
from app_under_test.testing import DEMO_PASSWORD, seeded_app
from scripts.bench_latency import Chain, floor
from scripts.demo import seconds
from scripts.harness.routing import route_for, routes_for
from scripts.harness import ManagedProcess, wait_until
from scripts.load_shapes import MAX_USERS, SCENARIOS, read_control, stage_at, total_seconds, write_control
from scripts.stack import (LocalStack, StackError, apply_overrides, changed_from_defaults, config_env, graph_link,
                           interval_overrides)

from tests.support import REPO_ROOT
from tests.support.metrics import scrape, total


# --- load scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_bounded_in_users_and_time(name):
    stages = SCENARIOS[name]
    assert total_seconds(stages) <= 3600
    users = [stage_at(stages, t).users for t in range(0, int(total_seconds(stages)), 5)]
    assert 0 < max(users) <= MAX_USERS
    assert stage_at(stages, total_seconds(stages)) is None


def test_the_slow_ramp_climbs_gradually_and_the_spike_jumps():
    ramp = SCENARIOS["slow_ramp"]
    users = [stage_at(ramp, t).users for t in range(0, int(total_seconds(ramp)), 15)]
    steps = [b - a for a, b in zip(users, users[1:])]
    assert max(steps) <= 1 and users[-1] == 2 * users[0]
    spike = SCENARIOS["spike"]
    assert stage_at(spike, 89).users * 3 == stage_at(spike, 90).users


def test_fault_scenarios_clear_their_fault_in_the_next_stage():
    for name in ("error_burst", "slowdown", "spike_with_errors"):
        faults = [stage.fault for stage in SCENARIOS[name]]
        assert faults[0] is None and faults[1] is not None and faults[-1] is None


def test_control_file_round_trip_caps_users_and_tolerates_a_missing_file(tmp_path):
    control = tmp_path / "control.json"
    assert read_control(control, default_users=8).users == 8
    write_control(control, 12, spawn_rate=6)
    assert read_control(control) == read_control(control).__class__(12, 6.0, False)
    write_control(control, 10_000)
    assert read_control(control).users == MAX_USERS
    write_control(control, 0, stop=True)
    assert read_control(control).stop


# --- overrides and links -----------------------------------------------------------------


def test_overrides_reach_a_process_through_its_environment_and_are_listed_against_the_defaults():
    overrides = {**interval_overrides(2), "service": {"bootstrap_hours": 0.04}}
    in_process = apply_overrides(Config(), overrides)
    through_env = load_config(env=config_env(overrides))
    assert through_env.as_dict() == in_process.as_dict()
    changed = changed_from_defaults(in_process)
    assert changed["prometheus"]["scrape_interval_seconds"] == {"shipped": 15.0, "used": 2.0}
    assert changed["service"] == {"bootstrap_hours": {"shipped": 2.0, "used": 0.04}}
    assert "scorer" in changed and "app" not in changed


def test_graph_link_encodes_every_expression():
    link = graph_link("http://127.0.0.1:9", ['a{job="x"}', "b > 1"])
    assert "g0.expr=a%7Bjob%3D%22x%22%7D" in link and "g1.expr=b%20%3E%201" in link


# --- the alert path's settings -----------------------------------------------------------


def test_the_anomaly_alert_lands_on_the_ticket_route_with_a_short_group_wait():
    routing = yaml.safe_load((REPO_ROOT / "rules/generated/alertmanager.yml").read_text())
    route = route_for(routing["route"], {"alertname": "VigilanteAnomalyDetected", "severity": "warning",
                                         "service": "tickets"})
    assert route["receiver"] == "tickets-ticket"
    assert seconds(route["group_wait"]) == 0  # the decision already held; other warnings wait 30 s
    assert seconds(route_for(routing["route"], {"alertname": "VigilanteHighLatencyP95", "severity": "warning",
                                                "service": "tickets"}).get("group_wait", "30s")) == 30
    assert route_for(routing["route"], {"severity": "critical", "service": "tickets"})["group_wait"] == "10s"


CONTINUE_TREE = {"receiver": "default", "group_wait": "30s", "routes": [
    {"matchers": ['service="a"'], "receiver": "a-log", "continue": True, "group_wait": "1s"},
    {"matchers": ['service=~"a|b"'], "receiver": "a-ticket",
     "routes": [{"matchers": ['severity="critical"'], "receiver": "a-page", "group_wait": "10s"},
                {"matchers": ['alertname="X"'], "receiver": "a-ticket", "group_wait": "0s"}]},
    {"matchers": ['severity="critical"'], "receiver": "never-reached"}]}


@pytest.mark.parametrize("labels, receivers, group_waits", [
    ({"service": "a", "severity": "critical"}, ["a-log", "a-page"], ["1s", "10s"]),  # `continue` goes on
    ({"service": "a", "alertname": "X"}, ["a-log", "a-ticket"], ["1s", "0s"]),       # same receiver, own route
    ({"service": "b", "severity": "warning"}, ["a-ticket"], ["30s"]),                # inherited group_wait
    ({"service": "c", "severity": "critical"}, ["never-reached"], ["30s"]),
    ({"service": "c"}, ["default"], ["30s"]),
])
def test_routing_is_alertmanagers_own_continue_included(labels, receivers, group_waits):
    routes = routes_for(CONTINUE_TREE, labels)
    assert [r["receiver"] for r in routes] == receivers
    assert [r["group_wait"] for r in routes] == group_waits
    assert route_for(CONTINUE_TREE, labels)["receiver"] == receivers[0]


def test_routing_refuses_a_tree_amtool_refuses():
    with pytest.raises(ValueError, match="amtool"):
        routes_for({"receiver": "r", "routes": [{"matchers": ['bad matcher'], "receiver": "x"}]}, {"a": "b"})


def test_the_notification_floor_the_readme_states_is_that_of_the_shipped_settings():
    at_once, held = floor(Chain.of(Config(), at_once=True)), floor(Chain.of(Config(), at_once=False))
    readme = (REPO_ROOT / "README.md").read_text()
    stated = (f"{at_once['best_seconds']:g}–{at_once['worst_seconds']:g} s for a score far above the threshold, "
              f"{held['best_seconds']:g}–{held['worst_seconds']:g} s for one held")
    assert stated in readme, f"README should say {stated!r} for the shipped settings"


# --- pre-flight --------------------------------------------------------------------------


def test_a_taken_port_is_named_before_anything_starts(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = LocalStack(tmp_path / "stack", ports={"prometheus": port}, say=lambda _: None)
        with pytest.raises(StackError, match=rf"port {port} for prometheus is taken"):
            stack.start()
    assert not (tmp_path / "stack").exists()


def test_a_missing_binary_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ALERTMANAGER_BIN", str(tmp_path / "no-such-alertmanager"))
    with pytest.raises(StackError, match="ALERTMANAGER_BIN=.*is not an executable file"):
        LocalStack(tmp_path / "stack", say=lambda _: None).start()


# --- Locust against the real app -----------------------------------------------------------


def _locust(tmp_path: Path, host: str, control: Path, max_seconds: float = 60) -> ManagedProcess:
    env = {"PYTHONPATH": str(REPO_ROOT), "VIGILANTE_LOAD_SCENARIO": "control", "VIGILANTE_LOAD_CONTROL": str(control),
           "VIGILANTE_LOAD_MAX_SECONDS": str(max_seconds), "PATH": "/usr/bin:/bin",
           "TICKETS_DEMO_PASSWORD": DEMO_PASSWORD}
    argv = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "scripts/locustfile.py"), "--headless", "--host",
            host, "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
            "--csv", str(tmp_path / "stats")]
    return ManagedProcess("locust", argv, tmp_path / "locust.log", env=env).start()


def _requests_served(app_url: str) -> float:
    """Every request the app has counted (its own exporter), excluding its /metrics."""
    return total(scrape(app_url), "flask_http_request_total")


def test_locust_sends_a_fixed_rate_and_stops_when_the_control_file_says_so(tmp_path, gunicorn_factory):
    instance = tmp_path / "instance"
    seeded_app(instance)
    app = gunicorn_factory(app="app_under_test:create_app()", threads=8,
                           env={"TICKETS_INSTANCE_PATH": str(instance)})
    control = tmp_path / "control.json"
    write_control(control, 4, spawn_rate=4)
    locust = _locust(tmp_path, app.url, control)
    try:
        wait_until(lambda: _requests_served(app.url) >= 8, 30, "Locust's first requests")
        # Counted by the app itself, not from Locust's stats file, which lags by seconds.
        first, began = _requests_served(app.url), time.monotonic()
        wait_until(lambda: time.monotonic() - began >= 15, 30, "fifteen seconds of traffic")
        rate = (_requests_served(app.url) - first) / (time.monotonic() - began)
        # 4 users at one request per second each, as Poisson arrivals: 60 expected in 15 s, and
        # four standard deviations (4 x sqrt(60) = 31) either side.
        assert 1.9 <= rate <= 6.1, rate
        write_control(control, 0, stop=True)
        wait_until(lambda: not locust.alive(), 30, "Locust to stop on the control file")
    finally:
        locust.stop()


def test_locust_refuses_any_host_but_localhost(tmp_path):
    control = tmp_path / "control.json"
    write_control(control, 2)
    locust = _locust(tmp_path, "http://192.0.2.1:8000", control, max_seconds=20)
    try:
        wait_until(lambda: not locust.alive(), 30, "Locust to quit")
    finally:
        locust.stop()
    assert "only target 127.0.0.1" in locust.log_path.read_text()


# --- the picture -------------------------------------------------------------------------


def test_the_report_is_drawn_from_series_and_summary(tmp_path):
    from scripts.report_plot import plot_report

    t0 = 1_800_000_000.0
    series = {name: [[t0 + i, value + (i > 60) * value] for i in range(120)]
              for name, value in (("requests", 8.0), ("error_ratio", 0.01), ("p95", 0.05), ("score", 0.2),
                                  ("threshold", 0.5))}
    summary = {"phases": [{"name": "steady", "start": t0, "end": t0 + 60, "fault": {}},
                          {"name": "spike with errors", "start": t0 + 60, "end": t0 + 120, "fault": {"error_ratio": 0.05}}],
               "alerts_firing": [{"alertname": "VigilanteAnomalyDetected", "start": t0 + 80, "end": t0 + 120}],
               "incidents": [{"name": "spike with errors", "notification_received": t0 + 100,
                              "seconds_to_notification": 40.0, "resolved_notification_received": t0 + 115}],
               "settings": {"intervals_used": {"scrape_interval_seconds": 2.0}}}
    out = tmp_path / "report.png"
    # The plot reads the summary as the demo writes it to summary.json (lists, not tuples).
    plot_report(series, json.loads(json.dumps(summary)), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


@pytest.mark.parametrize("module", ["scripts.stack", "scripts.demo", "scripts.load_shapes"])
def test_the_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
