"""The harness runs the real Prometheus, promtool, Alertmanager and gunicorn, and cleans up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scripts.harness import (PROMETHEUS, MissingBinaryError, PrometheusServer, find_binary, port_is_free, promtool,
                             static_scrape_config, wait_until)

from tests.support import REPO_ROOT


def test_prometheus_scrapes_an_app_started_under_gunicorn(prometheus_factory, gunicorn_factory):
    app = gunicorn_factory(app="tests.fixtures.tiny_app:app", ready_path="/")
    prom = prometheus_factory(scrape_configs=[
        static_scrape_config("tiny", [app.url.split("//")[1]], {"namespace": "test", "pod": "tiny-0"})])

    result = prom.wait_for('tiny_app_hits_total{job="tiny"}', timeout=30)

    assert result[0]["metric"]["namespace"] == "test"
    assert result[0]["metric"]["pod"] == "tiny-0"
    assert float(result[0]["value"][1]) >= 3  # the app counted 3 at import, plus our readiness probe


def test_promtool_accepts_a_good_rule_file_and_rejects_a_bad_one(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(textwrap.dedent("""\
        groups:
          - name: example
            rules:
              - record: job:up:sum
                expr: sum by (job) (up)
    """))
    bad = tmp_path / "bad.yml"
    bad.write_text(good.read_text().replace("sum by (job) (up)", "sum by (job) (up"))

    assert promtool("check", "rules", str(good)).returncode == 0
    failed = promtool("check", "rules", str(bad))
    assert failed.returncode != 0
    assert "unclosed left parenthesis" in failed.stdout + failed.stderr


def test_alertmanager_delivers_a_posted_alert_to_the_webhook(alertmanager, webhook_receiver):
    alertmanager.post_alert({"alertname": "HarnessTest", "severity": "info"}, {"summary": "a test alert"})

    notification = webhook_receiver.wait_for(
        lambda item: any(a["labels"].get("alertname") == "HarnessTest" for a in item["body"].get("alerts", [])),
        timeout=30, what="the HarnessTest notification")

    assert notification["body"]["status"] == "firing"
    assert webhook_receiver.alerts()[0]["annotations"]["summary"] == "a test alert"


def test_a_failing_test_leaves_no_process_behind(tmp_path):
    # A test that starts Prometheus and then fails, run in its own pytest process.
    pid_file = tmp_path / "pid"
    port_file = tmp_path / "port"
    test_file = tmp_path / "test_fails.py"
    test_file.write_text(textwrap.dedent(f"""\
        from pathlib import Path

        def test_fails(prometheus_factory):
            prom = prometheus_factory()
            Path({str(pid_file)!r}).write_text(str(prom.process.pid))
            Path({str(port_file)!r}).write_text(str(prom.port))
            assert False, "this test fails on purpose"
    """))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "tests.conftest", "--rootdir", str(tmp_path),
         "-o", "addopts=", "-o", "timeout=120"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

    assert run.returncode == 1, run.stdout + run.stderr
    assert "this test fails on purpose" in run.stdout
    pid = int(pid_file.read_text())
    wait_until(lambda: not _running(pid), timeout=10, what=f"Prometheus pid {pid} to be gone")
    assert port_is_free(int(port_file.read_text()))


def test_a_missing_binary_names_the_package_and_the_override(tmp_path):
    with pytest.raises(MissingBinaryError) as err:
        find_binary(PROMETHEUS, env={"PATH": str(tmp_path)})

    message = str(err.value)
    assert "apt-get install -y prometheus" in message
    assert "PROMETHEUS_BIN" in message


def test_a_bad_override_is_reported(tmp_path):
    with pytest.raises(MissingBinaryError, match="PROMETHEUS_BIN=.*not an executable"):
        find_binary(PROMETHEUS, env={"PROMETHEUS_BIN": str(tmp_path / "nope"), "PATH": ""})


def test_prometheus_that_cannot_start_fails_fast_with_its_log(tmp_path):
    server = PrometheusServer(tmp_path, extra_args=["--no-such-flag"])

    with pytest.raises(RuntimeError, match="exited with code"):
        server.start(timeout=30)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purpose.
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


def test_a_process_started_twice_is_refused_and_the_first_still_stops(tmp_path):
    from scripts.harness import AlreadyStartedError, ManagedProcess

    process = ManagedProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log").start()
    first = process.popen
    try:
        with pytest.raises(AlreadyStartedError, match=rf"sleeper is already running \(pid {first.pid}\)"):
            process.start()
        assert process.popen is first
    finally:
        process.stop()
    assert first.poll() is not None
    process.start().stop()  # once stopped, it may run again


def test_a_prometheus_started_twice_is_refused_and_stop_leaves_none_running(prometheus_factory):
    from scripts.harness import AlreadyStartedError

    prometheus = prometheus_factory()
    first = prometheus.process.popen
    with pytest.raises(AlreadyStartedError, match="prometheus is already running"):
        prometheus.start()
    prometheus.stop()
    assert first.poll() is not None and port_is_free(prometheus.port)
