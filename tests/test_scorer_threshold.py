import pytest

from vigilante.scorer.threshold import HoldDecision, calibrate_threshold


def test_threshold_is_the_training_quantile_plus_the_margin():
    scores = [i / 1000 for i in range(1001)]
    assert calibrate_threshold(scores, quantile=0.99, margin=0.0) == pytest.approx(0.99)
    assert calibrate_threshold(scores, quantile=0.99, margin=0.5) == pytest.approx(1.485)


def test_threshold_ignores_the_rare_top_of_training_below_its_quantile():
    scores = [0.1] * 9995 + [5.0] * 5
    assert calibrate_threshold(scores, quantile=0.999, margin=0.0) == pytest.approx(0.1)


@pytest.mark.parametrize("hold", [1, 2, 3])
def test_decision_turns_on_exactly_at_the_hold_tick_not_one_before(hold):
    d = HoldDecision(hold)
    decisions = [d.update(True) for _ in range(hold + 1)]
    assert decisions == [0] * (hold - 1) + [1, 1]


def test_one_tick_below_the_threshold_resets_the_hold():
    d = HoldDecision(2)
    assert [d.update(a) for a in (True, False, True, True, False)] == [0, 0, 0, 1, 0]
