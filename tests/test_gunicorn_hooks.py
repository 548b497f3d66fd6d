"""The gunicorn hooks for multiprocess metrics, alone and under a real gunicorn with several workers."""

from __future__ import annotations

import os
import signal
import textwrap
from types import SimpleNamespace

# prometheus_client picks single- or multiprocess values once, when first imported: import it
# before a test here sets PROMETHEUS_MULTIPROC_DIR, or every later metric in this process
# would write to a directory that is gone.
import prometheus_client.multiprocess  # noqa: F401
import pytest
import requests

from vigilante.attach.gunicorn_hooks import prepare_multiproc_dir
from vigilante.gunicorn_hooks import child_exit, on_starting, when_ready
from scripts.harness import wait_until
from tests.support.metrics import scrape, total, value
from tests.support.workers import wait_for_workers, worker_pids


class FakeLog:
    def __init__(self):
        self.lines = []

    def info(self, *args):
        self.lines.append(args)


def test_prepare_removes_stale_files_and_creates_the_directory(tmp_path):
    directory = tmp_path / "multiproc"
    assert prepare_multiproc_dir({"PROMETHEUS_MULTIPROC_DIR": str(directory)}) == directory
    (directory / "counter_1.db").write_bytes(b"x")
    (directory / "keep.txt").write_text("not ours")
    prepare_multiproc_dir({"PROMETHEUS_MULTIPROC_DIR": str(directory)})
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]


def test_hooks_do_nothing_in_single_process_mode(monkeypatch, tmp_path):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    marked = []
    monkeypatch.setattr(prometheus_client.multiprocess, "mark_process_dead", lambda pid, path=None: marked.append(pid))
    assert prepare_multiproc_dir() is None
    server = SimpleNamespace(log=FakeLog())
    on_starting(server)
    when_ready(server)
    child_exit(server, SimpleNamespace(pid=123))
    assert server.log.lines == [] and marked == [] and list(tmp_path.iterdir()) == []


def test_child_exit_drops_the_dead_workers_live_gauges_in_multiprocess_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    marked = []
    monkeypatch.setattr(prometheus_client.multiprocess, "mark_process_dead", lambda pid, path=None: marked.append(pid))
    server = SimpleNamespace(log=FakeLog())
    on_starting(server)
    child_exit(server, SimpleNamespace(pid=123))
    assert marked == [123] and len(server.log.lines) == 1


def test_when_ready_refuses_a_vanished_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "gone"))
    with pytest.raises(RuntimeError, match="not a writable directory"):
        when_ready(SimpleNamespace(log=FakeLog()))


def test_child_exit_drops_the_dead_workers_live_gauges(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "gauge_livesum_7.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")
    child_exit(SimpleNamespace(log=FakeLog()), SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_livesum_7.db"]



MINIMAL_APP = textwrap.dedent('''
    import os
    from flask import Flask
    from prometheus_client import Gauge
    from vigilante.attach.instrumentation import instrument

    def create_app():
        app = Flask("minimal")
        metrics = instrument(app, version="1.0")
        in_flight = Gauge("minimal_worker_up", "1 per live worker", multiprocess_mode="livesum")
        in_flight.set(1)

        @app.route("/pid")
        def pid():
            return str(os.getpid())

        @app.route("/healthz")
        def healthz():
            return "ok"

        return app
''')


@pytest.mark.slow
def test_multiprocess_metrics_add_up_across_workers_and_survive_a_worker_restart(gunicorn_factory, tmp_path):
    (tmp_path / "minimal_app.py").write_text(MINIMAL_APP)
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    (multiproc / "counter_99999.db").write_bytes(b"stale run")
    server = gunicorn_factory(app="minimal_app:create_app()", workers=3, threads=1, config_file=conf,
                              env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc),
                                   "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert not (multiproc / "counter_99999.db").exists(), "on_starting must clear the previous run's files"
    wait_for_workers(server.process.pid, 3)

    def live_workers(text: str) -> float | None:
        return value(text, "minimal_worker_up")

    wait_until(lambda: live_workers(scrape(server.url)) == 3, 20, "every worker to load the app")
    for _ in range(30):
        requests.get(f"{server.url}/pid", timeout=5)
    assert total(scrape(server.url), "flask_http_request_total") == 30

    victim = worker_pids(server.process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for_workers(server.process.pid, 3, without=(victim,))  # gunicorn replaced the killed worker
    for _ in range(10):
        requests.get(f"{server.url}/pid", timeout=5)
    # Counters of the dead worker are kept (no lost requests); its live gauge is gone (child_exit).
    metrics = wait_until(lambda: (lambda t: t if live_workers(t) == 3 else None)(scrape(server.url)), 10,
                         "the live gauge to count 3 workers again")
    assert total(metrics, "flask_http_request_total") == 40
