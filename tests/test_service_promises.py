"""What the README promises of ``vigilante serve`` and the demo, each shown once.

The scorer runs as a real process against a stand-in query API where a real Prometheus
cannot produce the case (a query error on demand, no history at all); the loop's own
scheduling is driven through its public ``run`` with a clock the test moves.
"""

from __future__ import annotations

import logging
import math
import random
import re
import signal
import subprocess
import sys

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from vigilante.cli import main
from vigilante.config import Config, load_config
from vigilante.scorer import Detector
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from scripts.harness.process import ManagedProcess, free_port
from tests.fixtures.fake_prometheus import FakePrometheus, vector
from tests.scorer_data import normal_rows, small_config
from tests.scorer_process import one_feature_config, training_csv
from tests.support.fake_time import START, FakeTime
from tests.support.metrics import scrape, value

class Answers:
    """Steady values by default; ``error`` makes every query a Prometheus query error."""

    def __init__(self):
        self.error = False
        self.rng = random.Random(2)

    def __call__(self, params):
        if self.error:
            return {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
        if "start" in params:  # a range query (the bootstrap): no history at all
            return {"status": "success", "data": {"resultType": "matrix", "result": []}}
        return vector({"value": 100 * (1 + self.rng.gauss(0, 0.02))}, float(params.get("time", 0)))


def serve(tmp_path, url):
    config = one_feature_config(tmp_path / "vigilante.yaml", url, tmp_path / "state",
                                scorer={"relearn_after_seconds": 0},
                                service={"training_csv": str(training_csv(tmp_path / "train.csv"))})
    port = free_port()
    process = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                        "--port", str(port)], tmp_path / "scorer.log").start()
    return process, f"http://127.0.0.1:{port}"


def metric(base, name, **labels):
    return value(scrape(base), name, **labels)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_warm_from_the_training_csv_then_a_stop_signal_saves_the_state(tmp_path, sig):
    with FakePrometheus(Answers()) as fake:
        scorer, base = serve(tmp_path, fake.url)
        try:
            scorer.wait_ready(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, 60, "ready")
            assert 'warm_start="csv"' in scrape(base)
            # saved when it warmed, just after it answers ready: wait for the file, not on luck
            scorer.wait_ready(lambda: (tmp_path / "state").exists(), 30, "the state saved at warm start")
            learned_at_start = Detector.load(tmp_path / "state").ticks_learned
            scorer.wait_ready(lambda: (metric(base, "vigilante_model_samples_learned_total") or 0) >= 3, 30,
                              "learning a few ticks")
            learned = metric(base, "vigilante_model_samples_learned_total")
            scorer.popen.send_signal(sig)
            assert scorer.popen.wait(30) == 0
        finally:
            scorer.stop()
    assert Detector.load(tmp_path / "state").ticks_learned >= learned_at_start + learned
    assert "model state saved to" in scorer.log_path.read_text().splitlines()[-2]


@pytest.mark.slow
def test_a_query_error_is_counted_as_such_and_the_scorer_goes_on(tmp_path):
    answers = Answers()
    with FakePrometheus(answers) as fake:
        scorer, base = serve(tmp_path, fake.url)
        try:
            scorer.wait_ready(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, 60, "ready")
            answers.error = True
            scorer.wait_ready(lambda: (metric(base, "vigilante_ticks_total", result="query_error") or 0) >= 2, 30,
                              "two query errors")
            assert metric(base, "vigilante_prometheus_query_errors_total") >= 2
            assert metric(base, "vigilante_anomaly_decision") == 0
            answers.error = False
            scored = metric(base, "vigilante_ticks_total", result="scored")
            scorer.wait_ready(lambda: metric(base, "vigilante_ticks_total", result="scored") >= scored + 2, 30,
                              "scoring again")
        finally:
            scorer.stop()


class BrokenFeatures:
    """Features whose every read fails in a way nobody planned for."""

    queries = {"value": "vector(1)"}

    def at(self, timestamp):
        raise RuntimeError("a bug")


def test_an_unexpected_error_is_counted_and_missed_ticks_are_skipped_not_run_in_a_burst(caplog, tmp_path):
    tick = 15.0
    config = Config().replace("scorer", features=("value",), tick_seconds=tick, state_path=str(tmp_path / "state"))
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    time = FakeTime(start=START + 1)
    service = ScorerService(config, BrokenFeatures(), metrics, clock=time.clock)
    service.detector = Detector.fit(small_config(), normal_rows(300))
    ticked = []
    real_tick = service.tick

    def tick_and_stall(timestamp):
        ticked.append(timestamp)
        if len(ticked) == 2:
            time.stall(9.5 * tick)  # the process "stalls" through nine and a half intervals
        if len(ticked) == 5:
            time.set()
        return real_tick(timestamp)

    service.tick = tick_and_stall
    with caplog.at_level(logging.WARNING, logger="vigilante"):
        service.run(time)
    errors = metrics.registry.get_sample_value("vigilante_ticks_total", {"result": "error"})
    assert errors == len(ticked) == 5 and caplog.text.count("failed") == 5
    assert caplog.text.count("9 tick(s) missed (the process was stalled)") == 1
    # One jump over the stall to the next scheduled tick, no burst of catch-up ticks.
    assert ticked == [START + k * tick for k in (1, 2, 12, 13, 14)]


