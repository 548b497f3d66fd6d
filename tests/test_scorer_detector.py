import math
import random

import pytest

from vigilante.scorer import Detector, TrainingError
from tests.scorer_data import TICK, normal_rows, small_config, value_on_baseline


@pytest.fixture(scope="module")
def trained():
    return small_config(), normal_rows(400)


def fresh(trained) -> Detector:
    cfg, rows = trained
    return Detector.fit(cfg, rows)


def test_fit_needs_enough_complete_rows():
    with pytest.raises(TrainingError, match="at least"):
        Detector.fit(small_config(), normal_rows(30))


def test_the_window_fits_the_training_set_and_the_model_is_warm_after_fit(trained):
    d = fresh(trained)
    assert d.window_size == 400
    # river scores 0 until a whole window is learned; after fit, every model has swapped once
    assert all(not m._first_window for m in d.models)
    result = d.step(400 * TICK, normal_rows(1, start=400)[0][1])
    assert 0 < result.score < result.threshold


def test_normal_traffic_after_training_does_not_alert(trained):
    d = fresh(trained)
    results = [d.step(t, v) for t, v in normal_rows(300, start=400, seed=2)]
    assert sum(r.decision for r in results) == 0
    assert all(r.learned for r in results)


def test_a_slow_ramp_is_followed_by_the_baseline_and_does_not_alert(trained):
    d = fresh(trained)
    rows = normal_rows(800, start=400, seed=4)
    ramp = [(t, {"value": v["value"] * (1 + 0.5 * min(i, 600) / 600)}) for i, (t, v) in enumerate(rows)]  # +50 % in 2.5 h
    results = [d.step(t, v) for t, v in ramp]
    assert sum(r.decision for r in results) == 0
    assert abs(d.baselines["value"].level - d.transforms["value"].apply(ramp[-1][1]["value"])) < 0.1


def test_for_a_rise_only_feature_the_end_of_a_burst_is_not_a_new_anomaly():
    # two features: with one, only its quantile member opens an episode, and it judges values, not baselines
    features = ("errors_per_second", "requests_per_second")
    rows = normal_rows(400, features=features)
    after = normal_rows(200, start=400, seed=8, features=features)
    for two_sided in (False, True):
        cfg = small_config(features=features, rise_only_features=() if two_sided else ("errors_per_second",))
        d = Detector.fit(cfg, rows)
        # the baseline has drifted up (say, by a mild burst partly learned), then errors return to normal
        d.baselines["errors_per_second"].level += 20 * d.noise["errors_per_second"]
        alerts = sum(d.step(t, v).decision for t, v in after[:20])
        assert (alerts > 0) == two_sided


def test_decision_follows_the_score_above_the_threshold_for_the_hold_time(trained):
    cfg, rows = trained
    for hold in (1, 2, 3):
        d = Detector.fit(small_config(hold_seconds=hold * TICK, at_once_ratio=0), rows)
        rows_needed = max(hold, 2)  # one row of 15 s may be one scrape: a hold of one row waits for a second
        results = [d.step((400 + i) * TICK, {"value": 200.0}) for i in range(rows_needed + 1)]
        assert all(r.above for r in results)
        assert [r.decision for r in results] == [0] * (rows_needed - 1) + [1, 1]


def test_a_score_far_above_the_threshold_decides_at_once_and_one_nearer_waits_for_the_hold(trained):
    cfg, rows = trained
    outcomes = {}
    for ratio in (2.0, 1e6):
        d = Detector.fit(small_config(hold_seconds=3 * TICK, at_once_ratio=ratio), rows)
        results = [d.step((400 + i) * TICK, {"value": 200.0}) for i in range(3)]
        assert all(r.score >= 2 * r.threshold for r in results)
        outcomes[ratio] = [r.decision for r in results]
    # far above: on the second tick (one tick alone may be a glitch), not after the whole hold
    assert outcomes == {2.0: [0, 1, 1], 1e6: [0, 0, 1]}


def test_a_single_scrape_reading_zero_is_not_an_incident_even_far_above_the_threshold(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(hold_seconds=3 * TICK, at_once_ratio=2.0), rows)
    glitch = d.step(400 * TICK, {"value": 0.0})
    after = [d.step((401 + i) * TICK, {"value": value_on_baseline(d)}) for i in range(3)]
    assert glitch.score >= 2 * glitch.threshold
    assert [glitch.decision] + [r.decision for r in after] == [0, 0, 0, 0]


