"""The daily-profile member: what this time of day looked like on the previous days.

Unit tests drive :class:`SeasonalExcess` alone; the rest go through ``vigilante backtest``
itself, on 5-minute and hourly series with a daily rhythm (of the kind the held-back real
benchmarks hold: a day that stays flat, a peak half as high), with gaps and repeated rows.
"""

import csv
import random

import numpy as np
import pytest

from scripts.daily_series import SHAPES, make_series
from vigilante.cli import main
from vigilante.config import ScorerConfig
from vigilante.scorer import Detector
from vigilante.scorer.daily_profile import DAY_SECONDS, DailyProfile, SeasonalExcess

FIVE_MINUTES = 300.0
ROWS_PER_DAY = 288


def daily_series(days: int, seed: int, kind: str = "none", anomaly_day: int = 7,
                 spacing: float = FIVE_MINUTES) -> tuple[list[float], list[float], list[int]]:
    """Timestamps, values and labels of the daily tier's ``square`` rhythm (quiet nights at 20, busy
    days at 80, 4 % noise) from a Monday; the anomaly of ``kind`` on ``anomaly_day`` (7: a Monday)."""
    series = make_series("square", kind, seed, spacing, days, anomaly_day)
    return series.timestamps(), series.values, series.labels


def write_csv(path, times, values):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for t, v in zip(times, values):
            w.writerow([f"{t:.0f}", "" if v is None else f"{v:.4f}"])


def backtest(tmp_path, times, values, train_rows: int) -> list[dict]:
    config = tmp_path / "vigilante.yaml"
    config.write_text("scorer:\n  features: [value]\n")
    source, out = tmp_path / "series.csv", tmp_path / "scored.csv"
    write_csv(source, times, values)
    assert main(["backtest", str(source), "--train-rows", str(train_rows), "--out", str(out),
                 "--config", str(config)]) == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))


def alert_rows(scored: list[dict]) -> list[int]:
    return [i for i, row in enumerate(scored) if row["alert"] == "1"]


# --- the member alone -----------------------------------------------------------------


def test_the_profile_expects_the_median_of_the_earlier_days_at_this_time_of_day():
    profile = DailyProfile(spacing_seconds=FIVE_MINUTES)
    monday_noon = 4 * DAY_SECONDS + DAY_SECONDS / 2  # 1970-01-05
    for k, value in enumerate([10.0, 30.0, 11.0]):
        assert profile.expected(monday_noon + k * DAY_SECONDS) == (None if k == 0 else pytest.approx(
            {1: 10.0, 2: 20.0}[k]))
        profile.learn(monday_noon + k * DAY_SECONDS, value)
    assert profile.expected(monday_noon + 3 * DAY_SECONDS) == 11.0  # one odd day of three moves it not at all
    assert profile.expected(monday_noon + 3 * DAY_SECONDS - DAY_SECONDS / 2) is None  # midnight was never seen


def test_a_weekend_day_is_expected_from_the_earlier_weekend_days_and_a_weekday_from_the_weekdays():
    profile = DailyProfile(spacing_seconds=FIVE_MINUTES)
    friday_noon = 8 * DAY_SECONDS + DAY_SECONDS / 2  # 1970-01-09
    for k, value in enumerate([100.0, 100.0, 100.0, 100.0, 100.0]):  # Monday to Friday
        profile.learn(friday_noon - (4 - k) * DAY_SECONDS, value)
    assert profile.expected(friday_noon + DAY_SECONDS) is None  # the first Saturday: only weekdays are known
    profile.learn(friday_noon + DAY_SECONDS, 60.0)
    assert profile.expected(friday_noon + 2 * DAY_SECONDS) == 60.0  # Sunday: like Saturday
    profile.learn(friday_noon + 2 * DAY_SECONDS, 62.0)
    assert profile.expected(friday_noon + 3 * DAY_SECONDS) == 100.0  # Monday: like the weekdays


def test_rows_further_apart_than_five_minutes_get_one_bin_each_and_closer_ones_share():
    assert DailyProfile(3600.0).bins == 24
    assert DailyProfile(15.0).bins == DailyProfile(300.0).bins == 288


