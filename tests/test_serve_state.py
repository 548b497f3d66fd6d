"""``vigilante serve`` and its state file: nothing it did not write is replaced, nothing saved is lost.

The refusals run ``vigilante serve`` as a process (it must stop before it does anything);
what happens to a state that cannot be used is shown on the service with a stand-in
feature source that has history to bootstrap from.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from vigilante.cli import main
from vigilante.config import Config
from vigilante.service.feature_source import FeatureRow
from vigilante.output_files import OutputError
from vigilante.scorer import Detector
from vigilante.service.loop import ScorerService
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.state_file import prepare_state_file
from scripts.harness.process import ManagedProcess, free_port
from tests.fixtures.fake_prometheus import FakePrometheus, vector
from tests.scorer_data import normal_rows
from tests.scorer_process import one_feature_config, train, training_csv

NOW = 1_700_000_000.0
STEP = 15.0


def serve_once(config: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``vigilante serve`` that is expected to refuse at once (a refusal takes a second, not a minute)."""
    return subprocess.run([sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                           "--port", str(free_port())], capture_output=True, text=True, timeout=timeout)


def assert_one_line_refusal(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("vigilante serve: error: "), run.stderr
    for word in words:
        assert word in run.stderr


# --- files serve must never replace --------------------------------------------------


def test_serve_refuses_a_state_path_that_is_its_training_csv(tmp_path):
    csv = training_csv(tmp_path / "train.csv")
    before = csv.read_bytes()
    config = one_feature_config(tmp_path / "vigilante.yaml", "http://127.0.0.1:9", csv,
                                service={"training_csv": str(csv)})
    assert_one_line_refusal(serve_once(config), str(csv), "input")
    assert csv.read_bytes() == before


def test_serve_refuses_a_state_path_that_is_its_configuration(tmp_path):
    config = tmp_path / "vigilante.yaml"
    one_feature_config(config, "http://127.0.0.1:9", config)
    before = config.read_bytes()
    assert_one_line_refusal(serve_once(config), str(config), "input")
    assert config.read_bytes() == before


def test_serve_refuses_a_state_path_holding_a_file_that_is_not_a_state(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    config = one_feature_config(tmp_path / "vigilante.yaml", "http://127.0.0.1:9", notes)
    assert_one_line_refusal(serve_once(config), str(notes), "not a vigilante scorer state")
    assert notes.read_text() == "not a model\n"


def test_train_refuses_to_write_its_model_over_its_configuration(tmp_path, capsys):
    config = one_feature_config(tmp_path / "vigilante.yaml", "http://127.0.0.1:9", tmp_path / "state")
    before = config.read_bytes()
    csv = training_csv(tmp_path / "train.csv")
    assert main(["train", str(csv), "--config", str(config), "--out", str(config)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert config.read_bytes() == before


def test_train_refuses_to_replace_a_state_a_serve_holds(tmp_path, capsys):
    from vigilante.service.state_file import state_lock

    state = tmp_path / "state"
    config = one_feature_config(tmp_path / "vigilante.yaml", "http://127.0.0.1:9", state)
    csv = training_csv(tmp_path / "train.csv")
    assert main(["train", str(csv), "--config", str(config), "--out", str(state)]) == 0
    before = state.read_bytes()
    capsys.readouterr()
    with state_lock(state):  # what a running `serve` holds
        assert main(["train", str(csv), "--config", str(config), "--out", str(state)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another vigilante command" in err[0], err
    assert state.read_bytes() == before


# --- where the state lives ---------------------------------------------------------------


def test_the_default_state_lives_in_the_per_user_state_directory_not_the_working_directory(tmp_path, monkeypatch):
    work, state_home = tmp_path / "app", tmp_path / "state-home"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    with prepare_state_file(Config(), started=0.0) as state:
        assert state == state_home / "vigilante" / "vigilante-scorer.state.json"
    assert list(work.iterdir()) == []  # not even the lock
    assert (state_home / "vigilante").stat().st_mode & 0o777 == 0o700


def test_train_without_out_writes_the_model_where_serve_reads_it(tmp_path, monkeypatch, capsys):
    from vigilante.config import load_config
    from vigilante.service.state_file import state_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    config = tmp_path / "vigilante.yaml"
    config.write_text("scorer:\n  features: [value]\n  job: shop-scorer\n")
    assert main(["train", str(training_csv(tmp_path / "train.csv")), "--config", str(config)]) == 0
    expected = tmp_path / "state-home" / "vigilante" / "shop-scorer.state.json"
    assert state_path(load_config(config)) == expected
    assert Detector.load(expected).features == ("value",)
    assert f"saved to {expected}" in capsys.readouterr().out


# --- one serve per state file ----------------------------------------------------------


class Steady:
    """A feature source with history to bootstrap from and steady values, one feature ``value``."""

    queries = {"value": "vector(1)"}

    def __init__(self):
        self.rng = random.Random(4)

    def _row(self, timestamp: float) -> FeatureRow:
        return FeatureRow(timestamp, {"value": 20.0 * (1 + self.rng.gauss(0, 0.03))})

    def at(self, timestamp: float) -> FeatureRow:
        return self._row(timestamp)

    def between(self, start: float, end: float, step: float) -> list[FeatureRow]:
        return [self._row(start + i * step) for i in range(int((end - start) // step) + 1)]


def service_for(tmp_path: Path, **scorer) -> ScorerService:
    knobs = {"features": ("value",), "n_trees": 10, "state_path": str(tmp_path / "state"), **scorer}
    config = Config().replace("scorer", **knobs).replace("service", bootstrap_hours=0.5)
    return ScorerService(config, Steady(), ScorerMetrics(CollectorRegistry(), ("value",)), clock=lambda: NOW)


def test_a_state_trained_with_other_settings_is_kept_as_a_backup_before_the_bootstrap(tmp_path, caplog):
    state = tmp_path / "state"
    Detector.fit(service_for(tmp_path, n_trees=7).config.scorer, normal_rows(200)).save(state)
    saved = state.read_bytes()
    (tmp_path / "state.bak").write_text("a backup the user keeps")

    service = service_for(tmp_path)
    with caplog.at_level(logging.WARNING):
        service.start()

    assert service.warm_source == "prometheus"
    backups = [p for p in tmp_path.iterdir() if p.name.startswith("state.") and p.name.endswith(".bak")
               and p.name != "state.bak"]
    assert len(backups) == 1 and backups[0].read_bytes() == saved
    assert (tmp_path / "state.bak").read_text() == "a backup the user keeps"
    assert backups[0].stat().st_mode & 0o777 == 0o600
    assert f"kept as {backups[0]}" in caplog.text and "other settings" in caplog.text
    assert Detector.load(state).config.n_trees == 10  # the bootstrapped model was saved in its place


def test_a_forged_pickle_state_is_set_aside_unread_and_the_scorer_bootstraps(tmp_path, caplog):
    import hashlib
    import json
    import pickle

    class WritesAMarker:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    body = pickle.dumps(WritesAMarker())
    header = {"format": "vigilante-scorer-state", "schema_version": 3, "sha256": hashlib.sha256(body).hexdigest()}
    (tmp_path / "state").write_bytes(json.dumps(header).encode() + b"\n" + body)

    service = service_for(tmp_path)
    with caplog.at_level(logging.WARNING):
        service.start()

    assert not (tmp_path / "ran").exists()
    assert service.warm_source == "prometheus" and "schema version 3" in caplog.text
    assert (tmp_path / "state.bak").read_bytes().endswith(body)


def test_a_state_ahead_of_the_clock_is_set_aside_and_the_scorer_scores(tmp_path, caplog):
    state = tmp_path / "state"
    future = [(NOW + 86_400 + t, v) for t, v in normal_rows(200)]
    Detector.fit(service_for(tmp_path).config.scorer, future).save(state)

    service = service_for(tmp_path)
    with caplog.at_level(logging.WARNING):
        service.start()

    assert service.warm_source == "prometheus"
    assert service.tick(NOW + STEP) == "scored"
    assert "ahead of the clock" in caplog.text and (tmp_path / "state.bak").exists()


def test_a_state_a_few_seconds_ahead_is_still_used(tmp_path):
    rows = [(NOW + 5 - 199 * STEP + t, v) for t, v in normal_rows(200)]  # the last row 5 s after "now"
    Detector.fit(service_for(tmp_path).config.scorer, rows).save(tmp_path / "state")
    service = service_for(tmp_path)
    service.start()
    assert service.warm_source == "state"


def test_a_file_that_is_not_a_state_keeps_the_service_cold_and_is_never_replaced(tmp_path):
    state = tmp_path / "state"
    state.write_text("timestamp,value\n")
    service = service_for(tmp_path)
    service.start()
    assert not service.warm and service.tick(NOW + STEP) == "not_warm"
    assert state.read_text() == "timestamp,value\n"


def test_leftover_temporary_files_of_a_killed_save_are_removed_at_start_and_nothing_else(tmp_path):
    state = tmp_path / "state"
    leftover, recent = tmp_path / ".state.k2_9xq0a", tmp_path / ".state.p3mm71zz"
    others = [tmp_path / ".state.keep", tmp_path / ".other.k2_9xq0a", tmp_path / "state.k2_9xq0a"]
    for path in [leftover, recent, *others]:
        path.write_text("x")
    started = time.time()
    os.utime(leftover, (started - 60, started - 60))  # before this process started
    os.utime(recent, (started + 60, started + 60))  # being written by someone now
    config = Config().replace("scorer", state_path=str(state))

    with prepare_state_file(config, started):
        pass

    assert not leftover.exists()
    assert recent.exists() and all(p.exists() for p in others)


def test_a_second_serve_on_the_same_state_file_refuses_in_one_line(tmp_path):
    prepare_started = time.time()
    with prepare_state_file(Config().replace("scorer", state_path=str(tmp_path / "state")), prepare_started):
        with pytest.raises(OutputError, match="another vigilante command"):
            with prepare_state_file(Config().replace("scorer", state_path=str(tmp_path / "state")), prepare_started):
                pass
    with prepare_state_file(Config().replace("scorer", state_path=str(tmp_path / "state")), prepare_started):
        pass  # released on exit


@pytest.mark.slow
def test_a_second_serve_process_refuses_and_the_first_keeps_its_state(tmp_path):
    state = tmp_path / "state"
    answers = lambda params: vector({"value": 100.0}, float(params.get("time", 0)))  # noqa: E731
    with FakePrometheus(answers) as fake:
        config = one_feature_config(tmp_path / "vigilante.yaml", fake.url, state)
        train(config, state)
        port = free_port()
        first = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                          "--port", str(port)], tmp_path / "scorer.log").start()
        try:
            first.wait_ready(lambda: requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200,
                             60, "ready")
            second = serve_once(config)
            assert first.alive()
        finally:
            first.stop()
    assert_one_line_refusal(second, str(state), "another vigilante command")
    assert "warm from state" in first.log_path.read_text()
    assert Detector.load(state).features == ("value",)
