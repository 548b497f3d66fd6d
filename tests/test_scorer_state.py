import json
import os

import pytest

from vigilante.output_files import OutputError
from vigilante.scorer import Detector, StateError
from vigilante.scorer import state as state_module
from tests.scorer_data import TICK, normal_rows, small_config


@pytest.fixture(scope="module")
def detector():
    d = Detector.fit(small_config(), normal_rows(300))
    for t, v in normal_rows(20, start=300, seed=5):
        d.step(t, v)
    return d


def test_round_trip_continues_exactly_where_it_stopped(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    restored = Detector.load(path)
    later = normal_rows(30, start=320, seed=6) + [(350 * TICK, {"value": 300.0}), (351 * TICK, {"value": 300.0})]
    a = [detector.step(t, v) for t, v in later]
    b = [restored.step(t, v) for t, v in later]
    assert [(r.score, r.decision, r.learned) for r in a] == [(r.score, r.decision, r.learned) for r in b]
    assert a[-1].decision == 1


def test_the_trees_saved_as_arrays_learn_and_swap_windows_exactly_as_the_originals(tmp_path):
    # A window of 100 rows swaps its reference mass every 100 learned ticks: 250 ticks after
    # the load cross two swaps, with a burst the trees must not learn in between.
    original = Detector.fit(small_config(), normal_rows(100))
    original.save(tmp_path / "state")
    restored = Detector.load(tmp_path / "state")
    later = (normal_rows(120, start=100, seed=7) + [((220 + i) * TICK, {"value": 400.0}) for i in range(5)]
             + normal_rows(125, start=225, seed=8))
    a = [original.step(t, v) for t, v in later]
    b = [restored.step(t, v) for t, v in later]
    assert [(r.score, r.decision, r.learned) for r in a] == [(r.score, r.decision, r.learned) for r in b]
    assert sum(r.learned for r in a) > 200 and any(r.decision for r in a)


def test_save_replaces_atomically_and_leaves_no_temporary_file(detector, tmp_path):
    path = tmp_path / "state"
    path.write_text("old")
    detector.save(path)
    assert os.listdir(tmp_path) == ["state"]
    assert Detector.load(path).threshold == detector.threshold


def test_a_failed_save_keeps_the_old_file(detector, tmp_path, monkeypatch):
    path = tmp_path / "state"
    detector.save(path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left on device"):
        detector.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["state"]


def test_the_header_names_schema_versions_and_features(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == "vigilante-scorer-state"
    assert header["schema_version"] == state_module.SCHEMA_VERSION
    assert header["features"] == ["value"]
    assert {"vigilante", "river", "sha256"} <= set(header)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "corrupt"),
        (lambda b: b + b"x", "corrupt"),
        (lambda b: b"", "not a vigilante scorer state"),
        (lambda b: b"hello\n" + b, "not a vigilante scorer state"),
        (lambda b: b.replace(b'"schema_version": %d' % state_module.SCHEMA_VERSION, b'"schema_version": 99', 1),
         "schema version 99"),
    ],
    ids=["truncated", "appended", "empty", "foreign", "future-schema"],
)
def test_a_damaged_or_incompatible_file_is_a_state_error(detector, tmp_path, damage, message):
    path = tmp_path / "state"
    detector.save(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(StateError, match=message) as info:
        Detector.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_file_is_a_state_error(tmp_path):
    with pytest.raises(StateError, match="cannot read"):
        Detector.load(tmp_path / "nothing")


def test_a_configuration_with_other_features_is_refused(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    with pytest.raises(StateError, match="trained on features"):
        Detector.load(path, small_config(features=("other",)))


def test_the_live_configuration_sets_the_decision_knobs(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    restored = Detector.load(path, small_config(hold_seconds=60, relearn_after_seconds=150))
    assert restored.hold.hold_ticks == 4 and restored.ticks.relearn_after_ticks == 10  # of the rows' 15 s


def test_a_model_trained_with_other_model_settings_is_not_reused(detector, tmp_path):
    path = tmp_path / "state.json"
    detector.save(path)

    with pytest.raises(StateError, match=r"other settings \(n_trees .* -> 7\).*retrain"):
        Detector.load(path, small_config(n_trees=7))
    # Decision knobs are taken from the new configuration instead.
    assert Detector.load(path, small_config(hold_seconds=60)).hold.hold_ticks == 4


def test_a_model_trained_at_another_interval_is_not_reused(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)  # trained on rows 15 s apart
    with pytest.raises(StateError, match=r"trained on rows 15 s apart and the scorer ticks every 5 s"):
        Detector.load(path, small_config(tick_seconds=5.0))
