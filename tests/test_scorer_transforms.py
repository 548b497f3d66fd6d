import math

import pytest

from vigilante.scorer.transforms import FeatureTransform, Limits


def test_non_negative_series_get_a_log_transform_so_a_doubling_is_the_same_step_at_any_level():
    small = FeatureTransform.fit("rps", [5.0] * 10)
    large = FeatureTransform.fit("rps", [500.0] * 10)
    assert small.kind == large.kind == "log"
    step_small = small.apply(10.0) - small.apply(5.0)
    step_large = large.apply(1000.0) - large.apply(500.0)
    assert step_small == pytest.approx(step_large)


def test_series_with_negative_values_are_standardised():
    t = FeatureTransform.fit("temperature", [-4.0, -2.0, 0.0, 2.0, 4.0])
    assert t.kind == "linear"
    assert t.apply(0.0) == 0.0
    assert t.apply(4.0) > 0 > t.apply(-4.0)


def test_error_series_use_a_larger_offset_so_one_error_a_minute_is_not_a_huge_jump():
    values = [0.0, 0.0, 1 / 60, 0.0, 2 / 60, 1 / 60]
    errors = FeatureTransform.fit("errors_per_second", values)
    generic = FeatureTransform.fit("something_else", values)
    assert errors.apply(1 / 60) - errors.apply(0) < generic.apply(1 / 60) - generic.apply(0)


def test_a_series_of_zeros_still_gets_a_unit():
    t = FeatureTransform.fit("errors_per_second", [0.0, 0.0, 0.0])
    assert math.isfinite(t.apply(0.0)) and t.apply(1.0) > t.apply(0.0)


def test_no_training_value_is_an_error():
    with pytest.raises(ValueError, match="no value"):
        FeatureTransform.fit("x", [])


def test_limits_keep_normal_values_in_the_middle_and_clip_beyond_the_headroom():
    lim = Limits.fit([float(v) for v in range(101)], quantile=1.0, headroom=1.0)
    assert (lim.lo, lim.hi) == (-100.0, 200.0)
    assert lim.apply(0.0) == pytest.approx(1 / 3)
    assert lim.apply(100.0) == pytest.approx(2 / 3)
    assert lim.apply(10_000.0) == 1.0
    assert lim.apply(-10_000.0) == 0.0


def test_one_spike_in_training_does_not_squash_normal_values_thanks_to_the_quantile():
    values = [float(v % 10) for v in range(5000)] + [1e6]
    lim = Limits.fit(values, quantile=0.999, headroom=0.5)
    # normal values 0..9 still span a good part of [0, 1], unlike a min-max over the spike
    assert lim.apply(9.0) - lim.apply(0.0) > 0.4


def test_a_constant_feature_gets_a_unit_width():
    lim = Limits.fit([3.0] * 50, quantile=0.999, headroom=1.0)
    assert lim.lo < 3.0 < lim.hi


def test_a_feature_that_moved_less_than_its_noise_gets_the_least_width_not_its_own_spread():
    # In noise units: a latency that wandered +-0.1 in training (its floor is 1) must not put
    # a wobble of 1 at the edge of [0, 1].
    narrow = Limits.fit([-0.1, 0.0, 0.1], quantile=1.0, headroom=2.0, min_width=0.0)
    floored = Limits.fit([-0.1, 0.0, 0.1], quantile=1.0, headroom=2.0, min_width=4.0)
    assert narrow.apply(1.0) == 1.0
    assert 0.5 < floored.apply(1.0) < 0.6
    wide = [float(v) for v in range(-5, 6)]
    assert Limits.fit(wide, 1.0, 2.0, min_width=4.0) == Limits.fit(wide, 1.0, 2.0)  # wider than the least: as is


def test_a_quantile_inside_a_histogram_bucket_has_a_share_of_the_bucket_as_noise():
    values = [0.0080, 0.0081, 0.0082, 0.0083]  # a p95 inside the 5-10 ms bucket
    t = FeatureTransform.fit("latency_p95_seconds", values)
    buckets = (0.005, 0.01, 0.025)
    floor = t.noise_floor("latency_p95_seconds", values, buckets)
    assert floor > 2 * t.noise_floor("latency_p95_seconds", values)
    assert t.apply(0.00815 + 0.0005) - t.apply(0.00815) < floor  # half a millisecond: noise
    assert t.apply(0.02) - t.apply(0.00815) > 5 * floor  # two buckets up: far beyond it
    # above the last bound histogram_quantile answers that bound: nothing to add
    assert t.noise_floor("latency_p95_seconds", values, (0.001,)) == t.noise_floor("latency_p95_seconds", values)



def test_the_transforms_name_no_feature_the_features_declare_their_grain():
    import ast
    import inspect

    from vigilante.scorer import features, transforms

    tree = ast.parse(inspect.getsource(transforms))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node)}
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}
    assert not strings & set(features.FEATURES)  # the examples in docstrings may name one
    errors = features.FEATURES["errors_per_second"]
    assert FeatureTransform.fit(errors.name, [2.0, 2.0]).scale == 2.0 * errors.offset_fraction
    assert features.offset_fraction("a_feature_of_my_own") == features.DEFAULT_OFFSET_FRACTION
