"""Features read from the real Prometheus: one tick, a backfilled range, gaps, NaN and ambiguity."""

from __future__ import annotations

import time

import pytest

from vigilante.service.feature_source import AmbiguousFeatureError, FeatureSource
from vigilante.prometheus.api import PrometheusAPI
from scripts.harness import PrometheusServer, backfill_openmetrics

STEP = 15.0


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Prometheus holding one hour of two features at 15 s, with a 10-minute hole in one of them."""
    workdir = tmp_path_factory.mktemp("history")
    end = (time.time() // STEP) * STEP - 300
    start = end - 3600
    lines = ["# TYPE load gauge", "# TYPE latency gauge"]
    stamps = [start + i * STEP for i in range(int(3600 / STEP) + 1)]
    hole = (start + 1200, start + 1800)
    for i, t in enumerate(stamps):
        lines.append(f'load{{job="app"}} {10 + i % 4} {t:.0f}')
    for i, t in enumerate(stamps):
        if not hole[0] <= t < hole[1]:
            lines.append(f'latency{{job="app"}} {0.1 * (1 + i % 2)} {t:.0f}')
    backfill_openmetrics("\n".join(lines) + "\n", workdir / "data", workdir)
    server = PrometheusServer(workdir, data_dir=workdir / "data").start()
    yield server, start, end, hole
    server.stop()


def test_a_range_reads_every_tick_and_marks_the_hole_as_gaps(history):
    server, start, end, hole = history
    source = FeatureSource(PrometheusAPI(server.url), {"load": 'load{job="app"}', "latency": 'latency{job="app"}'})

    rows = source.between(start, end, STEP)

    assert len(rows) == 241
    assert [r.values["load"] for r in rows[:5]] == [10, 11, 12, 13, 10]
    assert rows[1].values["latency"] == pytest.approx(0.2)
    # Backfilled samples carry no staleness markers: Prometheus's 5-minute look-back fills
    # the first 5 minutes of the hole with the last value, then the gap shows.
    in_hole = [r for r in rows if hole[0] + 300 < r.timestamp < hole[1]]
    assert in_hole and all(r.values["latency"] is None and not r.complete for r in in_hole)
    assert all(r.complete for r in rows if r.timestamp < hole[0])


def test_one_tick_reads_every_feature(history):
    server, start, end, hole = history
    source = FeatureSource(PrometheusAPI(server.url), {"load": 'load{job="app"}', "scaled": 'load{job="app"} * 2'})

    row = source.at(start + 2 * STEP)

    assert row.values == {"load": 12.0, "scaled": 24.0}


def test_empty_nan_and_infinite_results_are_gaps(history):
    server, *_ = history
    source = FeatureSource(PrometheusAPI(server.url),
                           {"empty": 'load{job="none"}', "nan": "vector(0) / 0", "inf": "vector(1) / 0"})

    assert source.at(time.time()).values == {"empty": None, "nan": None, "inf": None}


def test_a_query_matching_several_series_is_a_configuration_error(history):
    server, start, *_ = history
    source = FeatureSource(PrometheusAPI(server.url), {"load": '{job="app"}'})

    with pytest.raises(AmbiguousFeatureError, match="returned 2 series.*narrow its selector"):
        source.at(start)


def test_a_range_longer_than_prometheus_answers_at_once_is_read_in_chunks():
    from tests.fixtures.fake_prometheus import FakePrometheus

    asked: list[tuple[float, float, float]] = []

    def answer(params):
        start, end, step = (float(params[k]) for k in ("start", "end", "step"))
        points = int((end - start) // step) + 1
        if points > 11_000:  # what Prometheus itself answers
            return {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution of 11,000 "
                    "points per timeseries. Try decreasing the query resolution (?step=XX)"}
        asked.append((start, end, step))
        return {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"vigilante_feature": "load"}, "values": [[start + i * step, str(start + i * step)]
                                                                  for i in range(points)]}]}}

    start = 1_700_000_000.0
    hours = 50.0  # 12,001 ticks at 15 s: above the 11,000 points one range query may have
    with FakePrometheus(answer) as fake:
        rows = FeatureSource(PrometheusAPI(fake.url, retries=0), {"load": "load"}).between(
            start, start + hours * 3600, STEP)
    assert len(rows) == 12_001 and all(r.values["load"] == r.timestamp for r in rows)
    assert len(asked) == 2 and all((end - begin) / step + 1 <= 11_000 for begin, end, step in asked)
    assert asked[0][0] == start and asked[-1][1] == start + hours * 3600
