import pytest

from scripts.scenarios import ANOMALY_KINDS, FEATURES, NORMAL_KINDS, TICK_SECONDS, TICKS_PER_DAY, generate


@pytest.fixture(scope="module")
def scenario():
    return generate(seed=3, days=4, anomalies_per_kind=1, normals_per_kind=1)


def test_rows_are_one_per_tick_with_every_feature(scenario):
    assert len(scenario.rows) == 4 * TICKS_PER_DAY
    stamps = [r["timestamp"] for r in scenario.rows]
    assert all(b - a == TICK_SECONDS for a, b in zip(stamps, stamps[1:]))
    assert all(set(r) == {"timestamp", *FEATURES} for r in scenario.rows)


def test_events_are_labelled_after_training_and_do_not_overlap(scenario):
    events = scenario.events
    assert {e.kind for e in events} <= set(ANOMALY_KINDS) | set(NORMAL_KINDS)
    assert any(e.kind == "level_shift" for e in events)
    assert all(e.start >= scenario.train_rows for e in events)
    assert all(a.end <= b.start for a, b in zip(events, events[1:]))


def test_gaps_are_empty_cells_and_only_there(scenario):
    gap_ticks = {i for e in scenario.events if e.kind == "gap" for i in range(e.start, e.end)}
    empty = {i for i, r in enumerate(scenario.rows) if r["requests_per_second"] is None}
    assert empty == gap_ticks


def test_a_spike_multiplies_traffic_and_an_error_burst_raises_the_error_ratio():
    s = generate(seed=5, days=8)
    rps = s.column("requests_per_second")
    ratio = s.column("error_ratio")
    for e in s.events:
        before = [v for v in rps[e.start - 40 : e.start - 4] if v is not None]
        during = [v for v in rps[e.start + 4 : e.end] if v is not None]
        if e.kind == "spike":
            assert min(during) > 2 * max(before)
        if e.kind == "error_burst":
            assert min(ratio[e.start + 4 : e.end]) > 0.02  # floor 0.05, binomial noise


def test_same_seed_same_scenario():
    assert generate(seed=9, days=2).rows == generate(seed=9, days=2).rows


def test_a_scrape_glitch_is_one_tick_of_no_traffic_labelled_normal(scenario):
    glitches = [e for e in scenario.events if e.kind == "scrape_glitch"]
    assert len(glitches) == 1 and all(e.end == e.start + 1 and not e.is_anomaly for e in glitches)
    row = scenario.rows[glitches[0].start]
    assert row["requests_per_second"] == row["errors_per_second"] == 0.0
    assert row["error_ratio"] is row["latency_p50_seconds"] is row["latency_p95_seconds"] is None
    assert min(r["requests_per_second"] for r in scenario.rows[glitches[0].start - 8 : glitches[0].start]) > 0

