"""Answers of the wrong shape: a typed error like an outage, in the client and in a real ``vigilante serve``.

The scorer must never crash on, learn from, or keep alerting through an answer that is not
the Prometheus API's: the tick is a gap, the decision drops to 0, ``/readyz`` turns 503, and
the log says so once per change, not once per tick.
"""

from __future__ import annotations

import random
import sys

import pytest
import requests

from vigilante.service.feature_source import FeatureSource
from vigilante.prometheus.api import MalformedAnswer, PrometheusAPI
from scripts.harness.process import ManagedProcess, free_port
from tests.fixtures.fake_prometheus import FakePrometheus, vector
from tests.scorer_process import one_feature_config, train
from tests.support.metrics import scrape, value

MALFORMED = {
    "a list": [],
    "success without data": {"status": "success"},
    "data not an object": {"status": "success", "data": []},
    "a matrix for an instant query": {"status": "success", "data": {"resultType": "matrix", "result": []}},
    "result not a list": {"status": "success", "data": {"resultType": "vector", "result": {}}},
    "a value that is no number": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"vigilante_feature": "value"}, "value": [1, "abc"]}]}},
    "a value without its timestamp": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"vigilante_feature": "value"}, "value": "1"}]}},
    "a series without the feature label": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"job": "x"}, "value": [1, "1"]}]}},
    "not JSON": "<html>proxy error</html>",
    "an unknown status": {"status": "maybe", "data": {}},
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_each_malformed_shape_is_a_typed_error(shape):
    with FakePrometheus(lambda params: MALFORMED[shape]) as fake:
        source = FeatureSource(PrometheusAPI(fake.url, retries=0), {"value": "vector(1)"})
        with pytest.raises(MalformedAnswer):
            source.at(1_800_000_000)
        if shape not in ("a matrix for an instant query", "a series without the feature label",
                         "a value that is no number", "a value without its timestamp"):
            with pytest.raises(MalformedAnswer):  # the same answer to a range query
                source.between(1_800_000_000, 1_800_000_060, 15)


# Timestamps as a look-alike might write them (Python's json reads the first three as floats).
BAD_TIMES = {"Infinity": "Infinity", "NaN": "NaN", "10^400": "1e400", "before 1970": "-5", "a boolean": "true",
             "a 400-digit integer": "1" + "0" * 400}


@pytest.mark.parametrize("time", BAD_TIMES)
def test_a_sample_time_that_is_not_a_time_is_a_typed_error(time):
    stamp = BAD_TIMES[time]

    def answer(params):
        if "start" in params:
            return ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"vigilante_feature":'
                    f'"value"}},"values":[[{params["start"]},"1"],[{stamp},"2"]]}}]}}}}')
        return ('{"status":"success","data":{"resultType":"vector","result":[{"metric":{"vigilante_feature":'
                f'"value"}},"value":[{stamp},"1"]}}]}}}}')

    with FakePrometheus(answer) as fake:
        source = FeatureSource(PrometheusAPI(fake.url, retries=0), {"value": "vector(1)"})
        with pytest.raises(MalformedAnswer, match="time|not \\[timestamp"):
            source.at(1_800_000_000)
        with pytest.raises(MalformedAnswer, match="time|not \\[timestamp"):
            source.between(1_800_000_000, 1_800_000_060, 15)


def test_a_well_formed_answer_reads(tmp_path):
    with FakePrometheus(lambda params: vector({"value": 3.5}, float(params["time"]))) as fake:
        row = FeatureSource(PrometheusAPI(fake.url, retries=0), {"value": "vector(1)"}).at(1_800_000_000)
    assert row.values == {"value": 3.5}


class Script:
    """What the fake answers, switched by the test: ``good`` values, an ``anomaly``, or a malformed shape."""

    def __init__(self):
        self.mode = "good"
        self.rng = random.Random(3)

    def __call__(self, params):
        if self.mode in MALFORMED:
            return MALFORMED[self.mode]
        level = 100.0 if self.mode == "good" else 5000.0
        return vector({"value": level * (1 + self.rng.gauss(0, 0.02))}, float(params.get("time", 0)))


def serve(tmp_path, url, state, query="vector(1)"):
    config = one_feature_config(tmp_path / "vigilante.yaml", url, state, query=query,
                                scorer={"relearn_after_seconds": 0})
    port = free_port()
    process = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                        "--port", str(port)], tmp_path / "scorer.log").start()
    return process, f"http://127.0.0.1:{port}"


def gauge(base, name):
    return value(scrape(base), name)


def ticks(base, result):
    found = value(scrape(base), "vigilante_ticks_total", result=result)
    return 0.0 if found is None else found


def readyz(base):
    try:
        return requests.get(f"{base}/readyz", timeout=5).status_code
    except requests.ConnectionError:
        return None


def log_of_a_cold_scorer_retrying(tmp_path, answers) -> str:
    """Serve without a state against ``answers``; it must stay up, unready, retrying the warm start every tick."""
    with FakePrometheus(answers) as fake:
        scorer, base = serve(tmp_path, fake.url, tmp_path / "state")
        try:
            scorer.wait_ready(lambda: readyz(base) == 503, 30, "serving /readyz")
            start = fake.queries
            scorer.wait_ready(lambda: fake.queries >= start + 4, 30, "retrying the warm start every tick")
            assert readyz(base) == 503 and requests.get(f"{base}/healthz", timeout=5).status_code == 200
        finally:
            scorer.stop()
    log = scorer.log_path.read_text()
    assert "Traceback" not in log, log
    return log


