"""Which store a URL leads to, from the answers look-alikes give (the real ones: tests/test_victoria_store.py)."""

from __future__ import annotations

from tests.fixtures.fake_prometheus import FakePrometheus
from vigilante.prometheus.api import PrometheusAPI
from vigilante.prometheus.store import UNKNOWN, identify_store


def test_a_store_naming_itself_in_its_build_information_is_called_by_that_name():
    mimir = {"status": "success", "data": {"application": "Grafana Mimir", "version": "2.10.0"}}
    with FakePrometheus(lambda params: mimir) as fake:
        store = identify_store(PrometheusAPI(fake.url, retries=0))
    assert str(store) == "Grafana Mimir 2.10.0"
    assert store.rules_note == "its rules API cannot be read"  # the same answer is no list of groups


def test_a_store_that_answers_nothing_recognisable_is_unidentified_not_an_error():
    with FakePrometheus(lambda params: "<html>a proxy's page</html>") as fake:
        store = identify_store(PrometheusAPI(fake.url, retries=0))
    assert store.kind == UNKNOWN and store.rule_groups is None


def test_no_answer_at_all_is_none():
    assert identify_store(PrometheusAPI("http://127.0.0.1:1", retries=0, timeout=2)) is None
