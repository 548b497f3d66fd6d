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
    Detector.fit(small_config(), normal_rows(100)).save(path)  # an older state
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
    assert detector.hold.hold_ticks == 4  # saved with the default hold: 60 s of the rows' 15 s
    restored = Detector.load(path, small_config(hold_seconds=90, relearn_after_seconds=150))
    assert restored.hold.hold_ticks == 6 and restored.ticks.relearn_after_ticks == 10


def test_a_model_trained_with_other_model_settings_is_not_reused(detector, tmp_path):
    path = tmp_path / "state.json"
    detector.save(path)

    with pytest.raises(StateError, match=r"other settings \(n_trees .* -> 7\).*retrain"):
        Detector.load(path, small_config(n_trees=7))
    # Decision knobs are taken from the new configuration instead.
    assert detector.hold.hold_ticks == 4
    assert Detector.load(path, small_config(hold_seconds=90)).hold.hold_ticks == 6


def test_a_model_trained_at_another_interval_is_not_reused(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)  # trained on rows 15 s apart
    with pytest.raises(StateError, match=r"trained on rows 15 s apart and the scorer ticks every 5 s"):
        Detector.load(path, small_config(tick_seconds=5.0))


# --- a state file is data, never code ------------------------------------------------


class _WritesAMarker:
    """What a forged state would carry: unpickling it opens (creates) the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_state(path, marker, schema_version):
    """A state file of the pickle format, its checksum right: only a loader that unpickles runs it."""
    import hashlib
    import pickle

    body = pickle.dumps(_WritesAMarker(marker))
    header = {"format": "vigilante-scorer-state", "schema_version": schema_version, "features": ["value"],
              "vigilante": "0.1.0", "river": "0.26.1", "sha256": hashlib.sha256(body).hexdigest()}
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


@pytest.mark.parametrize("schema_version", [3, state_module.SCHEMA_VERSION], ids=["old-schema", "current-schema"])
def test_a_forged_pickle_state_is_refused_and_never_run(tmp_path, schema_version):
    path, marker = tmp_path / "state", tmp_path / "ran"
    _pickle_state(path, marker, schema_version)
    with pytest.raises(StateError) as info:
        Detector.load(path, small_config())
    assert not marker.exists()
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_an_old_pickle_state_says_to_retrain_or_bootstrap(tmp_path):
    path = tmp_path / "state"
    _pickle_state(path, tmp_path / "ran", 3)
    with pytest.raises(StateError, match=r"schema version 3.*retrain.*bootstrap"):
        Detector.load(path)


def _rewrite_body(path, change):
    """Apply ``change`` to the decoded body and write it back with a matching checksum."""
    import hashlib

    head, model, arrays = path.read_bytes().split(b"\n", 2)
    body = json.dumps(change(json.loads(model))).encode() + b"\n" + arrays
    header = json.loads(head)
    header["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


def test_the_body_is_plain_json_and_a_class_off_the_list_is_refused(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    body = json.loads(path.read_bytes().split(b"\n", 2)[1])  # plain JSON, no pickle
    assert body["$"] == "object" and body["class"] == "Detector"

    def foreign_class(document):
        document["class"] = "os.system"
        return document

    _rewrite_body(path, foreign_class)
    with pytest.raises(StateError, match="os.system"):
        Detector.load(path)


def test_a_plain_attribute_added_to_the_detector_is_saved_with_no_codec_change(tmp_path, monkeypatch):
    import math
    from collections import deque

    import numpy as np

    original_init = Detector.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.future_attribute = {"pair": (1, 2.5), "edges": [math.inf, -math.inf], "last": deque([3], maxlen=4),
                                 "counts": np.arange(4, dtype=np.int64), 7: "a key that is not text"}

    monkeypatch.setattr(Detector, "__init__", init)
    d = Detector.fit(small_config(), normal_rows(100))
    d.save(tmp_path / "state")
    restored = Detector.load(tmp_path / "state").future_attribute
    assert restored["pair"] == (1, 2.5) and restored["edges"] == [math.inf, -math.inf] and restored[7]
    assert restored["last"] == deque([3]) and restored["last"].maxlen == 4
    assert restored["counts"].dtype == np.int64 and restored["counts"].tolist() == [0, 1, 2, 3]


def test_a_state_missing_an_attribute_this_detector_has_is_refused(detector, tmp_path, monkeypatch):
    detector.save(tmp_path / "state")  # saved by a detector without the attribute below
    original_init = Detector.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.future_attribute = 0

    monkeypatch.setattr(Detector, "__init__", init)
    with pytest.raises(StateError, match=r"another version.*future_attribute.*bootstrap"):
        Detector.load(tmp_path / "state")


def test_a_state_file_is_readable_by_its_owner_only(detector, tmp_path):
    path = tmp_path / "state"
    detector.save(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_file_that_is_not_a_state_is_never_replaced_by_a_save(detector, tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("timestamp,value\n1,2\n")
    with pytest.raises(OutputError, match="not a vigilante scorer state"):
        detector.save(path)
    assert path.read_text() == "timestamp,value\n1,2\n"


def test_packed_trees_taller_than_their_nodes_are_refused_before_they_are_built():
    from river.anomaly import HalfSpaceTrees

    from vigilante.scorer.forest_state import pack, unpack

    model = HalfSpaceTrees(n_trees=2, height=3, window_size=10, seed=1)
    model.learn_one({"a": 0.5})
    packed = pack(model)
    packed["params"]["height"] = 60  # 2**61 nodes: building them would never end
    with pytest.raises(ValueError, match="nodes"):
        unpack(packed)
