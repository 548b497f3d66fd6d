"""``vigilante check`` against a real Prometheus scraping a real foreign-style app.

The app answers in about a millisecond, below the default first bucket (5 ms): the check must
say so and suggest buckets; a wrong job must be named with the jobs that do exist; a young
install must be told how long to wait.
"""

from __future__ import annotations


import pytest

from vigilante.cli import main
from vigilante.config import load_config
from vigilante.service.setup_check import run_checks
from scripts.harness import GunicornServer, PrometheusServer
from tests.traffic import paced_traffic
from tests.user_commands import prometheus_config

pytestmark = pytest.mark.slow

CONFIG = ("app:\n  job: foreign-check\n  namespace: foreign\n"
          "prometheus:\n  scrape_interval_seconds: 1\n  evaluation_interval_seconds: 1\n  url: {url}\n"
          "scorer:\n  state_path: {state}\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("check")
    config_path = work / "vigilante.yaml"
    config_path.write_text(CONFIG.format(url="http://127.0.0.1:1", state=work / "state.json"))
    app = GunicornServer(work / "app", app="tests.fixtures.foreign_app:create_app()",
                         env={"VIGILANTE_CONFIG": str(config_path)}).start()
    prometheus = None
    try:
        out = work / "prometheus-config"
        prometheus = PrometheusServer(work / "prometheus", config_file=prometheus_config(config_path, app.url, out)).start()
        prometheus.targets_up(1)
        config_path.write_text(CONFIG.format(url=prometheus.url, state=work / "state.json"))
        paced_traffic(app.url, 20, 8, ["/shop/items/1", "/shop/items/2"])
        prometheus.wait_for('sum(rate(flask_http_request_duration_seconds_count{job="foreign-check"}[5m])) > 0')
        prometheus.wait_for('namespace_job:flask_http_requests:rate1m{job="foreign-check"}')
        yield {"config_path": config_path, "prometheus": prometheus}
    finally:
        if prometheus:
            prometheus.stop()
        app.stop()


def findings(config):
    from vigilante.prometheus.api import PrometheusAPI

    return {f.check: f for f in run_checks(config, PrometheusAPI(config.prometheus.url))}


def test_a_fast_app_is_told_its_buckets_miss_its_median_and_a_new_install_how_long_to_wait(stack):
    found = findings(load_config(stack["config_path"], env={}))
    assert found["app series"].ok and found["recording rules"].ok
    buckets = found["latency buckets"]
    assert not buckets.ok and "below the first bucket (0.005 s;" in buckets.message
    assert "restart the app" not in buckets.message
    assert "Set app.latency_buckets to e.g. [" in buckets.message
    history = found["history"]
    assert not history.ok and "the scorer warms after 15 min (60 ticks of 15 s): wait" in history.message


def test_buckets_are_judged_as_the_app_exports_them_and_a_stale_app_is_named(stack):
    config = load_config(stack["config_path"], env={}).replace(
        "app", latency_buckets=[0.00001, 0.00005, 0.0001, 0.00025, 0.5, 1.0])
    buckets = findings(config)["latency buckets"]
    assert not buckets.ok and "below the first bucket (0.005 s;" in buckets.message
    assert "restart the app after changing app.latency_buckets" in buckets.message


def test_a_wrong_job_names_the_jobs_that_do_export_the_histogram(stack, capsys):
    path = stack["config_path"].with_name("wrong.yaml")
    path.write_text(stack["config_path"].read_text().replace("job: foreign-check", "job: my-app"))
    assert main(["check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert 'FAIL app series: no flask_http_request_duration_seconds_count with namespace="foreign", job="my-app"' in out
    assert 'Prometheus has flask_http_request_duration_seconds_count under: job="foreign-check", namespace="foreign"' in out


def test_an_unreachable_prometheus_is_one_failed_finding(tmp_path, capsys):
    path = tmp_path / "v.yaml"
    path.write_text("prometheus:\n  url: http://127.0.0.1:1\n")
    assert main(["check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL prometheus: http://127.0.0.1:1" in out and "0 of 1 checks passed" in out


def test_a_backfilled_history_longer_than_the_need_is_enough_to_warm(tmp_path):
    import time

    from vigilante.prometheus.api import PrometheusAPI
    from vigilante.rules.recording import RecordedSeries
    from vigilante.service.setup_check import check_history
    from scripts.harness import backfill_openmetrics

    config = load_config(env={}).replace("scorer", state_path=str(tmp_path / "no-state.json"))
    name = RecordedSeries(config).requests("1m")
    tick = config.scorer.tick_seconds
    now = time.time() // tick * tick
    start = now - 40 * 60  # 40 min of recorded features; the model needs 15
    lines = [f"# TYPE {name} gauge"] + [
        f'{name}{{namespace="{config.app.namespace}",job="{config.app.job}"}} 5 {start + i * tick:.0f}'
        for i in range(int((now - start) / tick) + 1)]
    backfill_openmetrics("\n".join(lines), tmp_path / "data", tmp_path)
    prometheus = PrometheusServer(tmp_path / "prometheus", data_dir=tmp_path / "data").start()
    try:
        finding = check_history(config.replace("prometheus", url=prometheus.url), PrometheusAPI(prometheus.url), now)
    finally:
        prometheus.stop()
    assert finding.ok and finding.message == ("40 min of recorded features: enough to warm (needs 15 min; "
                                              "trains on up to 2 h)")
