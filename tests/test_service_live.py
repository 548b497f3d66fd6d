"""`vigilante serve` as a real process between the real Prometheus and a live series (time compressed: 1 s ticks)."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts.harness import (ManagedProcess, PrometheusServer, backfill_openmetrics, free_port, static_scrape_config,
                             wait_until)

pytestmark = pytest.mark.slow

from tests.support import REPO_ROOT
from tests.support.metrics import samples, scrape, value


def sample(url: str, name: str, **labels) -> float:
    """The scorer's sample with exactly these labels; NaN (never equal, never >=) when it has none."""
    found = value(scrape(url), name, **labels)
    return math.nan if found is None else found


@pytest.fixture
def live(tmp_path, gunicorn_factory):
    """Synthetic series app with 8 minutes of backfilled history, Prometheus, and `vigilante serve`."""
    app = gunicorn_factory(app="tests.fixtures.synthetic_app:app", ready_path="/")
    instance = app.url.split("//")[1]
    now = math.floor(time.time())
    lines = ["# TYPE synthetic_value gauge"]
    for i in range(480):
        t = now - 480 + i
        noise = 0.3 * ((i * 7919) % 11 - 5) / 5
        lines.append(f'synthetic_value{{job="synth",instance="{instance}"}} {10 + math.sin(i / 30) + noise} {t}')
    workdir = tmp_path / "prometheus"
    backfill_openmetrics("\n".join(lines), workdir / "data", workdir)
    scorer_port = free_port()
    prometheus = PrometheusServer(workdir, data_dir=workdir / "data", scrape_configs=[
        static_scrape_config("synth", [instance]),
        static_scrape_config("vigilante-scorer", [f"127.0.0.1:{scorer_port}"], {"namespace": "vigilante", "pod": "local-0"}),
    ]).start()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT),
           "VIGILANTE_SCORER__FEATURES": "[value]",
           "VIGILANTE_SERVICE__QUERIES": '{value: \'synthetic_value{job="synth"}\'}',
           "VIGILANTE_SCORER__TICK_SECONDS": "1",
           # Compressed time: a hold of two 1 s ticks instead of the shipped scorer.hold_seconds.
           "VIGILANTE_SCORER__HOLD_SECONDS": "2",
           "VIGILANTE_SERVICE__BOOTSTRAP_HOURS": "0.1",
           "VIGILANTE_SERVICE__SAVE_EVERY_SECONDS": "5",
           "VIGILANTE_SERVICE__LISTEN_ADDRESS": "127.0.0.1",
           "VIGILANTE_SCORER__LISTEN_PORT": str(scorer_port),
           "VIGILANTE_SCORER__STATE_PATH": str(tmp_path / "state.json"),
           "VIGILANTE_PROMETHEUS__URL": prometheus.url,
           "VIGILANTE_PROMETHEUS__QUERY_TIMEOUT_SECONDS": "2"}
    scorer = ManagedProcess("vigilante serve", [sys.executable, "-m", "vigilante.cli", "serve"], tmp_path / "scorer.log",
                            env=env).start()
    url = f"http://127.0.0.1:{scorer_port}"
    scorer.wait_ready(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200, 60, "to be ready")
    yield app, prometheus, scorer, url
    scorer.stop()
    prometheus.stop()


def test_score_threshold_and_decision_are_scraped_back_and_a_spike_raises_the_decision(live):
    app, prometheus, scorer, url = live

    prometheus.wait_for('vigilante_model_warm{job="vigilante-scorer"} == 1', timeout=30)
    threshold = prometheus.wait_for('vigilante_anomaly_threshold{job="vigilante-scorer"}', timeout=30)
    assert float(threshold[0]["value"][1]) > 0
    prometheus.wait_for('vigilante_anomaly_score{job="vigilante-scorer"} >= 0', timeout=30)
    assert prometheus.query('vigilante_anomaly_decision{job="vigilante-scorer"} == 1') == []

    requests.post(f"{app.url}/set?value=100", timeout=5)

    decision = prometheus.wait_for('vigilante_anomaly_decision{job="vigilante-scorer"} == 1', timeout=30)
    assert decision[0]["metric"]["namespace"] == "vigilante"
    attribution = prometheus.query('vigilante_feature_attribution{job="vigilante-scorer", feature="value"}')
    assert float(attribution[0]["value"][1]) == pytest.approx(1.0)


def test_prometheus_down_then_back_no_crash_no_learning_recovery(live):
    app, prometheus, scorer, url = live
    wait_until(lambda: sample(url, "vigilante_ticks_total", result="scored") >= 3, 30, "three scored ticks")

    prometheus.stop()
    wait_until(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 503, 30, "readiness to drop")
    learned = sample(url, "vigilante_model_samples_learned_total")
    wait_until(lambda: sample(url, "vigilante_ticks_total", result="prometheus_unavailable") >= 3, 60,
               "three ticks without Prometheus")
    assert sample(url, "vigilante_model_samples_learned_total") == learned
    assert scorer.alive()

    prometheus.start()
    scored = sample(url, "vigilante_ticks_total", result="scored")
    wait_until(lambda: sample(url, "vigilante_ticks_total", result="scored") >= scored + 3, 60,
               "scoring to resume")
    wait_until(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200, 30, "readiness to return")
    assert sample(url, "vigilante_model_samples_learned_total") > learned
    assert "Prometheus unavailable" in scorer.log_path.read_text()


def test_a_killed_scorer_restarts_from_its_saved_state(live, tmp_path):
    app, prometheus, scorer, url = live
    state = tmp_path / "state.json"
    wait_until(lambda: sample(url, "vigilante_ticks_total", result="scored") >= 6, 30, "a periodic save")
    assert state.is_file()
    threshold = sample(url, "vigilante_anomaly_threshold")

    os.killpg(scorer.pid, 9)
    scorer.popen.wait(10)
    restarted = ManagedProcess("vigilante serve", scorer.argv, tmp_path / "scorer-2.log", env=scorer.env).start()
    try:
        restarted.wait_ready(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200, 60, "to be ready")
        info = [s.labels for s in samples(scrape(url)) if s.name == "vigilante_scorer_info"]
        assert info[0]["warm_start"] == "state"
        # The same model: the threshold calibrated before the kill, not a new bootstrap's.
        assert sample(url, "vigilante_anomaly_threshold") == threshold
        wait_until(lambda: sample(url, "vigilante_ticks_total", result="scored") >= 3, 30, "scoring after restart")
        assert sample(url, "vigilante_anomaly_decision") == 0
    finally:
        restarted.stop()