def test_anomalous_ticks_are_not_learned_and_do_not_move_the_baseline(trained):
    d = fresh(trained)
    learned, level = d.ticks_learned, d.baselines["value"].level
    results = [d.step((400 + i) * TICK, {"value": 200.0}) for i in range(50)]
    assert all(r.skipped == "anomalous" and not r.learned for r in results)
    assert d.ticks_learned == learned
    # the baseline only coasts along its (here tiny) trend
    assert abs(d.baselines["value"].level - level) < 0.5 * d.noise["value"]
    # a long attack is still an attack: with relearning off it never becomes normal
    assert results[-1].decision == 1


def test_gaps_are_scored_but_not_learned(trained):
    d = fresh(trained)
    learned = d.ticks_learned
    for i, missing in enumerate((None, math.nan)):
        r = d.step((400 + i) * TICK, {"value": missing})
        assert r.skipped == "gap" and not r.learned and r.decision == 0
    r = d.step(402 * TICK, {})  # a feature absent from the tick is a gap too
    assert r.skipped == "gap"
    assert d.ticks_learned == learned


def test_normal_ticks_are_learned(trained):
    d = fresh(trained)
    learned = d.ticks_learned
    r = d.step(400 * TICK, {"value": value_on_baseline(d)})
    assert r.learned and r.skipped is None
    assert d.ticks_learned == learned + 1


def test_a_lasting_shift_alerts_at_first_then_is_relearned_within_the_bound(trained):
    _, rows = trained
    bound = 40
    d = Detector.fit(small_config(relearn_after_seconds=bound * TICK), rows)
    shifted = [(t, {"value": v["value"] * 1.3}) for t, v in normal_rows(400, start=400, seed=3)]
    results = [d.step(t, v) for t, v in shifted]
    decisions = [r.decision for r in results]
    assert decisions[5] == 1, "a 30 % step alerts at first"
    rebaselined = [i for i, r in enumerate(results) if r.rebaselined]
    assert rebaselined and rebaselined[0] <= 2 * bound
    last_alert = max(i for i, dec in enumerate(decisions) if dec)
    assert last_alert <= 2 * bound
    assert sum(decisions[2 * bound :]) == 0
    assert sum(r.learned for r in results[-100:]) >= 90


def test_without_relearning_a_lasting_shift_keeps_alerting(trained):
    d = fresh(trained)  # relearn_after_seconds=0
    shifted = [(t, {"value": v["value"] * 1.3}) for t, v in normal_rows(200, start=400, seed=3)]
    decisions = [d.step(t, v).decision for t, v in shifted]
    assert sum(decisions[-50:]) >= 45


def test_attribution_points_at_the_feature_that_moved():
    cfg = small_config(features=("a", "b", "c"))
    d = Detector.fit(cfg, normal_rows(400, features=("a", "b", "c")))
    values = dict(normal_rows(1, start=400, features=("a", "b", "c"))[0][1])
    values["b"] *= 5
    r = d.step(400 * TICK, values, explain=True)
    assert set(r.attribution) == {"a", "b", "c"}
    assert max(r.attribution, key=r.attribution.get) == "b"
    assert r.attribution["b"] > 0 and r.attribution["a"] == r.attribution["c"] == 0


def test_attribution_is_computed_by_default_only_above_the_threshold(trained):
    d = fresh(trained)
    assert d.step(400 * TICK, normal_rows(1, start=400)[0][1]).attribution is None
    assert d.step(401 * TICK, {"value": 500.0}).attribution is not None
    assert d.step(402 * TICK, {"value": 500.0}, explain=False).attribution is None


def test_a_joint_model_works_too():
    cfg = small_config(features=("a", "b"), model_layout="joint")
    # 1,000 rows: enough for the 0.999 quantile, so the threshold is not widened for a short training.
    d = Detector.fit(cfg, normal_rows(1000, features=("a", "b")))
    assert len(d.models) == 1
    assert d.step(1000 * TICK, {"a": 500.0, "b": 40.0}).above


