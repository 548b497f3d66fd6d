"""The warm start's training hygiene through the real Prometheus and the recording rules.

A fresh install whose history holds its own start (the 1-minute rates climbing from zero),
two outages (every request fails) and a 3x spike: the scorer that warms on it, through the
service's own start-up, still flags the next 3x spike.
"""

from __future__ import annotations

import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from vigilante.config import Config
from vigilante.prometheus.api import PrometheusAPI
from vigilante.service.feature_source import FeatureSource
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.serve import feature_queries
from scripts.harness import PrometheusServer, backfill_openmetrics, backfill_recording_rules
from tests.fixtures.flask_history import P50, P95, Pod, exposition
from tests.support import REPO_ROOT

RECORDING_RULES = REPO_ROOT / "rules" / "generated" / "vigilante-recording.rules.yml"
STEP = 15.0
MINUTE = 60.0
OK_RATE, ERROR_RATE = 4.0, 0.05
PODS = 2


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory):
    """Prometheus holding the first 30 minutes of an app, incidents included, as recorded features."""
    workdir = tmp_path_factory.mktemp("fresh-install")
    end = (time.time() // STEP) * STEP - 2 * MINUTE
    start = end - 30 * MINUTE
    incidents = dict(outages=((start + 8 * MINUTE, start + 9.5 * MINUTE), (start + 22 * MINUTE, start + 23 * MINUTE)),
                     boost_at=start + 15 * MINUTE, boost_until=start + 16 * MINUTE, boost=3.0)
    pods = [Pod(f"shop-{i}", OK_RATE, ERROR_RATE, start, **incidents) for i in range(PODS)]
    backfill_openmetrics(exposition(pods, start, end), workdir / "data", workdir)
    server = PrometheusServer(workdir, data_dir=workdir / "data",
                              extra_args=["--storage.tsdb.retention.time=30d"]).start()
    # from an hour before the app appeared: the window a 1-hour bootstrap reads
    backfill_recording_rules(server, RECORDING_RULES, start - 30 * MINUTE, end)
    yield server, start, end
    server.stop()


def warmed_service(server, tmp_path, now: float) -> ScorerService:
    config = (Config().replace("service", bootstrap_hours=1.0)
              .replace("scorer", state_path=str(tmp_path / "state.json")))
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    source = FeatureSource(PrometheusAPI(server.url), feature_queries(config), metrics.observe_query)
    service = ScorerService(config, source, metrics, clock=lambda: now)
    service.start()
    return service


def test_the_history_holds_the_ramp_and_the_incidents(fresh_install):
    server, start, end = fresh_install
    rows = FeatureSource(PrometheusAPI(server.url), feature_queries(Config())).between(start, end, STEP)
    rps = [r.values["requests_per_second"] for r in rows]
    ratio = [r.values["error_ratio"] for r in rows]
    steady = PODS * (OK_RATE + ERROR_RATE)
    first = next(v for v in rps if v is not None)
    assert first < 0.5 * steady  # the 1-minute rate still filling
    assert max(v for v in rps if v is not None) == pytest.approx(3 * steady, rel=0.02)  # the spike
    # the outages: every request fails (rate()'s extrapolation at their edges can pass 1 a little)
    assert max(v for v in ratio if v is not None) > 0.9


def test_a_fresh_install_warmed_on_a_history_with_incidents_flags_the_next_spike(fresh_install, tmp_path, caplog):
    server, start, end = fresh_install
    with caplog.at_level(logging.INFO, logger="vigilante"):
        service = warmed_service(server, tmp_path, now=end + STEP)
    assert service.warm_source == "prometheus"
    assert "past incidents are not learned as normal" in caplog.text
    detector, t = service.detector, service.detector.last_timestamp
    steady = PODS * (OK_RATE + ERROR_RATE)
    spike = {"requests_per_second": 3 * steady, "errors_per_second": 3 * PODS * ERROR_RATE,
             "error_ratio": ERROR_RATE / (OK_RATE + ERROR_RATE), "latency_p50_seconds": P50,
             "latency_p95_seconds": P95}
    ratios = []
    for _ in range(8):
        t += STEP
        result = detector.step(t, spike)
        ratios.append(round(result.score / result.threshold, 2))
    assert max(ratios) > 1, f"score / threshold during the next 3x spike: {ratios}"
