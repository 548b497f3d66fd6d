"""The live scorer against the real Prometheus: recorded features, warm start, restarts.

History is backfilled: per-pod counters and histogram buckets (three pods; one restarts,
one is removed by the autoscaler and the others take its share), then the shipped
recording rules evaluated over it with promtool, so the service reads exactly the
series it reads in production.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from vigilante.config import Config
from vigilante.service.feature_source import FeatureSource
from vigilante.prometheus.api import PrometheusAPI
from vigilante.scorer import Detector
from vigilante.service.serve import feature_queries
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from scripts.harness import PrometheusServer, backfill_openmetrics, backfill_recording_rules
from tests.fixtures.flask_history import P50, P95, Pod, exposition
from tests.scorer_data import normal_rows, small_config

from tests.support import REPO_ROOT
RECORDING_RULES = REPO_ROOT / "rules" / "generated" / "vigilante-recording.rules.yml"
STEP = 15.0
MINUTE = 60.0

# Scenario (minutes from the start): pod-1 restarts at 30; pod-2 is removed at 85 and the
# other two serve 1.5 times as much from then on, so the app's totals never change.
OK_RATE, ERROR_RATE = 2.0, 0.1
TOTAL_RPS, TOTAL_EPS = 3 * (OK_RATE + ERROR_RATE), 3 * ERROR_RATE


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("history")
    end = (time.time() // STEP) * STEP - 2 * MINUTE
    start = end - 100 * MINUTE
    removed = start + 85 * MINUTE
    pods = [Pod("ticket-app-0", OK_RATE, ERROR_RATE, start, boost_at=removed, boost=1.5),
            Pod("ticket-app-1", OK_RATE, ERROR_RATE, start, restart_at=start + 30 * MINUTE, boost_at=removed,
                boost=1.5),
            Pod("ticket-app-2", OK_RATE, ERROR_RATE, start, end=removed)]
    backfill_openmetrics(exposition(pods, start, end), workdir / "data", workdir)
    server = PrometheusServer(workdir, data_dir=workdir / "data",
                              extra_args=["--storage.tsdb.retention.time=30d"]).start()
    backfill_recording_rules(server, RECORDING_RULES, start, end)
    yield server, start, end
    server.stop()


def service_for(server, tmp_path, clock, **service_knobs) -> ScorerService:
    config = (Config().replace("service", bootstrap_hours=0.75, **service_knobs)
              .replace("scorer", state_path=str(tmp_path / "state.json")))
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    source = FeatureSource(PrometheusAPI(server.url), feature_queries(config), metrics.observe_query)
    return ScorerService(config, source, metrics, clock=clock)


def test_features_read_through_the_recording_rules_match_the_scenario(history):
    server, start, end = history
    source = FeatureSource(PrometheusAPI(server.url), feature_queries(Config()))

    rows = source.between(start + 5 * MINUTE, end, STEP)

    transitions = (start + 30 * MINUTE, start + 85 * MINUTE)
    steady = [r for r in rows if not any(0 <= r.timestamp - t < 2 * MINUTE for t in transitions)]
    assert len(steady) > 300
    for row in steady:
        v = row.values
        assert v["requests_per_second"] == pytest.approx(TOTAL_RPS, rel=0.01), row
        assert v["errors_per_second"] == pytest.approx(TOTAL_EPS, rel=0.01), row
        assert v["error_ratio"] == pytest.approx(ERROR_RATE / (OK_RATE + ERROR_RATE), rel=0.01), row
        assert v["latency_p50_seconds"] == pytest.approx(P50, rel=0.01), row
        assert v["latency_p95_seconds"] == pytest.approx(P95, rel=0.01), row
    # Around the restart, rate() sees the reset and at worst misses the requests of one
    # scrape interval of one pod; nothing drops to zero or spikes.
    around = [r.values["requests_per_second"] for r in rows if r not in steady]
    assert around and all(0.8 * TOTAL_RPS <= v <= 1.05 * TOTAL_RPS for v in around), around


def test_warm_start_bootstraps_from_prometheus_history(history, tmp_path):
    server, start, end = history
    service = service_for(server, tmp_path, clock=lambda: start + 75 * MINUTE)

    service.start()

    assert service.warm and service.warm_source == "prometheus"
    assert service.detector.ticks_learned >= 150
    registry = service.metrics.registry
    assert registry.get_sample_value("vigilante_model_warm") == 1
    assert registry.get_sample_value("vigilante_scorer_info", {"version": "0.1.0", "config_digest":
                                      service.config.digest(), "warm_start": "prometheus"}) == 1
    assert Path(service.config.scorer.state_path).exists()


def test_a_bootstrap_window_longer_than_the_history_is_reported(history, tmp_path, caplog):
    server, start, end = history
    service = service_for(server, tmp_path, clock=lambda: start + 3 * MINUTE)

    with caplog.at_level(logging.WARNING):
        service.start()

    assert not service.warm
    assert "complete ticks spanning" in caplog.text and "check its retention" in caplog.text
    assert service.tick(start + 4 * MINUTE) == "not_warm"


def test_a_restarted_scorer_resumes_from_its_state_with_the_same_scores(history, tmp_path):
    server, start, end = history
    t0 = start + 75 * MINUTE
    ticks = [t0 + STEP * (i + 1) for i in range(40)]  # through the scale-in at minute 85
    first = service_for(server, tmp_path / "first", clock=lambda: t0, save_every_seconds=20 * STEP)
    (tmp_path / "first").mkdir()
    first.start()
    outcomes = [first.tick(t) for t in ticks[:20]]
    # The first process is "killed" here: a second one finds the state it saved at tick 20.
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "state.json").write_bytes(Path(first.config.scorer.state_path).read_bytes())
    uninterrupted = []
    for t in ticks[20:]:
        first.tick(t)
        uninterrupted.append(first.metrics.registry.get_sample_value("vigilante_anomaly_score"))

    second = service_for(server, tmp_path / "second", clock=lambda: ticks[19])
    second.start()
    resumed, decisions = [], []
    for t in ticks[20:]:
        second.tick(t)
        resumed.append(second.metrics.registry.get_sample_value("vigilante_anomaly_score"))
        decisions.append(second.metrics.registry.get_sample_value("vigilante_anomaly_decision"))

    assert outcomes == ["scored"] * 20
    assert second.warm_source == "state"
    assert resumed == uninterrupted
    assert set(decisions) == {0}  # steady traffic, scale-in included: no re-warm-up alert


def test_a_corrupt_state_is_kept_as_a_backup_and_falls_back_to_bootstrap_with_a_clear_log_line(history, tmp_path,
                                                                                                 caplog):
    server, start, end = history
    service = service_for(server, tmp_path, clock=lambda: start + 75 * MINUTE)
    state = Path(service.config.scorer.state_path)
    Detector.fit(small_config(), normal_rows(100)).save(state)
    truncated = state.read_bytes()[:-100]  # a state of ours, cut short
    state.write_bytes(truncated)

    with caplog.at_level(logging.WARNING):
        service.start()

    assert service.warm_source == "prometheus"
    assert f"state file {state} not used" in caplog.text and f"kept as {state}.bak" in caplog.text
    assert Path(f"{state}.bak").read_bytes() == truncated


def test_collect_history_writes_a_training_csv_the_backtest_reads(history, tmp_path, monkeypatch, capsys):
    from vigilante.cli import main
    from vigilante.scorer.series import read_series

    server, start, end = history
    monkeypatch.setenv("VIGILANTE_PROMETHEUS__URL", server.url)
    out = tmp_path / "train.csv"

    assert main(["collect", "--history", "30m", "--out", str(out)]) == 0

    rows = read_series(out, Config().scorer.features)
    assert len(rows) == 121  # 30 minutes at 15 s, both ends included
    assert "wrote 121 rows" in capsys.readouterr().out


def test_collect_live_samples_one_row_per_tick_with_progress(history, tmp_path, monkeypatch, capsys):
    from vigilante.cli import main

    server, start, end = history
    monkeypatch.setenv("VIGILANTE_PROMETHEUS__URL", server.url)
    monkeypatch.setenv("VIGILANTE_SCORER__TICK_SECONDS", "0.2")
    out = tmp_path / "live.csv"

    assert main(["collect", "--duration", "0.6", "--out", str(out)]) == 0

    lines = out.read_text().splitlines()
    assert lines[0].startswith("timestamp,requests_per_second,")
    assert len(lines) == 1 + 3
    err = capsys.readouterr().err
    assert "3/3 rows" in err and "wrote 3 rows" in err


def test_collect_says_which_duration_is_wrong(tmp_path, capsys):
    from vigilante.cli import main

    assert main(["collect", "--duration", "ten minutes", "--out", str(tmp_path / "x.csv")]) == 2
    assert "'ten minutes' is not a duration" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--duration", "--history"])
@pytest.mark.parametrize("duration", ["inf", "infh", "nan", "1e400", "0s", "400d"])
def test_collect_refuses_an_endless_or_absurd_duration_in_one_line(tmp_path, capsys, option, duration):
    from vigilante.cli import main

    out = tmp_path / "x.csv"
    assert main(["collect", option, duration, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"duration {duration!r} must be positive and at most a year" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_tick_that_warms_up_also_scores_and_an_unaligned_start_warms_too(history, tmp_path):
    server, start, end = history
    t0 = start + 75 * MINUTE
    at_tick = service_for(server, tmp_path / "a", clock=lambda: t0)
    (tmp_path / "a").mkdir()

    assert at_tick.tick(t0) == "scored"  # trains on the ticks before t0, then scores t0
    assert at_tick.warm_source == "prometheus"

    unaligned = service_for(server, tmp_path / "b", clock=lambda: t0 + 7.37)
    (tmp_path / "b").mkdir()
    unaligned.start()
    assert unaligned.warm and unaligned.tick(t0 + STEP) == "scored"


def test_a_tick_without_prometheus_drops_the_decision_and_learns_nothing(history, tmp_path):
    from scripts.harness import free_port

    server, start, end = history
    t0 = start + 75 * MINUTE
    service = service_for(server, tmp_path, clock=lambda: t0)
    service.start()
    service.tick(t0 + STEP)
    registry = service.metrics.registry
    learned = service.detector.ticks_learned
    last_tick = registry.get_sample_value("vigilante_last_successful_tick_timestamp_seconds")
    service.metrics.decision.set(1)  # as if an incident were on when Prometheus went away
    service.features.api = PrometheusAPI(f"http://127.0.0.1:{free_port()}", retries=0)

    assert service.tick(t0 + 2 * STEP) == "prometheus_unavailable"

    assert registry.get_sample_value("vigilante_anomaly_decision") == 0
    assert registry.get_sample_value("vigilante_model_learn_skipped_total", {"reason": "gap"}) == 1
    assert registry.get_sample_value("vigilante_last_successful_tick_timestamp_seconds") == last_tick == t0 + STEP
    assert service.detector.ticks_learned == learned
    assert registry.get_sample_value("vigilante_ticks_total", {"result": "prometheus_unavailable"}) == 1


def test_decision_changes_are_logged_once_each_way(tmp_path, caplog):
    from vigilante.scorer.detector import StepResult

    config = Config().replace("scorer", state_path=str(tmp_path / "state.json"))
    service = ScorerService(config, None, ScorerMetrics(CollectorRegistry(), config.scorer.features))
    ticks = [(0.2, 0), (2.5, 1), (2.7, 1), (2.6, 1), (0.3, 0), (0.2, 0)]
    with caplog.at_level(logging.INFO, logger="vigilante"):
        for i, (score, decision) in enumerate(ticks):
            service._log_decision_change(StepResult(1_800_000_000 + 15 * i, score, 1.5, decision, decision == 0,
                                                    None, attribution={"error_ratio": 0.75, "requests_per_second": 0.25}))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "decision 1 (anomaly): score 2.5000 above threshold 1.5000; by feature: error_ratio 75%, requests_per_second 25%" in lines[0]
    assert "decision 0: score 0.3000" in lines[1]


def test_a_scorer_that_never_warmed_does_not_claim_to_have_saved(tmp_path, caplog):
    config = Config().replace("scorer", state_path=str(tmp_path / "state.json"))
    service = ScorerService(config, None, ScorerMetrics(CollectorRegistry(), config.scorer.features))
    with caplog.at_level(logging.INFO, logger="vigilante"):
        assert service.save(logging.INFO) is False
    assert "no model state to save" in caplog.text and "saved to" not in caplog.text
    assert not (tmp_path / "state.json").exists()


def test_a_failed_save_is_counted_and_logged_and_the_scorer_goes_on(history, tmp_path, caplog):
    server, start, end = history
    service = service_for(server, tmp_path, clock=lambda: start + 75 * MINUTE)
    service.start()
    assert service.warm
    blocked = tmp_path / "state.json"
    blocked.unlink()
    blocked.mkdir()  # the state path is now a folder: every save fails
    with caplog.at_level(logging.INFO, logger="vigilante"):
        assert service.save(logging.INFO) is False
        result = service.tick(start + 75 * MINUTE + STEP)
    assert service.metrics.registry.get_sample_value("vigilante_state_save_failures_total") == 1
    assert "could not save the model state to" in caplog.text and "not a regular file" in caplog.text
    assert result in ("scored", "gap") and blocked.is_dir()