def test_any_single_numeric_column_works_including_negative_values():
    rows = [(t, {"temperature": v["value"] - 20}) for t, v in normal_rows(400)]
    d = Detector.fit(small_config(features=("temperature",)), rows)
    assert d.transforms["temperature"].kind == "linear"
    assert not d.step(400 * TICK, {"temperature": 0.0}).above
    assert d.step(401 * TICK, {"temperature": 40.0}).above


def test_time_must_move_forward(trained):
    d = fresh(trained)
    d.step(400 * TICK, {"value": 20.0})
    with pytest.raises(ValueError, match="not after"):
        d.step(400 * TICK, {"value": 20.0})


def test_same_seed_same_scores(trained):
    a, b = fresh(trained), fresh(trained)
    rows = normal_rows(20, start=400, seed=9)
    assert [a.step(t, v).score for t, v in rows] == [b.step(t, v).score for t, v in rows]


def test_after_error_free_training_a_single_5xx_does_not_alert_but_a_burst_does():
    # With no 5xx in training the error features have no spread of their own; their noise
    # floor (a few errors per rate window, 0.1 % of requests) keeps one 5xx ordinary.
    import random

    from vigilante.config import ScorerConfig

    rng = random.Random(3)

    def row(i, errors_per_minute=0):
        rps = 20 * (1 + rng.gauss(0, 0.03))
        eps = errors_per_minute / 60
        return i * TICK, {"requests_per_second": rps, "errors_per_second": eps, "error_ratio": eps / rps,
                          "latency_p50_seconds": 0.08 * (1 + rng.gauss(0, 0.05)),
                          "latency_p95_seconds": 0.3 * (1 + rng.gauss(0, 0.08))}

    detector = Detector.fit(ScorerConfig(), [row(i) for i in range(480)])

    single = [detector.step(*row(480 + i, errors_per_minute=1)).decision for i in range(4)]
    calm = [detector.step(*row(484 + i)).decision for i in range(10)]
    burst = [detector.step(*row(494 + i, errors_per_minute=10)).decision for i in range(4)]

    assert single == [0, 0, 0, 0] and calm == [0] * 10
    assert burst[-1] == 1


def test_windows_are_seconds_whatever_the_spacing_of_the_rows():
    # The same configuration on rows 5 minutes apart: a 60 s hold is one row, and a lasting
    # shift is accepted within the configured time, not 480 rows (40 hours) later.
    rows = [(i * 300.0, v) for i, (_, v) in enumerate(normal_rows(400))]
    d = Detector.fit(small_config(relearn_after_seconds=7200), rows)
    assert (d.ticks.spacing_seconds, d.ticks.hold_ticks, d.ticks.relearn_after_ticks) == (300.0, 1, 24)
    shifted = [((400 + i) * 300.0, {"value": v["value"] * 1.3}) for i, (_, v) in enumerate(normal_rows(200, seed=3))]
    decisions = [d.step(t, v).decision for t, v in shifted]
    assert decisions[0] == 1, "a 30 % step alerts on its first row"
    last_alert = max(i for i, dec in enumerate(decisions) if dec)
    assert (last_alert + 1) * 300 <= 2 * 7200, "the alarm ends within twice relearn_after_seconds"


def test_a_long_gap_in_the_rows_is_time_passing_not_a_step(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(), rows)
    start = rows[-1][0]
    # A spike just before a gap of 1,000 rows leaves its trace in the context and the hold run...
    d.step(start + TICK, {"value": 200.0})
    assert d.hold.run >= 1 and any(abs(c) > 0 for c in d.context["value"])
    # ...which a normal row after the gap must not inherit.
    later = normal_rows(1, start=len(rows) + 1001)[0][1]
    result = d.step(start + 1002 * TICK, later)
    assert result.decision == 0 and not result.above
    assert d.hold.run == 0


def test_a_short_gap_keeps_the_context(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(), rows)
    start = rows[-1][0]
    d.step(start + TICK, {"value": 200.0})
    kept = list(d.context["value"])
    d.step(start + 3 * TICK, {"value": None})  # one row missing, then a gap tick
    assert d.context["value"] == kept  # a gap tick updates nothing, and one missing row is no reset