def test_a_row_older_than_every_kept_day_is_ignored():
    profile = DailyProfile(FIVE_MINUTES, days=2)
    profile.learn(10 * DAY_SECONDS, 5.0)
    profile.learn(11 * DAY_SECONDS, 7.0)
    before = (profile.sums.copy(), profile.counts.copy())
    profile.learn(9 * DAY_SECONDS, 1000.0)  # the slot it would take holds day 11
    assert np.array_equal(profile.sums, before[0]) and np.array_equal(profile.counts, before[1])


def test_without_a_daily_rhythm_the_member_stays_silent_even_through_a_level_shift():
    rng = random.Random(3)
    member = SeasonalExcess(FIVE_MINUTES, grain=0.01)
    scores = []
    for i in range(8 * ROWS_PER_DAY):
        value = 50 + rng.gauss(0, 3) + (30 if i > 5 * ROWS_PER_DAY else 0)
        scores.append(member.score(i * FIVE_MINUTES, value))
        member.learn(i * FIVE_MINUTES, value)
    assert not member.trusted and max(scores) == 0.0


def test_with_a_daily_rhythm_the_member_trusts_the_profile_and_scores_a_flat_day():
    times, values, _ = daily_series(days=9, seed=1, kind="flat")
    member, flat_day = SeasonalExcess(FIVE_MINUTES, grain=0.01), []
    for i, (t, v) in enumerate(zip(times, values)):
        if i // ROWS_PER_DAY == 7:
            flat_day.append(member.score(t, v) / member.threshold)
        member.learn(t, v)
    assert member.trusted
    assert max(flat_day) > 3  # the flat day lies inside the day's range, far from this hour's


def test_fitted_on_hours_with_days_of_profile_rows_the_member_knows_the_day_from_the_start():
    times, values, _ = daily_series(days=8, seed=3)  # Monday to the next Monday
    rows = [(t, {"value": v}) for t, v in zip(times, values)]
    training = rows[-60:]  # five hours of the last evening: no day to learn a shape from
    config = ScorerConfig(features=("value",))
    assert not Detector.fit(config, training).seasonal["value"].trusted
    member = Detector.fit(config, training, profile_rows=rows).seasonal["value"]
    assert member.trusted
    tuesday = times[-1] + FIVE_MINUTES
    assert member.profile.expected(tuesday) == pytest.approx(20, rel=0.15)  # the night
    assert member.profile.expected(tuesday + DAY_SECONDS / 2) == pytest.approx(80, rel=0.15)  # the day


def test_a_single_odd_row_is_not_enough_for_the_member_only_a_lasting_one():
    times, values, _ = daily_series(days=4, seed=2)  # Monday to Thursday: Friday is a weekday too
    member = SeasonalExcess(FIVE_MINUTES, grain=0.01)
    for t, v in zip(times, values):
        member.learn(t, v)
    t = times[-1] + FIVE_MINUTES
    square = SHAPES["square"]
    noon_like = square.night + square.swing * square.busy(0.5)
    assert member.score(t, noon_like - 40) == 0.0  # the last rows were normal: one odd row waits
    for k in range(member.sustain):
        member.learn(t + k * FIVE_MINUTES, noon_like - 40)
    assert member.score(t + member.sustain * FIVE_MINUTES, noon_like - 40) > member.threshold


def test_a_value_the_profile_expects_at_this_time_of_day_is_told_apart_from_one_it_does_not():
    series = make_series("shoulder", "none", seed=0)  # quieter weekends: every value 0.8 of a weekday's
    times, values = series.timestamps(), series.values
    member = SeasonalExcess(FIVE_MINUTES, grain=0.01)
    second_saturday = 12 * ROWS_PER_DAY  # 2024-01-13, 00:00
    for t, v in zip(times[:second_saturday], values[:second_saturday]):
        member.learn(t, v)
    t, v = times[second_saturday + 6], values[second_saturday + 6]  # half past midnight
    assert v < min(values[second_saturday - 3 * ROWS_PER_DAY:second_saturday])  # below the last three days
    assert member.expects(t, v)  # but it is what the last Saturday looked like then
    assert not member.expects(t, v + 30) and not member.expects(t, v - 30)
    flat = SeasonalExcess(FIVE_MINUTES, grain=0.01)
    for i in range(4 * ROWS_PER_DAY):
        flat.learn(i * FIVE_MINUTES, 20 + 0.3 * np.sin(i * 7.3))
    assert not flat.expects(4 * ROWS_PER_DAY * FIVE_MINUTES, 20.0)  # no rhythm: it expects nothing


