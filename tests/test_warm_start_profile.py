"""A warm start from Prometheus learns the day's shape from days of history, not from its hours.

Prometheus holds a week of requests per second with a daily rhythm (quiet nights, busy days
from 08:00 UTC) at the tick spacing, and then a weekday whose day does not start. A scorer
warmed through the service's own start-up at 07:50 that day flags it within 20 minutes of
08:00. One told to read no more than its bootstrap window (``service.profile_history_seconds:
0``) cannot: the night's value is all its last two hours held.
"""

from __future__ import annotations

import logging
import math
import random
import time

import pytest
from prometheus_client import CollectorRegistry

from vigilante.config import Config
from vigilante.prometheus.api import PrometheusAPI
from vigilante.service.feature_source import FeatureSource
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.serve import feature_queries
from scripts.bench_scorer import openmetrics
from scripts.harness import PrometheusServer, backfill_openmetrics

STEP = 15.0
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
FEATURE = "requests_per_second"
NIGHT_RATE, DAY_RATE = 5.0, 20.0
WATCHED = 45 * MINUTE  # from 07:50: the broken morning the scorer ticks through


def weekday_morning() -> float:
    """The latest 07:50 UTC on a Tuesday to Friday that is more than an hour in the past (the
    ticks after it read backfilled samples): the week before it holds four earlier weekdays."""
    latest = time.time() - WATCHED - HOUR
    t = math.floor(latest / DAY) * DAY + 7 * HOUR + 50 * MINUTE
    while t > latest or time.gmtime(t).tm_wday not in (1, 2, 3, 4):
        t -= DAY
    return t


def rate(t: float, broken_from: float, noise: random.Random) -> float:
    busy = 8 <= (t % DAY) / HOUR < 20 and t < broken_from
    return (DAY_RATE if busy else NIGHT_RATE) * (1 + 0.03 * noise.uniform(-1, 1))


def config_for(tmp_path, **service) -> Config:
    return (Config().replace("scorer", features=(FEATURE,), state_path=str(tmp_path / "state.json"))
            .replace("service", **service))


@pytest.fixture(scope="module")
def broken_morning(tmp_path_factory):
    """Prometheus holding a week of the rhythm and the morning whose day does not start; that morning's 07:50."""
    workdir = tmp_path_factory.mktemp("profile-history")
    morning = weekday_morning()
    start, end = morning - 7 * DAY - HOUR, morning + WATCHED
    noise = random.Random(5)
    rows = [(t, {FEATURE: rate(t, morning + 10 * MINUTE, noise)})
            for t in (start + i * STEP for i in range(int((end - start) // STEP) + 1))]
    backfill_openmetrics(openmetrics(rows, Config()), workdir / "data", workdir)
    server = PrometheusServer(workdir, data_dir=workdir / "data",
                              extra_args=["--storage.tsdb.retention.time=30d"]).start()
    yield server, morning
    server.stop()


def first_alert_after_warming(server, config: Config, morning: float) -> float | None:
    """Seconds from 08:00 to the first tick the scorer, warmed at 07:50, decides is anomalous; None if none."""
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    source = FeatureSource(PrometheusAPI(server.url), feature_queries(config), metrics.observe_query)
    service = ScorerService(config, source, metrics, clock=lambda: morning)
    service.start()
    assert service.warm_source == "prometheus"
    for k in range(int(WATCHED // STEP) + 1):
        t = morning + k * STEP
        assert service.tick(t) == "scored"
        if service.detector.decision:
            return t - (morning + 10 * MINUTE)
    return None


def test_a_day_that_does_not_start_is_flagged_by_a_scorer_warmed_on_a_week_of_history(broken_morning, tmp_path, caplog):
    server, morning = broken_morning
    with caplog.at_level(logging.INFO, logger="vigilante"):
        after = first_alert_after_warming(server, config_for(tmp_path), morning)
    assert "the daily profiles learned from 7 d of history" in caplog.text
    assert after is not None and 0 < after <= 20 * MINUTE


def test_with_only_the_bootstrap_window_the_same_morning_looks_normal(broken_morning, tmp_path):
    server, morning = broken_morning
    assert first_alert_after_warming(server, config_for(tmp_path, profile_history_seconds=0), morning) is None