@pytest.mark.parametrize("level, wobble, jump", [(5.0, 6.0, 15.0), (0.25, 0.26, 0.75), (120.0, 121.0, 300.0)])
def test_a_series_flat_in_training_takes_a_step_of_its_own_grain_as_noise_and_a_jump_as_an_incident(level, wobble,
                                                                                                      jump):
    # A constant (a queue length, a latency inside one histogram bucket): no spread to learn a
    # noise level from, so the noise is the series' own grain (its last digit) or 2 % of it.
    rows = [(i * TICK, {"value": level}) for i in range(300)]
    quiet, loud = Detector.fit(small_config(), rows), Detector.fit(small_config(), rows)
    assert not any(quiet.step((300 + i) * TICK, {"value": wobble}).decision for i in range(10))
    assert any(loud.step((300 + i) * TICK, {"value": jump}).decision for i in range(3))


def test_one_freak_row_in_a_short_training_does_not_hide_a_doubling():
    # A day of 5-minute rows with one row at a quarter of the level (a restart's first scrape,
    # its rate window not yet full): the 0.999 quantile of 288 rows would be that row alone,
    # and the limits and threshold it set scored a doubling 0.4 times the threshold.
    rng = random.Random(3)
    level = [20 * (1 + 0.3 * math.sin(2 * math.pi * i / 288)) for i in range(300)]
    rows = [(i * 300.0, {"value": x * (1 + rng.gauss(0, 0.03))}) for i, x in enumerate(level)]
    rows[150] = (150 * 300.0, {"value": level[150] / 4})
    d = Detector.fit(small_config(n_trees=25, hold_seconds=300), rows[:288])
    for t, v in rows[288:295]:
        assert d.step(t, v).decision == 0
    doubled = d.step(295 * 300.0, {"value": 2 * level[295]})
    assert doubled.score > doubled.threshold, (doubled.score, doubled.threshold)


def test_a_change_far_beyond_anything_in_training_scores_far_more_than_a_modest_one(trained):
    # The score keeps growing with the size of the change: severity is not lost past the training range.
    cfg, rows = trained
    scores = {}
    for factor in (1.5, 3.0, 30.0):
        d = Detector.fit(cfg, rows)
        scores[factor] = d.step(400 * TICK, {"value": factor * value_on_baseline(d)}).score
    assert scores[1.5] > 0 and scores[3.0] > 2.5 * scores[1.5] and scores[30.0] > 5 * scores[3.0]


def test_a_drop_to_zero_that_lasts_is_an_incident_far_above_the_threshold(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(hold_seconds=4 * TICK, at_once_ratio=2.0), rows)
    results = [d.step((400 + i) * TICK, {"value": 0.0}) for i in range(3)]
    assert all(r.score >= 2 * r.threshold for r in results)
    assert [r.decision for r in results] == [0, 1, 1]


def test_the_quantile_members_learn_every_value_and_the_trees_only_normal_ones(trained):
    d = fresh(trained)
    history = len(d.excess["value"].history)
    learned = d.ticks_learned
    r = d.step(400 * TICK, {"value": 500.0})
    assert r.skipped == "anomalous" and d.ticks_learned == learned
    assert len(d.excess["value"].history) == min(history + 1, d.excess["value"].history.maxlen)
    assert d.excess["value"].history[-1] == 500.0


def _nudged_above_its_quantiles(d: Detector, feature: str) -> float:
    """A value just past the member's high quantile, its threshold made tiny: it is above, the trees are not."""
    member = d.excess[feature]
    member.threshold = 1e-9
    return member.quantile(0.95) * 1.001


def test_with_several_features_one_quantile_member_alone_opens_no_episode_and_two_together_do():
    features = ("a", "b", "c")
    d = Detector.fit(small_config(features=features, hold_seconds=TICK), normal_rows(400, features=features))
    normal = dict(normal_rows(1, start=400, features=features)[0][1])
    normal["a"] = _nudged_above_its_quantiles(d, "a")
    alone = [d.step((400 + i) * TICK, normal) for i in range(3)]
    assert [r.decision for r in alone] == [0, 0, 0] and all(r.score <= r.threshold for r in alone)
    normal["b"] = _nudged_above_its_quantiles(d, "b")
    together = d.step(403 * TICK, normal)
    assert together.score > together.threshold and together.decision == 1


