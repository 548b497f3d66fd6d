"""The scorer's reads and `vigilante check` against a real VictoriaMetrics, run with its own defaults."""

from __future__ import annotations

import time

import pytest

from scripts.harness import VictoriaMetricsServer
from tests.fixtures.victoria import require_victoria_metrics
from vigilante.prometheus.api import PrometheusAPI


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

