"""Prometheus -> remote_write -> VictoriaMetrics as the long-term store the scorer warms from.

The local Prometheus scrapes the app and holds only what it scraped since it started (a short
retention, as a Prometheus that keeps hours while the long-term store keeps months); it
remote-writes every sample to victoria-metrics, which also holds ten minutes of older history
(imported: what that Prometheus wrote before). Pointed at Prometheus the scorer cannot warm;
pointed at VictoriaMetrics (only ``prometheus.url`` changes) it warms from the older history
and reads the live value Prometheus forwarded.
"""

from __future__ import annotations

import math
import time

import pytest
import requests

from scripts.harness import PrometheusServer, VictoriaMetricsServer, static_scrape_config
from tests.fixtures.victoria import require_victoria_metrics
from vigilante.config import Config
from vigilante.prometheus.api import PrometheusAPI
from vigilante.service.feature_source import FeatureSource
from vigilante.service.warm_start import NotWarmError, warm_start

pytestmark = pytest.mark.slow

QUERY = 'synthetic_value{job="synth"}'
HISTORY_SECONDS = 600


def scorer_config(tmp_path, url: str) -> Config:
    return (Config().replace("prometheus", url=url)
            .replace("scorer", features=("value",), tick_seconds=1.0, state_path=str(tmp_path / f"state-{url[-5:]}"))
            .replace("service", queries={"value": QUERY}, bootstrap_hours=0.2))


@pytest.fixture
def stores(tmp_path, gunicorn_factory):
    require_victoria_metrics()
    app = gunicorn_factory(app="tests.fixtures.synthetic_app:app", ready_path="/")
    instance = app.url.split("//")[1]
    store = VictoriaMetricsServer(tmp_path / "vm").start()
    now = math.floor(time.time())
    store.import_prometheus("".join(
        f'synthetic_value{{job="synth",instance="{instance}"}} {10 + math.sin(i / 30):.4f} {(now - HISTORY_SECONDS + i) * 1000}\n'
        for i in range(HISTORY_SECONDS - 60)))
    config = PrometheusServer.build_config([static_scrape_config("synth", [instance])], [], "1s", "1s", None)
    config["remote_write"] = [{"url": f"{store.url}/api/v1/write",
                               "queue_config": {"batch_send_deadline": "1s"}}]
    prometheus = PrometheusServer(tmp_path / "prometheus", config=config,
                                  extra_args=["--storage.tsdb.retention.time=2h"]).start()
    yield app, prometheus, store
    prometheus.stop()
    store.stop()


def test_the_scorer_warms_from_the_long_term_store_not_from_the_short_lived_prometheus(stores, tmp_path):
    app, prometheus, store = stores
    requests.post(f"{app.url}/set?value=42", timeout=5)
    # The live value reaches the long-term store through Prometheus' remote_write.
    store.wait_for(f"{QUERY} == 42", timeout=30)

    at = time.time()
    local = scorer_config(tmp_path, prometheus.url)
    with pytest.raises(NotWarmError, match="Prometheus history not used"):
        warm_start(local, FeatureSource(PrometheusAPI(prometheus.url), {"value": QUERY}), at)

    long_term = scorer_config(tmp_path, store.url)
    source = FeatureSource(PrometheusAPI(store.url), {"value": QUERY})
    warm = warm_start(long_term, source, at)
    assert warm.source == "prometheus" and warm.detector.ticks_learned >= 300
    assert source.at(time.time()).values == {"value": 42.0}