def test_with_several_features_the_trees_alone_open_on_a_second_tick_or_two_features_together():
    # a hold of one row (rows a minute apart, hold 60 s): one scrape's glitch on one feature is no page
    features = ("a", "b")
    d = Detector.fit(small_config(features=features, hold_seconds=TICK, at_once_ratio=0),
                     normal_rows(400, features=features))
    for member in d.excess.values():
        member.threshold = 1e12  # the members see nothing: only the trees speak

    def tick(i: int, *jumped: str):
        return d.step((400 + i) * TICK, {f: (3 if f in jumped else 1) * value_on_baseline(d, f) for f in features})

    glitch = [tick(0, "a"), tick(1)]
    assert glitch[0].score > glitch[0].threshold and [r.decision for r in glitch] == [0, 0]
    lasting = [tick(2, "a"), tick(3, "a")]
    assert all(r.score > r.threshold for r in lasting) and [r.decision for r in lasting] == [0, 1]
    for i in range(4, 30):  # back to normal, and the episode closed
        calm = tick(i)
    assert calm.decision == 0
    together = tick(30, "a", "b")
    assert together.score > together.threshold and together.decision == 1


def test_with_one_feature_the_trees_alone_open_no_episode_but_hold_one_open(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(hold_seconds=TICK), rows)
    member = d.excess["value"]
    calibrated = member.threshold
    member.threshold = 1e12  # the member sees nothing: only the trees are above
    quiet = [d.step((400 + i) * TICK, {"value": 3 * value_on_baseline(d)}) for i in range(5)]
    assert all(r.score > r.threshold for r in quiet) and [r.decision for r in quiet] == [0] * 5
    member.threshold = calibrated
    # rows 15 s apart: the member's own second row opens it, not one far-out row after rows only the trees found odd
    opened = [d.step((405 + i) * TICK, {"value": 1000.0}) for i in range(2)]
    assert [r.decision for r in opened] == [0, 1]
    member.threshold = 1e12
    held = [d.step((407 + i) * TICK, {"value": 3 * value_on_baseline(d)}) for i in range(5)]
    assert [r.decision for r in held] == [1] * 5


def test_one_tick_below_the_threshold_does_not_end_an_episode_and_two_do(trained):
    cfg, rows = trained
    d = Detector.fit(small_config(hold_seconds=2 * TICK, at_once_ratio=0), rows)
    pattern = ["far", "far", "far", "calm", "far", "far", "calm", "calm", "calm", "far"]
    # a calm tick sits on the baseline as it is at that tick
    results = [d.step((400 + i) * TICK, {"value": 200.0 if p == "far" else value_on_baseline(d)})
               for i, p in enumerate(pattern)]
    assert [r.above for r in results] == [p == "far" for p in pattern]
    # a dip of one tick between two bursts is one incident (no second page); two quiet ticks close it,
    # and the next far tick waits for the hold again
    assert [r.decision for r in results] == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]


def test_a_series_flat_in_training_that_comes_alive_is_accepted_within_the_bound_noise_included():
    relearn = 40
    cfg = small_config(relearn_after_seconds=relearn * TICK, hold_seconds=TICK)
    d = Detector.fit(cfg, [(i * TICK, {"value": 0.0}) for i in range(400)])  # a counter nobody used yet
    rng = random.Random(4)
    alive = [d.step((400 + i) * TICK, {"value": 40000.0 * (1 + rng.gauss(0, 0.2))}).decision for i in range(400)]
    assert alive[:relearn] == [0] + [1] * (relearn - 1)  # an incident at first (from its second row: one may be a scrape)
    # accepted, its spread with it, after at most twice the bound (and a hold): not alerting for good
    assert alive[2 * relearn + 2:] == [0] * (len(alive) - 2 * relearn - 2)


def test_the_generators_scrape_glitches_cost_no_alert_at_the_shipped_defaults():
    # The generator's one-tick readings of no traffic, through the shipped detector at 15 s rows.
    from scripts.bench_detection import GRACE_TICKS, run_scorer
    from scripts.scenarios import generate
    from vigilante.config import Config
    from vigilante.scorer.features import histogram_buckets

    sc = generate(seed=7, days=3, anomalies_per_kind=0, normals_per_kind=3)
    glitches = [e.start - sc.train_rows for e in sc.events if e.kind == "scrape_glitch"]
    decisions, _ = run_scorer(sc, Config().scorer, histogram_buckets(Config()))
    assert len(glitches) == 3
    assert [int(decisions[g : g + GRACE_TICKS].max()) for g in glitches] == [0, 0, 0]
