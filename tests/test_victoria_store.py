"""The scorer's reads and `vigilante check` against a real VictoriaMetrics, run with its own defaults."""

from __future__ import annotations

import re
import sys
import time

import pytest

from scripts.harness import ManagedProcess, VictoriaMetricsServer, VMAlert, free_port, wait_until
from tests.fixtures.victoria import require_victoria_metrics
from tests.scorer_process import one_feature_config, train
from tests.support.metrics import scrape, value
from vigilante.prometheus.api import PrometheusAPI
from vigilante.service.phase import NoRuleGroups, rule_phase


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store holding ``ramp_value`` = seconds since its first sample, one sample a second for 3 minutes up to now."""
    require_victoria_metrics()
    server = VictoriaMetricsServer(tmp_path_factory.mktemp("victoria-store")).start()
    now = int(time.time())
    server.import_prometheus("".join(f'ramp_value{{job="ramp"}} {i} {(now - 180 + i) * 1000}\n' for i in range(181)))
    yield server, now
    server.stop()


def test_an_instant_read_at_now_gets_the_latest_sample_not_one_a_latency_offset_old(store):
    server, now = store
    # At its default -search.latencyOffset the store answers a query "at now" with the value of
    # a minute earlier, stamped now; the scorer would score every tick a minute late.
    assert PrometheusAPI(server.url).scalar('ramp_value{job="ramp"}', now) == 180



def check_output(tmp_path, url: str, capsys) -> str:
    from vigilante.cli import main

    path = tmp_path / "vigilante.yaml"
    path.write_text(f"prometheus:\n  url: {url}\n")
    main(["check", "--config", str(path)])
    return capsys.readouterr().out


def test_check_says_it_talks_to_victoria_metrics_which_evaluates_no_rules_itself(store, tmp_path, capsys):
    server, _ = store
    out = check_output(tmp_path, server.url, capsys)
    assert f"store: VictoriaMetrics at {server.url}" in out
    assert "lists no rule groups" in out and "-vmalert.proxyURL" in out


def test_check_says_it_talks_to_prometheus_and_its_version(prometheus_factory, tmp_path, capsys):
    prometheus = prometheus_factory()
    out = check_output(tmp_path, prometheus.url, capsys)
    assert re.search(rf"store: Prometheus 2\.\d+\.\d+\S* at {prometheus.url}", out), out


@pytest.mark.slow  # several real services
def test_check_through_vmalert_proxy_counts_vmalerts_groups(tmp_path, capsys):
    require_victoria_metrics()
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: features\n  interval: 1s\n  rules:\n  - record: value:recorded\n    expr: time()\n")
    vmalert_port = free_port()
    server = VictoriaMetricsServer(tmp_path / "vm", extra_args=[f"-vmalert.proxyURL=http://127.0.0.1:{vmalert_port}"])
    server.start()
    vmalert = None
    try:
        vmalert = VMAlert(tmp_path / "vmalert", server.url, [rules], port=vmalert_port).start()
        out = check_output(tmp_path, server.url, capsys)
        assert f"store: VictoriaMetrics at {server.url}; its rules API lists 1 rule group(s)" in out
    finally:
        for process in (vmalert, server):
            if process:
                process.stop()


@pytest.mark.slow  # several real services
def test_the_scorer_locks_its_phase_on_vmalerts_groups_through_the_store(store, tmp_path):
    """The recording group runs in vmalert; victoria-metrics proxies its rules API
    (``-vmalert.proxyURL``), so `vigilante serve`, given the store's URL only, ticks just after it."""
    require_victoria_metrics()
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n- name: features\n  interval: 1s\n  rules:\n  - record: value:recorded\n    expr: time()\n")
    vmalert_port = free_port()
    server = VictoriaMetricsServer(tmp_path / "vm", extra_args=[f"-vmalert.proxyURL=http://127.0.0.1:{vmalert_port}"])
    with pytest.raises(NoRuleGroups):  # a store without the proxy evaluates nothing and says so
        rule_phase(PrometheusAPI(store[0].url).rule_groups(), ["value:recorded"], 1.0)
    processes = [server.start()]
    try:
        processes.append(VMAlert(tmp_path / "vmalert", server.url, [rules], port=vmalert_port).start())
        processes[-1].rules_evaluated()
        server.wait_for("value:recorded")
        phase = rule_phase(PrometheusAPI(server.url).rule_groups(), ["value:recorded"], 1.0, 0.25)
        assert phase is not None and phase.group == "features"

        state = tmp_path / "state"
        config = one_feature_config(tmp_path / "vigilante.yaml", server.url, state, query="value:recorded")
        train(config, state)
        port = free_port()
        scorer = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                           "--port", str(port)], tmp_path / "scorer.log").start()
        processes.append(scorer)
        ages: dict[float, float] = {}  # tick time -> age of the sample it read

        def five_ticks() -> bool:
            text = scrape(f"http://127.0.0.1:{port}")
            tick = value(text, "vigilante_last_successful_tick_timestamp_seconds") or 0.0
            if tick:
                ages[tick] = tick - (value(text, "vigilante_feature_value", feature="value") or 0)
            return len(ages) >= 5

        wait_until(five_ticks, 30, "five scored ticks")
        # The feature is the evaluation's time: a tick reads the evaluation of its own second. On a
        # loaded machine one evaluation can land late and its tick read the one before (ages 1, 2, 1
        # seen in a parallel CI run), so most ticks, not every one, must be that fresh.
        assert sorted(ages.values())[len(ages) // 2] < 1.5 and all(0 <= age < 3 for age in ages.values()), ages
        log = (tmp_path / "scorer.log").read_text()
        assert "store: VictoriaMetrics at" in log and "lists 1 rule group(s)" in log
        if 0.1 < phase.offset_seconds < 0.9:  # nearer the whole second, the clock grid is kept
            assert "just after rule group features is evaluated" in log, log
        assert "lists no rule groups" not in log
    finally:
        for process in reversed(processes):
            process.stop()