# --- through the detector and `vigilante backtest` ------------------------------------------


@pytest.mark.parametrize("kind", ["flat", "peak-down"])
def test_backtest_catches_a_day_that_breaks_the_rhythm_inside_the_days_range(tmp_path, kind):
    times, values, labels = daily_series(days=10, seed=7, kind=kind)
    train = 2 * ROWS_PER_DAY + 50  # as the real benchmarks train: about two days
    scored = backtest(tmp_path, times, values, train)
    alerts = alert_rows(scored)
    anomalous = [i - train for i, label in enumerate(labels) if label]
    assert alerts, "the broken day was never flagged"
    first, last = anomalous[0], anomalous[-1]
    assert all(first <= a <= last + 12 for a in alerts), f"alerts outside the broken day: {alerts}"


def test_backtest_without_the_profile_would_miss_the_flat_day(tmp_path, monkeypatch):
    """The same flat day with the member made silent: the other members see nothing (the issue's 0 of 6)."""
    monkeypatch.setattr(SeasonalExcess, "score", lambda self, t, v: 0.0)
    times, values, _ = daily_series(days=10, seed=7, kind="flat")
    assert alert_rows(backtest(tmp_path, times, values, 2 * ROWS_PER_DAY + 50)) == []


@pytest.mark.parametrize("expected_weekends_are_news", [False, True])
def test_backtest_alerts_on_the_first_quieter_weekend_only(tmp_path, monkeypatch, expected_weekends_are_news):
    """The first Saturday's drop below every recent value is news (no earlier weekend says otherwise);
    the second is what the first looked like, though it is as far below the last weekdays. Without the
    profile's word on it, the quantile member would alert on every weekend."""
    if expected_weekends_are_news:
        monkeypatch.setattr(SeasonalExcess, "expects", lambda self, t, v: False)
    series = make_series("shoulder", "none", seed=1)
    train = 2 * ROWS_PER_DAY + 50
    alerts = [train + a for a in alert_rows(backtest(tmp_path, series.timestamps(), series.values, train))]
    alert_days = {a // ROWS_PER_DAY for a in alerts}
    assert 5 in alert_days  # 2024-01-06, the first Saturday
    assert (12 in alert_days) == expected_weekends_are_news, alerts  # 2024-01-13, the second
    assert alert_days <= {5, 12}, alerts


def test_backtest_of_a_normal_week_with_gaps_and_repeated_rows_raises_no_alert(tmp_path):
    times, values, _ = daily_series(days=8, seed=11)
    keep = [i for i in range(len(times)) if not (3 * ROWS_PER_DAY + 40 <= i < 3 * ROWS_PER_DAY + 160)]  # 10 h gone
    times = [times[i] for i in keep]
    values = [values[i] for i in keep]
    for i in range(1000, len(times), 500):  # a repeated row now and then, and an empty value
        times[i] = times[i - 1]
        values[i + 1] = None
    scored = backtest(tmp_path, times, values, 2 * ROWS_PER_DAY + 50)
    assert alert_rows(scored) == []


def test_hourly_rows_have_a_profile_of_24_hours_and_catch_a_flat_day(tmp_path):
    times, values, labels = daily_series(days=40, seed=5, kind="flat", anomaly_day=35, spacing=3600.0)
    train = 600  # 25 days, as the real tier trains on hourly files
    scored = backtest(tmp_path, times, values, train)
    alerts = alert_rows(scored)
    anomalous = [i - train for i, label in enumerate(labels) if label]
    assert alerts and all(anomalous[0] <= a <= anomalous[-1] + 3 for a in alerts), alerts


def test_a_saved_detector_keeps_its_profile_and_scores_the_same(tmp_path):
    times, values, _ = daily_series(days=5, seed=4, kind="flat", anomaly_day=4)
    rows = [(t, {"value": v}) for t, v in zip(times, values)]
    detector = Detector.fit(ScorerConfig(features=("value",)), rows[: 4 * ROWS_PER_DAY])
    path = tmp_path / "state.json"
    detector.save(path)
    loaded = Detector.load(path)
    assert loaded.seasonal["value"].trusted
    for t, v in rows[4 * ROWS_PER_DAY: 4 * ROWS_PER_DAY + 60]:
        assert loaded.step(t, v).score == detector.step(t, v).score
