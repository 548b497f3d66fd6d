"""``instrument()`` in an app factory that a test suite calls once per test, on the default registry.

Every app built in one process shares one set of request collectors per registry, so the
second app neither fails nor starts a second, clashing set; each app's requests are counted
once. The foreign app and its own suite are in :mod:`tests.fixtures.flaskr_style`; they run in a
subprocess so that the default registry starts empty, as in the app's own test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry

from tests.fixtures.flaskr_style import copy_project
from tests.support import REPO_ROOT
from tests.support.metrics import total, value
from vigilante.attach.instrumentation import InstrumentationError, instrument
from vigilante.config import load_config


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the add-on's or prometheus_client's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGILANTE_", "PROMETHEUS_MULTIPROC"))}
    return {**env, **extra}


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=120)


def test_a_flaskr_style_suite_with_instrument_in_its_factory_passes_unchanged(tmp_path):
    project = copy_project(tmp_path / "flaskr-project")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
                         cwd=project, env=clean_env(), capture_output=True, text=True, timeout=300)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 20 and "error" not in summary and "failed" not in summary, summary


TWO_APPS = """
    import json, tempfile
    from flaskr import create_app
    from flaskr.db import init_db

    def build():
        app = create_app({"TESTING": True, "DATABASE": tempfile.mkstemp(dir=".")[1]})
        with app.app_context():
            init_db()
        return app

    first, second = build(), build()
    sent = {"first": {"/hello": 7, "/auth/login": 3, "/nowhere": 2}, "second": {"/hello": 5, "/auth/register": 4}}
    for app, paths in ((first, sent["first"]), (second, sent["second"])):
        client = app.test_client()
        for path, count in paths.items():
            for _ in range(count):
                client.get(path)
    pages = [app.test_client().get("/metrics").get_data(as_text=True) for app in (first, second)]
    print(json.dumps({"sent": sent, "pages": pages}))
"""


def test_two_instances_on_the_default_registry_count_every_request_once(tmp_path):
    project = copy_project(tmp_path / "flaskr-project")
    run = run_python(TWO_APPS, project, PYTHONPATH=f"{project}:{REPO_ROOT}")
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    first, second = result["pages"]
    sent = result["sent"]
    # One registry, one page: either app's /metrics shows both apps' requests, each counted once.
    for page in (first, second):
        assert total(page, "flask_http_request_total") == sum(sum(p.values()) for p in sent.values())
        assert total(page, "flask_http_request_total", status="404") == sent["first"]["/nowhere"]
        count = "flask_http_request_duration_seconds_count"
        assert value(page, count, method="GET", url_rule="/hello", status="200") == 7 + 5
        assert value(page, count, method="GET", url_rule="/auth/login", status="200") == 3
        assert value(page, count, method="GET", url_rule="/auth/register", status="200") == 4
        assert value(page, "flask_app_info", version="1.0.0", vigilante_version=load_version()) == 1


def load_version() -> str:
    from vigilante.version import __version__

    return __version__


MULTIPROCESS_TWO_APPS = """
    from flask import Flask
    from prometheus_client import CollectorRegistry, multiprocess
    from vigilante.attach.instrumentation import instrument

    def build():
        app = Flask("shop")
        app.get("/ping")(lambda: "pong")
        instrument(app, version="1")
        return app

    first, second = build(), build()
    # Interleaved, as a worker serving both apps would: each request to one app after one to the other.
    for app in (first, second) * 3 + (second,):
        app.test_client().get("/ping")
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    print(merged.get_sample_value("flask_http_request_total", {"method": "GET", "status": "200"}))
"""


def test_two_instances_in_one_worker_process_lose_no_count_in_multiprocess_mode(tmp_path):
    directory = tmp_path / "multiproc"
    directory.mkdir()
    run = run_python(MULTIPROCESS_TWO_APPS, tmp_path, PYTHONPATH=str(REPO_ROOT), PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert run.returncode == 0, run.stderr[-3000:]
    assert float(run.stdout.strip()) == 3 + 4


MULTIPROCESS_FIRST_REQUEST = """
    from flask import Flask
    from prometheus_client import CollectorRegistry, multiprocess
    from vigilante.attach.instrumentation import instrument

    app = Flask("shop")
    app.get("/ping")(lambda: "pong")
    instrument(app, version="1")
    app.test_client().get("/ping")
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    labels = {"method": "GET", "url_rule": "/ping"}
    print([merged.get_sample_value("flask_http_request_duration_seconds_count", {**labels, "status": status})
           for status in ("200", "500")])
"""


def test_the_zeroed_500_series_reach_the_merged_page_in_multiprocess_mode(tmp_path):
    # What the workers write is what gunicorn's /metrics merges: the 500 series must be there at 0.
    directory = tmp_path / "multiproc"
    directory.mkdir()
    run = run_python(MULTIPROCESS_FIRST_REQUEST, tmp_path, PYTHONPATH=str(REPO_ROOT),
                     PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[1.0, 0.0]"


def tiny_app() -> Flask:
    app = Flask("tiny")
    app.get("/ping")(lambda: "pong")
    return app


def test_apps_sharing_a_registry_each_count_their_own_requests():
    registry = CollectorRegistry()
    apps = [tiny_app() for _ in range(25)]
    for app in apps:
        instrument(app, load_config(env={}), registry=registry)
    for count, app in enumerate(apps, start=1):
        client = app.test_client()
        for _ in range(count):
            assert client.get("/ping").status_code == 200
    assert registry.get_sample_value("flask_http_request_total", {"method": "GET", "status": "200"}) == sum(range(26))


def test_a_second_instrument_on_the_same_app_is_a_clear_error_and_counts_nothing_twice():
    registry = CollectorRegistry()
    app = tiny_app()
    instrument(app, load_config(env={}), registry=registry)
    with pytest.raises(InstrumentationError, match="already instrumented"):
        instrument(app, load_config(env={}), registry=CollectorRegistry())
    app.test_client().get("/ping")
    assert registry.get_sample_value("flask_http_request_total", {"method": "GET", "status": "200"}) == 1


def test_apps_on_one_registry_with_other_buckets_are_refused_with_the_way_out():
    registry = CollectorRegistry()
    config = load_config(env={})
    instrument(tiny_app(), config, registry=registry)
    other = config.replace("app", latency_buckets=[0.5, 1.0])
    with pytest.raises(InstrumentationError, match=r"other latency_buckets.*registry=prometheus_client.CollectorRegistry"):
        instrument(tiny_app(), other, registry=registry)
