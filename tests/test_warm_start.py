"""The warm start's training hygiene, through the service's own ``warm_start``.

The Prometheus edge is a recorded history (``between`` answers from a list); the rest is
the code ``vigilante serve`` runs.
"""

import random

from vigilante.config import load_config
from vigilante.prometheus.api import PrometheusQueryError
from vigilante.service.feature_source import FeatureRow
from vigilante.service.warm_start import RATE_WINDOW_SECONDS, warm_start
from vigilante.rules.recording import SHORT_WINDOW

TICK = 5.0
LEVEL = 8.0  # requests per second once the rate window is full


class RecordedHistory:
    """What Prometheus would answer for an app that started at ``appeared``: before, nothing."""

    def __init__(self, appeared: float, until: float, seed: int = 3):
        rng = random.Random(seed)
        self.rows = []
        t = appeared - 120.0
        while t <= until:
            age = t - appeared
            if age < 0:
                values = {"requests_per_second": None, "latency_p95_seconds": None}
            else:
                # a 1m rate climbs from 0 over its first window: the ramp a fresh install records
                filled = min(1.0, (age + TICK) / RATE_WINDOW_SECONDS)
                values = {"requests_per_second": LEVEL * filled * (1 + rng.gauss(0, 0.03)),
                          "latency_p95_seconds": 0.05 * (1 + rng.gauss(0, 0.03))}
            self.rows.append(FeatureRow(t, values))
            t += TICK

    def between(self, start, end, step):
        return [r for r in self.rows if start <= r.timestamp <= end]


def config(tmp_path):
    path = tmp_path / "vigilante.yaml"
    path.write_text(
        "scorer:\n"
        f"  features: [requests_per_second, latency_p95_seconds]\n"
        f"  tick_seconds: {TICK}\n"
        f"  state_path: {tmp_path / 'state.json'}\n"
        "service:\n  bootstrap_hours: 1\n"
    )
    return load_config(str(path), env={})


def test_the_rate_window_is_the_recording_rules_short_window():
    assert SHORT_WINDOW == f"{RATE_WINDOW_SECONDS / 60:g}m"


def test_a_fresh_install_warmed_on_its_first_minutes_catches_a_3x_spike(tmp_path):
    cfg = config(tmp_path)
    appeared = 1_800_000_000.0
    # as soon as there is history enough to warm: the ramp, then 60 ticks of steady traffic
    now = appeared + RATE_WINDOW_SECONDS + 61 * TICK
    warm = warm_start(cfg, RecordedHistory(appeared, now), now)
    assert warm.source == "prometheus"
    detector = warm.detector
    decisions, ratios = [], []
    t = detector.last_timestamp
    for _ in range(12):
        t += TICK
        result = detector.step(t, {"requests_per_second": 3 * LEVEL, "latency_p95_seconds": 0.05})
        decisions.append(result.decision)
        ratios.append(round(result.score / result.threshold, 2))
    assert 1 in decisions, f"score / threshold during the spike: {ratios}"

def test_a_series_present_from_the_window_start_loses_no_row(tmp_path):
    cfg = config(tmp_path)
    appeared = 1_800_000_000.0
    now = appeared + 2 * 3600
    warm = warm_start(cfg, RecordedHistory(appeared, now), now)
    # the window is the last hour: every tick of it is learned (none was filling)
    assert warm.detector.ticks_learned >= 3600 / TICK - 2


class HistoryWithIncidents(RecordedHistory):
    """Steady traffic since long before the window, with two outages and a 3x spike in it."""

    OUTAGES = ((240.0, 330.0), (720.0, 780.0))  # seconds into the history: no requests at all
    SPIKE = (540.0, 600.0)

    def __init__(self, start: float, until: float, seed: int = 5):
        super().__init__(start - 3600.0, until, seed)
        for row in self.rows:
            at = row.timestamp - start
            if any(a <= at < b for a, b in self.OUTAGES):
                row.values.update(requests_per_second=0.0, latency_p95_seconds=None)
            elif self.SPIKE[0] <= at < self.SPIKE[1]:
                row.values["requests_per_second"] *= 3


def test_a_rewarm_from_history_does_not_learn_its_past_incidents_as_normal(tmp_path):
    cfg = config(tmp_path)
    start = 1_800_000_000.0
    now = start + 16 * 60  # a scorer that lost its state re-warms on 16 minutes holding three incidents
    history = HistoryWithIncidents(start, now)
    history.rows = [r for r in history.rows if r.timestamp >= start]
    warm = warm_start(cfg, history, now)
    assert warm.source == "prometheus"
    assert any("past incidents are not learned" in note for note in warm.notes), warm.notes
    detector, t, ratios = warm.detector, warm.detector.last_timestamp, []
    for _ in range(12):
        t += TICK
        result = detector.step(t, {"requests_per_second": 3 * LEVEL, "latency_p95_seconds": 0.05})
        ratios.append(round(result.score / result.threshold, 2))
    assert max(ratios) > 1, f"score / threshold during the next spike: {ratios}"


def test_a_calm_history_loses_no_tick_to_the_incident_screen(tmp_path):
    cfg = config(tmp_path)
    start = 1_800_000_000.0
    now = start + 3600
    warm = warm_start(cfg, RecordedHistory(start - 3600, now, seed=11), now)
    assert not any("past incidents" in note for note in warm.notes), warm.notes


class HistoryOnlyRecent(RecordedHistory):
    """A store that times out on any read reaching further back than two hours."""

    def between(self, start, end, step):
        if end - start > 2 * 3600:
            raise PrometheusQueryError("timeout: query timed out in expression evaluation")
        return super().between(start, end, step)


def test_older_history_that_cannot_be_read_leaves_the_daily_profiles_to_learn_live(tmp_path):
    cfg = config(tmp_path)
    appeared = 1_800_000_000.0
    now = appeared + 3 * 3600
    warm = warm_start(cfg, HistoryOnlyRecent(appeared - 7 * 86400, now), now)
    assert warm.source == "prometheus"  # the bootstrap window was read: the scorer is warm
    assert any("the daily profiles learn the day live" in note and "query timed out" in note for note in warm.notes)
    assert not any(m.trusted for m in warm.detector.seasonal.values())