def test_attribution_shares_add_up_to_one_with_several_features():
    features = ("a", "b", "c")
    detector = Detector.fit(small_config(features=features), normal_rows(400, features=features))
    values = dict(normal_rows(1, start=400, features=features)[0][1])
    values["a"] *= 4
    values["c"] *= 6
    result = detector.step(400 * 15.0, values, explain=True)
    metrics = ScorerMetrics(CollectorRegistry(), features)
    metrics.export_step(result, values)
    shares = {f: metrics.registry.get_sample_value("vigilante_feature_attribution", {"feature": f}) for f in features}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["b"] == 0 and shares["a"] + shares["c"] == pytest.approx(1.0)  # the unmoved feature gets none


def test_the_log_line_and_the_metric_give_the_same_attribution_shares(tmp_path, caplog):
    features = ("a", "b")
    detector = Detector.fit(small_config(features=features), normal_rows(400, features=features))
    values = dict(normal_rows(1, start=400, features=features)[0][1])
    values["a"] *= 50  # far out: each feature's raw score drop is well above 1
    result = detector.step(400 * 15.0, values, explain=True)
    assert result.decision == 0 and result.above
    decided = result.__class__(**{**vars(result), "decision": 1})
    config = Config().replace("scorer", features=features, state_path=str(tmp_path / "state.json"))
    service = ScorerService(config, None, ScorerMetrics(CollectorRegistry(), features))
    service.metrics.export_step(decided, values)
    with caplog.at_level(logging.WARNING, logger="vigilante"):
        service._log_decision_change(decided)
    logged = {f: float(share) / 100 for f, share in re.findall(r"(\w+) (\d+)%", caplog.text.split("by feature: ")[1])}
    exported = {f: service.metrics.registry.get_sample_value("vigilante_feature_attribution", {"feature": f})
                for f in features}
    assert sum(exported.values()) == pytest.approx(1.0)
    assert logged == {f: pytest.approx(share, abs=0.005) for f, share in exported.items() if share > 0}


def test_config_describe_lists_every_key_with_a_default_that_reads_back(tmp_path, capsys):
    assert main(["config", "--describe"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "described.yaml").write_text(text)
    assert load_config(tmp_path / "described.yaml", env={}) == Config()
    described = yaml.safe_load(text)
    assert {s: set(keys) for s, keys in described.items()} == {s: set(keys) for s, keys in Config().as_dict().items()}


def test_the_demo_exits_2_when_the_stack_cannot_start(tmp_path):
    run = subprocess.run([sys.executable, "-m", "scripts.demo", "--quick", "--out", str(tmp_path / "out"),
                          "--workdir", str(tmp_path / "work")], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PROMETHEUS_BIN": str(tmp_path / "no-prometheus")})
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "error:" in run.stderr and "PROMETHEUS_BIN" in run.stderr


@pytest.mark.parametrize("summary, code", [({"result": "ok", "failures": []}, 0),
                                           ({"result": "failed", "failures": ["slowdown: not notified"]}, 1)])
def test_the_demo_exits_0_only_when_it_passed_and_says_why_it_failed(tmp_path, monkeypatch, capsys, summary, code):
    import scripts.demo as demo

    monkeypatch.setattr(demo, "run_demo", lambda *args: summary)
    monkeypatch.setattr(demo, "print_figures", lambda *args: None)
    assert demo.main(["--out", str(tmp_path)]) == code
    assert capsys.readouterr().err == "".join(f"FAILED: {f}\n" for f in summary["failures"])


def test_no_score_or_threshold_is_exported_before_the_model_scores_and_never_a_nan(tmp_path):
    class Steady:
        queries = {"value": "vector(1)"}

        def at(self, timestamp):
            class Row:
                values = {"value": 100.0}
            return Row()

        def between(self, start, end, step):
            return []  # no history to bootstrap from

    config = Config().replace("scorer", features=("value",), state_path=str(tmp_path / "state"))
    metrics = ScorerMetrics(CollectorRegistry(), config.scorer.features)
    service = ScorerService(config, Steady(), metrics)
    exposition = lambda: generate_latest(metrics.registry).decode()  # noqa: E731
    assert service.tick(1_000.0) == "not_warm"  # no state, no history, no CSV
    assert value(exposition(), "vigilante_anomaly_score") is None
    assert value(exposition(), "vigilante_anomaly_threshold") is None
    service.detector = Detector.fit(small_config(), normal_rows(300))
    assert service.tick(400 * 15.0) == "scored"
    scored = [value(exposition(), name) for name in ("vigilante_anomaly_score", "vigilante_anomaly_threshold")]
    assert all(found is not None and math.isfinite(found) for found in scored), scored
