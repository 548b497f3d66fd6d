"""The real-data tier: scoring as the data's README prescribes, and the tier end to end on two excerpts."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from scripts import bench_detection, real_tier
from scripts.real_series import SeriesScore, read_labelled, runs, score_series, training_rows
from vigilante.scorer.series import read_series

EXCERPTS = Path(__file__).resolve().parent / "fixtures" / "cloud-monitoring"


def test_training_rows_are_15_percent_between_60_and_750():
    assert [training_rows(n) for n in (61, 400, 720, 1118, 5000, 5006, 15840)] == [60, 60, 108, 167, 750, 750, 750]


def test_runs_include_one_at_either_end():
    assert runs([1, 1, 0, 0, 1, 0, 1]) == [(0, 1), (4, 4), (6, 6)]
    assert runs([]) == [] and runs([0, 0]) == []


def test_an_event_is_caught_up_to_three_rows_after_its_last_row_and_not_four():
    labels = [0] * 5 + [1, 1] + [0] * 13  # event on rows 5-6, span 5-9
    caught = score_series(labels, [1 if i == 9 else 0 for i in range(20)])
    assert (caught.events, caught.caught, caught.delays, caught.false_episodes) == (1, 1, [4], 0)
    late = score_series(labels, [1 if i == 10 else 0 for i in range(20)])
    assert (late.caught, late.delays, late.episodes, late.false_episodes) == (0, [], 1, 1)


def test_an_episode_starting_before_an_event_is_true_and_the_delay_is_zero():
    labels = [0] * 10 + [1] * 3 + [0] * 7
    s = score_series(labels, [0] * 8 + [1] * 4 + [0] * 8)  # alerting rows 8-11
    assert (s.caught, s.delays, s.episodes, s.false_episodes) == (1, [0], 1, 0)


def test_an_event_at_the_end_of_the_series_has_its_span_cut_there():
    labels = [0] * 8 + [1, 1]
    s = score_series(labels, [0] * 9 + [1])
    assert (s.events, s.caught, s.delays, s.episodes, s.false_episodes) == (1, 1, [1], 1, 0)
    missed = score_series(labels, [0] * 10)
    assert (missed.events, missed.caught, missed.episodes) == (1, 0, 0)


def test_one_episode_across_two_events_is_one_true_episode_that_catches_both():
    labels = [0] * 5 + [1] + [0] * 6 + [1, 1] + [0] * 10  # events on row 5 and rows 12-13
    alerts = [0] * 7 + [1] * 7 + [0] * 10  # rows 7-13: from inside the first span into the second event
    s = score_series(labels, alerts)
    assert (s.events, s.caught, s.delays, s.episodes, s.false_episodes) == (2, 2, [2, 0], 1, 0)


def test_a_refused_file_is_no_alert_at_all_its_rows_still_count():
    s = score_series([0, 1, 1, 0, 0, 1], None)
    assert (s.events, s.caught, s.episodes, s.false_episodes, s.rows, s.alert_rows) == (2, 0, 0, 0, 6, 0)
    assert s.recall == 0.0 and math.isnan(s.precision) and s.f1 == 0.0 and s.false_per_1000 == 0.0


def test_alerts_must_line_up_with_the_labels():
    with pytest.raises(ValueError, match="3 alerts for 4 labelled rows"):
        score_series([0, 0, 0, 0], [0, 0, 0])


def test_added_scores_give_the_readmes_figures():
    total = SeriesScore()
    total.add(score_series([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]))  # caught (delay 1), one false
    total.add(score_series([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))  # missed
    assert (total.events, total.caught, total.episodes, total.false_episodes, total.rows) == (2, 1, 2, 1, 20)
    assert (total.recall, total.precision, total.f1) == (0.5, 0.5, 0.5)
    assert total.false_per_1000 == 50.0 and total.median_delay == 1.0 and total.alert_share == 0.1
    assert total.summary()["median_delay_rows"] == 1.0
    assert SeriesScore().summary()["recall"] is None


def test_a_labelled_csv_maps_onto_the_backtest_input_contract(tmp_path):
    path = tmp_path / "hourly" / "s.csv"
    path.parent.mkdir()
    path.write_text('"TimeStamp","Value","Label"\n"2018-04-25T00:00:00Z","1.5","0"\n2018-04-25 01:00:00,,1\n'
                    '2018-04-25 01:00:00,2,0\n')
    series = read_labelled(path)
    assert (series.folder, series.name, series.labels, series.values) == ("hourly", "s", (0, 1, 0), (1.5, None, 2.0))
    (tmp_path / "in.csv").write_text(series.backtest_csv())
    got = read_series(tmp_path / "in.csv", ["value"])
    assert [(t, v["value"]) for t, _, v in got] == [(1524614400.0, 1.5), (1524618000.0, None), (1524618000.0, 2.0)]


def test_a_labelled_csv_with_another_header_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "f" / "bad.csv"
    path.parent.mkdir()
    path.write_text("timestamp,value\n1,2\n")
    with pytest.raises(ValueError, match=r"bad\.csv:1: expected the header TimeStamp,Value,Label"):
        read_labelled(path)


def test_the_robust_z_falls_back_to_the_standard_deviation_where_the_mad_is_zero():
    # Mostly 5 with two 7s: the MAD is 0; the standard deviation of the window stands in.
    window = [5.0] * 18 + [7.0, 7.0]
    z = real_tier.robust_z(window + [9.0], window=20)[-1]
    assert z == pytest.approx(4.0 / np.std(window))
    assert real_tier.robust_z([5.0] * 20 + [5.0, 6.0], window=20)[-2:].tolist() == [0.0, math.inf]
    assert real_tier.robust_z([None] * 5 + [1.0] * 5 + [100.0], window=20)[-1] == 0.0  # fewer than 10 known rows


def test_bare_half_space_trees_score_every_row_after_training_and_see_no_further_than_the_training_range():
    training = [float(i % 7) for i in range(600)]  # 0..6
    scores = real_tier.hst_scores(training + [None, 3.5, 6.0, 500.0], train_rows=300)
    assert len(scores) == 304 and scores[-4] == 0.0  # the missing value
    assert scores[-3] > np.quantile(scores[:-4], 0.99)  # a value never seen, inside the range
    assert scores[-1] == scores[-2]  # far beyond the maximum: the same leaves as the maximum itself


def test_the_rate_match_refuses_a_threshold_that_alerts_on_most_rows():
    endless = SeriesScore(events=10, caught=9, episodes=2, false_episodes=1, rows=1000, alert_rows=800)
    sharp = SeriesScore(events=10, caught=5, episodes=6, false_episodes=1, rows=1000, alert_rows=20)
    curve = {0.1: {real_tier.OVERALL: endless}, 0.9: {real_tier.OVERALL: sharp}}
    assert real_tier.at_rate(curve, budget=1.0) == 0.1
    assert real_tier.at_rate(curve, budget=1.0, share_budget=0.05) == 0.9
    assert real_tier.at_rate(curve, budget=0.5) is None


def _excerpts_with_a_refused_file(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(EXCERPTS, data)
    (data / "broken").mkdir()
    # labels and values are fine, the timestamps are not: the backtest refuses the file
    (data / "broken" / "nonsense.csv").write_text("TimeStamp,Value,Label\n" + "".join(f"day {i},{i},{i in (65, 85):d}\n" for i in range(100)))
    return data


def test_a_file_the_backtest_refuses_counts_as_no_alert_with_its_error_line(tmp_path):
    series = read_labelled(_excerpts_with_a_refused_file(tmp_path) / "broken" / "nonsense.csv")
    config = tmp_path / "value.yaml"
    config.write_text(real_tier.VALUE_ONLY_CONFIG)
    alerts, reason = real_tier.backtest_alerts(series, config, tmp_path)
    assert alerts is None and "vigilante backtest: error:" in reason and "'day 0'" in reason


def test_the_tier_runs_end_to_end_on_two_excerpts(tmp_path, capsys, monkeypatch):
    # A setting in the environment must not reach the backtest: the file naming `value` is the only one.
    monkeypatch.setenv("VIGILANTE_SCORER__HOLD_SECONDS", "not a duration")
    data = _excerpts_with_a_refused_file(tmp_path)
    assert bench_detection.main(["--tier", "real", "--real-data", str(data), "--jobs", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    real = json.loads(lines[-1])["real"]
    assert real["files"] == 3 and list(real["refused"]) == ["broken/nonsense"]
    scorer = real["detectors"]["scorer"]
    assert scorer["application-crash-rate-2"]["events"] == 5 and scorer["data-ingress-rate"]["events"] == 1
    assert scorer["broken"]["events"] == 2 and scorer["broken"]["caught"] == 0 and scorer["broken"]["episodes"] == 0
    assert scorer["ALL"]["events"] == 8 and scorer["ALL"]["rows"] == (400 - 60) * 2 + (100 - 60)
    assert scorer["ALL"]["episodes"] > 0  # the two excerpts were scored, not refused
    assert set(real["detectors"]) == {"scorer", "z @ scorer's rate", "HST @ scorer's rate", "z > 5", "z > 8", "z > 12"}
    budget = scorer["ALL"]["false_per_1000_rows"]
    for name in ("z @ scorer's rate", "HST @ scorer's rate"):
        matched = real["detectors"][name]
        assert matched["threshold"] is None or matched["ALL"]["false_per_1000_rows"] <= budget
    table = "\n".join(lines[:-1])
    assert "data-ingress-rate" in table and "refused by the backtest (scored as no alert): broken/nonsense" in table


def test_the_tier_is_skipped_in_one_line_without_data(tmp_path, capsys):
    assert bench_detection.main(["--tier", "real", "--real-data", str(tmp_path / "absent")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and "skipped, no data at" in out[0] and json.loads(out[1])["real"] is None