@pytest.mark.slow
def test_a_running_scorer_drops_its_decision_and_readiness_on_malformed_answers(tmp_path):
    config = one_feature_config(tmp_path / "train.yaml", "http://127.0.0.1:1", tmp_path / "state",
                                scorer={"relearn_after_seconds": 0})
    train(config, tmp_path / "state")
    script = Script()
    with FakePrometheus(script) as fake:
        scorer, base = serve(tmp_path, fake.url, tmp_path / "state")
        try:
            scorer.wait_ready(lambda: readyz(base) == 200, 30, "ready on good answers")
            script.mode = "anomaly"
            scorer.wait_ready(lambda: gauge(base, "vigilante_anomaly_decision") == 1, 30, "decision 1 on the anomaly")
            shapes = ["a list", "success without data", "a matrix for an instant query",
                      "a series without the feature label", "a value that is no number", "not JSON"]
            for shape in shapes:
                script.mode = shape
                before = ticks(base, "prometheus_unavailable")
                scorer.wait_ready(lambda: ticks(base, "prometheus_unavailable") >= before + 3, 30,
                                  f"three ticks of {shape}")
                assert gauge(base, "vigilante_anomaly_decision") == 0, shape
                assert readyz(base) == 503, shape
            script.mode = "good"
            scorer.wait_ready(lambda: readyz(base) == 200, 30, "ready again")
        finally:
            scorer.stop()
    log = scorer.log_path.read_text()
    assert "Traceback" not in log, log
    unavailable = [line for line in log.splitlines() if "Prometheus unavailable" in line and "WARNING" in line]
    assert len(unavailable) == len(shapes), "\n".join(unavailable)  # one line per change, not per tick
    assert log.count("features read again") == 1, log


@pytest.mark.slow
def test_a_scorer_without_state_keeps_running_and_retrying_on_malformed_answers(tmp_path):
    script = Script()
    script.mode = "a list"
    log = log_of_a_cold_scorer_retrying(tmp_path, script)
    assert log.count("not warm yet") == 1, log


RULE_GROUPS = {
    "rules that are strings": [{"name": "features", "rules": ["x"]}],
    "rules that are a number": [{"name": "features", "rules": 5}],
    "an impossible lastEvaluation": [{"name": "features", "interval": 1, "lastEvaluation": "2026-13-45T25:61:00Z",
                                      "evaluationTime": 0.01, "rules": [{"name": "value:recorded"}]}],
}


@pytest.mark.slow
@pytest.mark.parametrize("groups", RULE_GROUPS)
def test_a_malformed_rules_answer_keeps_the_scorer_ticking_on_the_clock_grid(tmp_path, groups):
    config = one_feature_config(tmp_path / "train.yaml", "http://127.0.0.1:1", tmp_path / "state")
    train(config, tmp_path / "state")
    script = Script()

    def answer(params):
        if params.get("type") == "record":
            return {"status": "success", "data": {"groups": RULE_GROUPS[groups]}}
        return script(params)

    with FakePrometheus(answer) as fake:
        scorer, base = serve(tmp_path, fake.url, tmp_path / "state", query="value:recorded")
        try:
            scorer.wait_ready(lambda: ticks(base, "scored") >= 3, 30, "three scored ticks")
            assert readyz(base) == 200
        finally:
            scorer.stop()
    log = scorer.log_path.read_text()
    assert "Traceback" not in log, log
    phase_lines = [line for line in log.splitlines() if "tick phase unchanged" in line]
    assert len(phase_lines) == 1 and "WARNING" in phase_lines[0], log


@pytest.mark.slow
def test_a_bootstrap_history_with_impossible_times_leaves_the_scorer_running_not_warm(tmp_path):
    def answer(params):
        if "start" in params:  # the bootstrap's range query
            return ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"vigilante_feature":'
                    '"value"},"values":[[Infinity,"1"],[NaN,"2"],[1e400,"3"]]}]}}')
        return MALFORMED["a list"]

    log = log_of_a_cold_scorer_retrying(tmp_path, answer)
    assert log.count("not warm yet") == 1 and "has no time" in log, log


@pytest.mark.slow
def test_sigterm_stops_a_scorer_waiting_on_a_drip_fed_answer_within_seconds(tmp_path):
    import signal
    import subprocess

    from scripts.harness.process import wait_until
    from tests.fixtures.fake_prometheus import SlowPrometheus, drip

    # Ticks of a minute and a 40 s query deadline: only cancelling ends the request early.
    with SlowPrometheus(drip(0.2, max_bytes=600)) as fake:
        config = one_feature_config(tmp_path / "vigilante.yaml", fake.url, tmp_path / "state",
                                    scorer={"tick_seconds": 60, "hold_seconds": 120})
        text = config.read_text().replace("prometheus:\n", "prometheus:\n  query_timeout_seconds: 40\n", 1)
        config.write_text(text)
        port = free_port()
        scorer = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                           "--port", str(port)], tmp_path / "scorer.log").start()
        try:
            scorer.wait_ready(lambda: fake.sent > 0, 30, "a request in flight (the drip started)")
            scorer.popen.send_signal(signal.SIGTERM)
            try:
                # A guard against hanging, not a timing claim: the drip alone would last two minutes.
                code = scorer.popen.wait(15)
            except subprocess.TimeoutExpired:
                pytest.fail(f"serve still running 15 s after SIGTERM\n{scorer.log_tail()}")
        finally:
            scorer.stop()
    assert code == 0
    log = scorer.log_path.read_text()
    assert "Traceback" not in log and "stopped" in log, log
    assert fake.sent < 600
