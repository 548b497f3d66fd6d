"""The one trial setting, ``trial.time_scale``: every command reads it, and what it changes changes together.

Intervals, ticks, the recording rules' rate windows and the scorer's windows scale by the same
factor; the hold keeps the shipped wall-clock 60 s; a model trained under the setting loads
under it; the burn-rate alerts say their windows are not scaled.
"""

from __future__ import annotations

import csv
import re

import pytest
import yaml

from tests.fixtures.fake_prometheus import FakePrometheus
from tests.scorer_data import normal_rows
from vigilante.cli import main
from vigilante.config import Config, load_config
from vigilante.prometheus.api import PrometheusAPI
from vigilante.rules.render import alerting_rules, recording_rules_yaml
from vigilante.scorer import Detector
from vigilante.scorer.timing import TickScale
from vigilante.service.setup_check import check_history

TRIAL = {"VIGILANTE_TRIAL__TIME_SCALE": "15"}
RATE_WINDOW = re.compile(r"\brate\([^\[\]]*\[(\w+)\]")


@pytest.fixture
def trial_env(monkeypatch):
    for name, value in TRIAL.items():
        monkeypatch.setenv(name, value)


def test_the_trial_setting_scales_intervals_ticks_and_the_scorer_windows_together():
    shipped, trial = load_config(env={}), load_config(env=TRIAL)
    p = trial.prometheus
    assert (p.scrape_interval_seconds, p.evaluation_interval_seconds, trial.scorer.tick_seconds) == (1.0, 1.0, 1.0)
    assert p.scorer_interval_seconds == pytest.approx(shipped.prometheus.scorer_interval_seconds / 15)
    assert trial.scorer.baseline_half_life_seconds == shipped.scorer.baseline_half_life_seconds / 15
    assert trial.scorer.context_half_lives_seconds == tuple(h / 15 for h in shipped.scorer.context_half_lives_seconds)
    assert trial.service.bootstrap_hours * 3600 == pytest.approx(shipped.service.bootstrap_hours * 3600 / 15)


def test_the_hold_stays_the_shipped_wall_clock_60_s_under_the_trial():
    scorer = load_config(env=TRIAL).scorer
    assert scorer.hold_seconds == 60.0
    assert TickScale.of(scorer, scorer.tick_seconds).hold_ticks == 60


def test_the_recording_rules_rate_windows_scale_and_keep_their_names():
    shipped = recording_rules_yaml(load_config(env={}))
    trial = recording_rules_yaml(load_config(env=TRIAL))
    assert set(RATE_WINDOW.findall(shipped)) == {"1m", "5m"}
    assert set(RATE_WINDOW.findall(trial)) == {"4s", "20s"}
    # The names the scorer, the alerts and the dashboards read do not move.
    assert re.findall(r"record: (\S+)", trial) == re.findall(r"record: (\S+)", shipped)


def test_the_burn_rate_alerts_say_their_windows_are_not_scaled():
    def descriptions(config: Config) -> dict[str, str]:
        return {rule["alert"]: rule["annotations"]["description"]
                for group in alerting_rules(config)["groups"] for rule in group["rules"]}

    shipped, trial = descriptions(load_config(env={})), descriptions(load_config(env=TRIAL))
    for name in ("VigilanteErrorBudgetBurnFast", "VigilanteErrorBudgetBurnSlow"):
        assert "not scaled" not in shipped[name]
        assert "trial.time_scale 15: the burn-rate windows are not scaled" in trial[name]


def test_prometheus_config_writes_the_trial_intervals_and_says_so(tmp_path, trial_env, capsys):
    assert main(["prometheus-config", "--target", "127.0.0.1:8000", "--out", str(tmp_path)]) == 0
    doc = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    assert doc["global"]["scrape_interval"] == doc["global"]["evaluation_interval"] == "1s"
    assert set(RATE_WINDOW.findall((tmp_path / "vigilante-recording.rules.yml").read_text())) == {"4s", "20s"}
    assert "trial.time_scale 15:" in capsys.readouterr().err


def test_generate_renders_the_rules_for_the_trial(tmp_path, trial_env):
    assert main(["generate", "--out", str(tmp_path)]) == 0
    rules = (tmp_path / "rules/generated/vigilante-recording.rules.yml").read_text()
    assert set(RATE_WINDOW.findall(rules)) == {"4s", "20s"}


