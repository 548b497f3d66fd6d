"""What the README states in prose, checked against what it describes: each claim here fails when untrue.

The figures that come from a benchmark are checked in ``test_readme_figures.py``; the
commands of the README's steps are run by ``test_readme_attach.py`` and ``test_readme_trial.py``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import textwrap

import pytest

from vigilante.config import load_config
from scripts.demo import QUICK_PLAN

from tests.support import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
ENV_EXAMPLE = re.compile(r"\b(VIGILANTE_[A-Z]+__[A-Z_]+)=([^\s`'\"]+)")


def section(title: str, text: str = README) -> str:
    """The README's text from a heading line to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert match, f"README has no heading {title!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text[match.end():], re.M)
    return text[match.end(): match.end() + end.start() if end else len(text)]


# --- configuration examples -------------------------------------------------------------------

def test_the_readme_shows_environment_variable_examples():
    assert len(ENV_EXAMPLE.findall(README)) >= 2


@pytest.mark.parametrize("name, value", sorted(set(ENV_EXAMPLE.findall(README))))
def test_every_vigilante_variable_example_in_the_readme_is_accepted_by_the_configuration(name, value):
    load_config(env={name: value})  # raises ConfigError, naming the variable, when it is refused


# --- the demo: how long it takes, how soon it resolves ------------------------------------------

def _wall_minutes(text: str) -> list[float]:
    return [int(m) + int(s) / 60 for m, s in re.findall(r"\| (\d+) min (\d+) s \|", text)]


def test_the_demos_duration_is_the_same_in_the_readme_the_makefile_and_the_measured_runs():
    makefile = (REPO_ROOT / "Makefile").read_text()
    [stated_by_make] = re.findall(r"^demo:.*\(about (\d+) minutes\)", makefile, re.M)
    stated = re.findall(r"make demo +# about ([\d–-]+) minutes", README)
    assert stated and set(stated) == {stated_by_make}, (stated, stated_by_make)
    measured = _wall_minutes(section("Figures"))
    assert len(measured) >= 3 and round(statistics.median(measured)) == int(stated_by_make), measured


def test_the_stated_resolution_times_span_the_measured_runs():
    figures = section("Figures")
    runs = figures[: figures.index("No NaN score")]
    resolved = [float(r) for _, r in re.findall(r"(\d+\.\d) s / (\d+\.\d) s", runs)]
    assert len(resolved) >= 10
    low, high = re.search(r"resolved (\d+)–(\d+) s after the fault's end", figures).groups()
    assert (int(low), int(high)) == (int(min(resolved)), round(max(resolved) + 0.5)), sorted(resolved)


def test_the_end_to_end_tests_notification_bound_is_the_condensed_plans():
    text = section("End-to-end test")
    stated = re.search(r"the spike is\s+notified within (\d+) s", text)
    assert stated and float(stated.group(1)) == QUICK_PLAN.notification_deadline_seconds
    assert f"{QUICK_PLAN.training_seconds:g} s of\ntraining" in text or \
        f"{QUICK_PLAN.training_seconds:g} s of training" in text.replace("\n", " ")


# --- multiprocess mode has no process metrics ---------------------------------------------------

SCRAPE = textwrap.dedent("""
    import os, sys
    from flask import Flask
    from vigilante import instrument
    from vigilante.config import load_config
    app = Flask("claims")
    app.add_url_rule("/", "home", lambda: "ok")
    instrument(app, load_config(env={}))
    client = app.test_client()
    client.get("/")
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
""")


def _scrape(tmp_path, multiprocess: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiprocess:
        (tmp_path / "multiproc").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "multiproc")
    run = subprocess.run([sys.executable, "-c", SCRAPE], capture_output=True, text=True, timeout=60, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "flask_http_request_total" in run.stdout
    return run.stdout


def test_process_metrics_are_exported_with_threads_and_not_in_multiprocess_mode(tmp_path):
    assert "(`process_cpu_seconds_total`, …) are not exported in multiprocess mode" in " ".join(README.split())
    assert re.search(r"^process_cpu_seconds_total ", _scrape(tmp_path, multiprocess=False), re.M)
    assert "process_cpu_seconds_total" not in _scrape(tmp_path, multiprocess=True)


# --- `vigilante serve` at start-up ---------------------------------------------------------------

def _nothing(params):
    """A Prometheus with no series at all: every check of `vigilante check` fails."""
    kind = "matrix" if "start" in params else "vector"
    return {"status": "success", "data": {"resultType": kind, "result": []}}


def test_serve_logs_the_failing_start_up_checks_and_what_tick_seconds_made_of_each_window(tmp_path):
    from scripts.harness.process import ManagedProcess, free_port
    from tests.fixtures.fake_prometheus import FakePrometheus
    from tests.scorer_process import one_feature_config

    assert "`serve`\n   runs the same checks at start-up and logs the ones that fail" in README
    assert "`vigilante serve --tick-seconds 1` still works, as `trial.time_scale` 15 for `serve` alone" in README
    with FakePrometheus(_nothing) as fake:
        config = one_feature_config(tmp_path / "vigilante.yaml", fake.url, tmp_path / "state",
                                    scorer={"tick_seconds": 15})
        scorer = ManagedProcess("scorer", [sys.executable, "-m", "vigilante.cli", "serve", "--config", str(config),
                                           "--port", str(free_port()), "--tick-seconds", "1"],
                                tmp_path / "scorer.log").start()
        try:
            scorer.wait_ready(lambda: scorer.log_path.read_text().count("start-up check:") >= 2, 30,
                              "the start-up check's warnings")
        finally:
            scorer.stop()
    log = scorer.log_path.read_text()
    assert "--tick-seconds 1 is trial.time_scale 15" in log
    assert re.search(r"baseline half-life [\d.]+ s, bootstrap 8 min\); as shipped: the hold \(2 s\)", log)  # each window
    assert "WARNING vigilante" in log and "start-up check: app series: no flask_http_request" in log
