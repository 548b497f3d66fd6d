"""The scorer ticks just after the recording rules are evaluated (``service.phase_lock``)."""

from __future__ import annotations

import logging
import os
import sys

import pytest
import yaml
from prometheus_client import CollectorRegistry

from vigilante.config import Config
from vigilante.prometheus.api import MalformedAnswer, PrometheusAPI, PrometheusUnavailable
from vigilante.scorer import Detector
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.phase import RulePhase, rule_phase
from scripts.harness.process import ManagedProcess, free_port, wait_until
from tests.scorer_data import normal_rows, small_config
from tests.support.fake_time import START, FakeTime
from tests.scorer_process import one_feature_config, train
from tests.support.metrics import scrape, value


class Features:
    """Records the time of each read; stops the loop's fake time after ``count`` reads."""

    queries = {"value": "value:recorded"}

    def __init__(self, time: FakeTime, count: int = 1000):
        self.read_at: list[float] = []
        self.time, self.count = time, count

    def at(self, timestamp):
        self.read_at.append(timestamp)
        if len(self.read_at) >= self.count:
            self.time.set()

        class Row:
            values = {"value": 100.0}

        return Row()


TICK = 15.0


def run_ticks(phase, count: int, tick=TICK, **service_knobs) -> tuple[ScorerService, list[float]]:
    """Run the loop on fake time from START + 1 s until ``count`` ticks read their features."""
    time = FakeTime(start=START + 1)
    service, features = service_with(phase, time, count, tick, **service_knobs)
    service.run(time)
    return service, features.read_at


def service_with(phase, time: FakeTime | None = None, count: int = 1000, tick=TICK,
                 **service_knobs) -> tuple[ScorerService, Features]:
    time = time or FakeTime()
    config = (Config().replace("scorer", features=("value",), tick_seconds=tick, state_path=os.devnull)
              .replace("service", **service_knobs))
    features = Features(time, count)
    service = ScorerService(config, features, ScorerMetrics(CollectorRegistry(), ("value",)), clock=time.clock,
                            phase=phase)
    service.detector = Detector.fit(small_config(), normal_rows(300))
    return service, features


def test_ticks_run_at_the_phase_the_rule_group_gives():
    _, ticks = run_ticks(lambda: RulePhase("features", 3.25), 4)
    assert ticks == [START + 3.25 + k * TICK for k in range(4)]


def test_without_a_phase_or_with_the_lock_off_ticks_stay_on_multiples_of_the_interval(caplog):
    for phase, knobs in ((lambda: None, {}), (lambda: RulePhase("features", 3.25), {"phase_lock": False})):
        with caplog.at_level(logging.INFO, logger="vigilante"):
            _, ticks = run_ticks(phase, 3, **knobs)
        assert ticks == [START + k * TICK for k in (1, 2, 3)]
    assert caplog.text.count("no evaluated rule group records the features") == 1


def test_a_prometheus_that_cannot_say_keeps_the_phase_and_is_logged_once(caplog):
    def unavailable():
        raise PrometheusUnavailable("connection refused")

    service, _ = service_with(unavailable)
    with caplog.at_level(logging.INFO, logger="vigilante"):
        assert [service.lock_phase() for _ in range(3)] == [False] * 3
    assert service.offset == 0.0
    assert caplog.text.count("cannot read the rule groups: connection refused") == 1


def test_a_phase_moved_by_milliseconds_is_kept_and_one_that_wraps_round_is_not_a_move():
    offsets = iter([14.99, 3.0, 3.1, 2.9, 7.5])  # from 0: 14.99 is 0.01 s before it
    service, _ = service_with(lambda: RulePhase("features", next(offsets)))
    assert [service.lock_phase() for _ in range(5)] == [False, True, False, False, True]
    assert service.offset == 7.5