def test_collect_reads_rows_one_trial_tick_apart(tmp_path, trial_env):
    steps = []

    def answer(params):
        steps.append(params.get("step"))
        return {"status": "success", "data": {"resultType": "matrix", "result": []}}

    out = tmp_path / "train.csv"
    with FakePrometheus(answer) as prometheus:
        assert main(["collect", "--config", str(_config(tmp_path, prometheus.url)), "--history", "10s",
                     "--out", str(out)]) == 0
    stamps = [float(row["timestamp"]) for row in csv.DictReader(out.open())]
    assert steps == ["1.0"] and len(stamps) == 11
    assert {b - a for a, b in zip(stamps, stamps[1:])} == {1.0}


def test_check_says_how_long_the_trial_takes_to_warm(tmp_path):
    at = 1_800_000_000.0

    def answer(params):  # the oldest recorded sample: 30 s ago
        return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [at, str(at - 30)]}]}}

    with FakePrometheus(answer) as prometheus:
        config = load_config(_config(tmp_path, prometheus.url), env=TRIAL)
        finding = check_history(config, PrometheusAPI(prometheus.url, retries=0), at)
    assert not finding.ok
    assert finding.message == ("30 s of recorded features; the scorer warms after 1 min (60 ticks of 1 s): "
                               "wait 30 s, or give service.training_csv")


def test_a_model_trained_under_the_trial_loads_under_it(tmp_path, trial_env, capsys):
    config_path = _config(tmp_path, "http://127.0.0.1:1")
    rows = [(1_800_000_000 + i * 1.0, values) for i, (_, values) in enumerate(normal_rows(300))]
    train = tmp_path / "train.csv"
    with train.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value"])
        writer.writerows([str(int(t)), repr(v["value"])] for t, v in rows)
    state = tmp_path / "state.json"
    assert main(["train", str(train), "--out", str(state), "--config", str(config_path)]) == 0
    detector = Detector.load(state, load_config(config_path).scorer)  # what `serve` does under the same setting
    assert detector.ticks.hold_ticks == 60 and detector.ticks.spacing_seconds == 1.0


def test_serve_tick_seconds_is_the_trial_setting_by_another_name(monkeypatch):
    from vigilante.cli.service import serve_config

    monkeypatch.delenv("VIGILANTE_TRIAL__TIME_SCALE", raising=False)
    by_flag, line = serve_config(None, 1.0)
    assert by_flag == load_config(env=TRIAL)
    assert "--tick-seconds 1 is trial.time_scale 15" in line


def _config(tmp_path, url: str):
    path = tmp_path / "vigilante.yaml"
    path.write_text(f"prometheus:\n  url: {url}\nscorer:\n  features: [value]\n  state_path: {tmp_path / 'state.json'}\n"
                    "service:\n  queries:\n    value: sum(rate(x[1m]))\n")
    return path


def test_the_not_warm_message_says_durations_in_seconds_and_minutes_not_fractions_of_hours(tmp_path):
    from vigilante.scorer import TrainingError
    from vigilante.service.feature_source import FeatureRow
    from vigilante.service.warm_start import bootstrap_from_prometheus

    class ShortHistory:  # 36 complete ticks of 1 s: short of the 60 the model needs
        def between(self, start, end, step):
            return [FeatureRow(end - i * step, {"value": 20.0 + i % 3}) for i in reversed(range(36))]

    config = load_config(_config(tmp_path, "http://127.0.0.1:1"), env=TRIAL)
    with pytest.raises(TrainingError) as caught:
        bootstrap_from_prometheus(config, ShortHistory(), 1_800_000_000.0)
    assert "36 complete ticks spanning 35 s of the 8 min bootstrap window" in str(caught.value)


def test_check_asks_prometheus_in_durations_it_reads_at_any_time_scale(tmp_path):
    queries = []

    def answer(params):
        queries.append(params["query"])
        return {"status": "success", "data": {"resultType": "vector", "result": []}}

    with FakePrometheus(answer) as prometheus:
        config = load_config(_config(tmp_path, prometheus.url), env={"VIGILANTE_TRIAL__TIME_SCALE": "7"})
        finding = check_history(config, PrometheusAPI(prometheus.url, retries=0), 1_800_000_000.0)
    assert "60 ticks of 2.14286 s" in finding.message
    assert re.search(r"\[\d+(ms|s):2143ms\]", queries[0]), queries  # Prometheus refuses "2.14286s"
