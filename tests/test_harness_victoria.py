"""The VictoriaMetrics harness: the store, two sharded vmagents and vmalert, on free 127.0.0.1 ports."""

from __future__ import annotations

import time

import pytest

from scripts.harness import (VICTORIA_METRICS, VMAGENT, VMALERT, MissingBinaryError, VictoriaMetricsServer, VMAgent,
                             VMAlert, find_binary, free_port, port_is_free, static_scrape_config)
from tests.fixtures.victoria import require_victoria_metrics


@pytest.mark.parametrize("binary", [VICTORIA_METRICS, VMAGENT, VMALERT], ids=lambda b: b.env_var)
def test_a_missing_victoria_metrics_binary_names_the_package_and_its_override(tmp_path, binary):
    with pytest.raises(MissingBinaryError) as err:
        find_binary(binary, env={"PATH": str(tmp_path)})

    assert "apt-get install -y victoria-metrics" in str(err.value)
    assert binary.env_var in str(err.value)


def test_a_victoria_metrics_override_is_used(tmp_path):
    fake = tmp_path / "vm"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)

    assert find_binary(VICTORIA_METRICS, env={"VICTORIA_METRICS_BIN": str(fake), "PATH": ""}) == str(fake)


@pytest.mark.slow  # several real services
def test_two_vmagent_shards_split_the_targets_and_vmalert_records_from_the_store(tmp_path):
    require_victoria_metrics()
    store = VictoriaMetricsServer(tmp_path / "vm").start()
    agents, vmalert = [], None
    try:
        # The store's own /metrics and a second program's are the targets: no app needed.
        vmalert_port = free_port()
        rules = tmp_path / "rules.yml"
        rules.write_text("groups:\n- name: harness\n  interval: 1s\n  rules:\n"
                         "  - record: harness:up:count\n    expr: count(up)\n")
        vmalert = VMAlert(tmp_path / "vmalert", store.url, [rules], port=vmalert_port).start()
        config = {"global": {"scrape_interval": "1s"},
                  "scrape_configs": [static_scrape_config("harness", [store.url[7:], vmalert.url[7:]])]}
        agents = [VMAgent(tmp_path / f"vmagent-{n}", config, f"{store.url}/api/v1/write", members_count=2,
                          member_num=n).start() for n in range(2)]

        # Which shard takes a target is a hash of its labels: each is scraped by exactly one agent.
        scraped = [t["labels"]["instance"] for agent in agents for t in agent.targets()]
        assert sorted(scraped) == sorted([store.url[7:], vmalert.url[7:]])
        store.wait_for('count(up{job="harness"} == 1) == 2', timeout=30)
        recorded = store.wait_for("harness:up:count == 2", timeout=30)
        assert recorded[0]["metric"]["__name__"] == "harness:up:count"
        vmalert.rules_evaluated()
        assert [r["name"] for g in vmalert.rule_groups() for r in g["rules"]] == ["harness:up:count"]
    finally:
        for server in [*agents, vmalert, store]:
            if server:
                server.stop()
    assert all(port_is_free(s.port) for s in [*agents, vmalert, store])


def test_history_imported_with_timestamps_is_queryable_at_once(tmp_path):
    require_victoria_metrics()
    store = VictoriaMetricsServer(tmp_path / "vm").start()
    try:
        now = int(time.time())
        text = "".join(f'harness_value{{job="h"}} {i} {(now - 600 + i * 60) * 1000}\n' for i in range(10))
        store.import_prometheus(text)

        values = store.query_range('harness_value{job="h"}', now - 600, now - 60, 60)[0]["values"]
        assert [float(v) for _, v in values] == [float(i) for i in range(10)]
        assert store.series_count() == 1
    finally:
        store.stop()