def test_a_real_prometheus_tells_the_phase_and_the_scorer_reads_each_evaluation_at_once(tmp_path,
                                                                                         prometheus_factory):
    # A recording group evaluated every second, at the phase Prometheus gives it; its output
    # is the evaluation's own time, so each tick shows how old the sample it read was.
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "features",
                                                 "rules": [{"record": "value:recorded", "expr": "time()"}]}]}))
    prometheus = prometheus_factory(rule_files=[rules])  # started by the factory
    prometheus.rules_evaluated()
    phase = rule_phase(PrometheusAPI(prometheus.url).rule_groups(), ["value:recorded"], 1.0, 0.25)
    assert phase is not None and phase.group == "features"

    state = tmp_path / "state"
    config = one_feature_config(tmp_path / "vigilante.yaml", prometheus.url, state, query="value:recorded")
    train(config, state)
    port = free_port()
    scorer = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                       "--port", str(port)], tmp_path / "scorer.log").start()
    try:
        ages: dict[float, float] = {}  # tick time -> age of the sample it read

        def three_ticks() -> bool:
            text = scrape(f"http://127.0.0.1:{port}")
            tick = value(text, "vigilante_last_successful_tick_timestamp_seconds") or 0.0
            if tick:
                ages[tick] = tick - value(text, "vigilante_feature_value", feature="value")
            return len(ages) >= 3

        wait_until(three_ticks, 30, "three scored ticks")
        log = (tmp_path / "scorer.log").read_text()
        if 0.1 < phase.offset_seconds < 0.9:  # nearer the whole second, the clock grid is kept
            assert "just after rule group features is evaluated" in log, log
        # Each tick read the evaluation of the same interval, a quarter of a second old (the
        # margin, min(1 s, a quarter tick)), not one a random part of the interval old...
        assert all(0.1 <= age <= 0.6 for age in ages.values()), ages
        # ... at the phase the rules API gives, give or take the 0.1 s the lock tolerates
        # (without the lock: the grid of whole seconds).
        assert all(min(abs(t % 1 - phase.offset_seconds), 1 - abs(t % 1 - phase.offset_seconds)) < 0.11
                   for t in ages), (phase, ages)
    finally:
        scorer.stop()


def test_an_unreadable_rules_answer_is_one_warning_and_the_lock_is_retried_sooner(caplog, monkeypatch):
    from vigilante.service import loop

    monkeypatch.setattr(loop, "RELOCK_AFTER_FAILURE_SECONDS", 2 * TICK)  # two ticks instead of a minute
    answers = iter([ValueError("a bug the shape checks missed"), MalformedAnswer("rules not a list"),
                    MalformedAnswer("rules not a list")])

    def phase():
        answer = next(answers, RulePhase("features", 3.25))
        if isinstance(answer, Exception):
            raise answer
        return answer

    with caplog.at_level(logging.INFO, logger="vigilante"):
        service, ticks = run_ticks(phase, 9)
    # Asked before the first tick, then after every second tick: the fourth answer locks the phase.
    assert ticks == [START + k * TICK for k in range(1, 7)] + [START + 3.25 + k * TICK for k in (6, 7, 8)]
    assert service.offset == 3.25
    warnings = [r.getMessage() for r in caplog.records if "tick phase unchanged" in r.getMessage()]
    assert [r.levelname for r in caplog.records if "tick phase unchanged" in r.getMessage()] == ["WARNING"] * 2
    assert "ValueError: a bug the shape checks missed" in warnings[0] and "unreadable" in warnings[1]


def test_rule_groups_not_of_the_rules_api_shape_are_malformed_answers():
    for groups in ([{"name": "g", "rules": ["x"]}], [{"name": "g", "rules": 5}], ["g"],
                   [{"name": "g", "lastEvaluation": "2026-13-45T25:61:00Z", "rules": [{"name": "value:recorded"}]}],
                   [{"name": "g", "lastEvaluation": 5, "rules": [{"name": "value:recorded"}]}]):
        with pytest.raises(MalformedAnswer):
            rule_phase(groups, ["value:recorded"], 15)
    unhashable = [{"name": "g", "lastEvaluation": "2026-01-01T00:00:00Z", "rules": [{"name": ["value:recorded"]}]}]
    assert rule_phase(unhashable, ["value:recorded"], 15) is None


def test_a_store_that_evaluates_no_rule_groups_ticks_on_the_clock_grid_and_says_so_once(caplog):
    # VictoriaMetrics (without -vmalert.proxyURL), Thanos Querier: a rules API listing no groups.
    with caplog.at_level(logging.INFO, logger="vigilante"):
        service, _ = service_with(lambda: rule_phase([], ["value:recorded"], TICK))
        assert [service.lock_phase() for _ in range(3)] == [False] * 3
        _, ticks = run_ticks(lambda: rule_phase([], ["value:recorded"], TICK), 3)
    assert ticks == [START + k * TICK for k in (1, 2, 3)]
    lines = [r for r in caplog.records if "no rule groups" in r.getMessage()]
    assert len(lines) == 2 and {r.levelname for r in lines} == {"INFO"}  # once per service
    assert "-vmalert.proxyURL" in lines[0].getMessage() and "multiples of 15 s" in lines[0].getMessage()
