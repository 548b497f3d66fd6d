"""Tiers of the detection benchmark beyond the generator's 15 s rows: the same scenarios as
series nobody tuned for, scored in seconds, not ticks.

- ``15 s``: the scenario as generated (the standard tier, for comparison);
- ``1 min`` and ``5 min``: every 4th and every 20th row, as a file of coarser rows would be
  (an event shorter than the spacing may have no row inside it and is not counted);
- ``irregular``: 15 s rows with gaps (runs of missing rows up to 10 minutes), repeated rows
  and rows earlier than the one before, which the scorer skips as ``vigilante backtest`` does;
- ``flat``: an app faster than the first latency bucket (both latency quantiles are values
  interpolated inside it, nearly constant, so latency anomalies cannot show), trained on 3
  minutes in compressed time: rows 1 s apart and every scorer window 15 times shorter, so 180
  training rows stand for 45 minutes of 15 s ticks. False episodes are per week of those
  15 s ticks;
- ``recorded`` (run once, not per seed): the labelled runs of ``scripts/record_series.py``
  under ``tests/fixtures/recorded/``, what Prometheus recorded from the real stack.

Per tier: recall, the lowest recall of a kind, the median delay from onset to the first
decision 1 in seconds, false alert episodes per week, and the longest false episode in
minutes. An event counts as detected when the decision is 1 from its onset to 2 minutes
after its end (the 1-minute rates' tail).

    >>> from scripts.scenarios import generate
    >>> sc = generate(7, days=2, anomalies_per_kind=1, normals_per_kind=1)
    >>> coarse = resample(sc, 20)
    >>> len(coarse.rows), coarse.train_rows, coarse.rows[1]["timestamp"] - coarse.rows[0]["timestamp"]
    (576, 288, 300)
"""

from __future__ import annotations

import bisect
import json
import math
import random
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vigilante.config import Config, ScorerConfig, time_scaled
from vigilante.scorer import Detector
from vigilante.scorer.series import clock_order, read_series
from scripts.scenarios import TICK_SECONDS, Event, Scenario

GRACE_SECONDS = 120.0
FLAT_TRAIN_ROWS = 180
COMPRESSION = 15.0


@dataclass
class TierOutcome:
    detected: dict[str, list[bool]] = field(default_factory=dict)
    delays_seconds: list[float] = field(default_factory=list)
    false_episodes: int = 0
    false_minutes: list[float] = field(default_factory=list)
    weeks: float = 0.0

    def add(self, other: "TierOutcome") -> None:
        for kind, hits in other.detected.items():
            self.detected.setdefault(kind, []).extend(hits)
        self.delays_seconds += other.delays_seconds
        self.false_episodes += other.false_episodes
        self.false_minutes += other.false_minutes
        self.weeks += other.weeks

    def summary(self) -> dict:
        per_kind = {k: sum(v) / len(v) for k, v in self.detected.items() if v}
        hits = [h for v in self.detected.values() for h in v]
        return {"events": len(hits), "recall": round(sum(hits) / len(hits), 3) if hits else None,
                "min_kind_recall": round(min(per_kind.values()), 3) if per_kind else None,
                "lowest_kind": min(per_kind, key=per_kind.get) if per_kind else None,
                "median_delay_seconds": round(statistics.median(self.delays_seconds), 1) if self.delays_seconds else None,
                "false_per_week": round(self.false_episodes / self.weeks, 2) if self.weeks else None,
                "longest_false_episode_minutes": round(max(self.false_minutes), 1) if self.false_minutes else 0.0}


def resample(sc: Scenario, every: int) -> Scenario:
    """Every ``every``-th row; events re-indexed on the rows kept (dropped when none falls inside)."""
    events = []
    for e in sc.events:
        start, end = math.ceil(e.start / every), math.ceil(e.end / every)
        if end > start:
            events.append(Event(e.kind, start, end))
    return Scenario(sc.seed, sc.rows[::every], sc.train_rows // every, events)


def irregular(sc: Scenario, seed: int) -> tuple[list[dict], int]:
    """The rows with gaps, repeats and rows from the past after training; the training rows as they were."""
    rng = random.Random(seed)
    rows, i = list(sc.rows[: sc.train_rows]), sc.train_rows
    while i < len(sc.rows):
        r = rng.random()
        if r < 0.002:
            i += rng.randint(1, 40)  # a gap of up to 10 minutes
            continue
        rows.append(sc.rows[i])
        if r > 0.997:
            rows.append(dict(sc.rows[i]))  # the same row again
        elif 0.995 < r <= 0.997 and i > 10:
            rows.append(dict(sc.rows[i - rng.randint(2, 10)]))  # a row from the past
        i += 1
    return rows, sc.train_rows


def flat(sc: Scenario) -> Scenario:
    """The scenario of an app faster than the first bucket, in compressed time (rows 1 s apart)."""
    rng = random.Random(sc.seed)
    rows = []
    for i, r in enumerate(sc.rows):
        row = {**r, "timestamp": sc.rows[0]["timestamp"] + i}
        if row["latency_p50_seconds"] is not None:
            # histogram_quantile inside [0, 5 ms]: the rank of the quantile, nearly constant
            row["latency_p50_seconds"] = round(0.0025 * (1 + rng.gauss(0, 0.002)), 6)
            row["latency_p95_seconds"] = round(0.00475 * (1 + rng.gauss(0, 0.002)), 6)
        rows.append(row)
    events = [e for e in sc.events if e.kind.removeprefix("mild_") != "latency"]
    return Scenario(sc.seed, rows, FLAT_TRAIN_ROWS, events)


def compressed(cfg: ScorerConfig, factor: float = COMPRESSION) -> ScorerConfig:
    """Every scorer duration ``factor`` times shorter, the hold included: the rows are the shipped
    scenario's, 1 s apart instead of 15 s, so every window keeps its count of rows."""
    return time_scaled(replace(Config(), scorer=cfg), factor, scale_hold=True).scorer


def decisions(cfg: ScorerConfig, buckets, rows: list[dict], train_rows: int, features) -> tuple[list[float], list[int]]:
    """Fit on the training rows, then step the rest the clock agrees with; (timestamps, decisions)."""
    records = [(r["timestamp"], "", {f: r[f] for f in features}) for r in rows]
    detector = Detector.fit(cfg, [(t, v) for t, _, v in records[:train_rows]], buckets)
    rest = records[train_rows:]
    times, out = [], []
    for (t, _, v), reason in zip(rest, clock_order([records[train_rows - 1]] + rest)[1:]):
        if reason is None and t > detector.last_timestamp:
            out.append(detector.step(t, v, explain=False).decision)
            times.append(t)
    return times, out


def evaluate(times: list[float], dec: list[int], sc: Scenario, clock: list[float], shift_bound_seconds: float,
             scale: float = 1.0) -> TierOutcome:
    """Score decisions at ``times`` against the events of ``sc``, whose row i is at ``clock[i]``.

    ``scale`` is how many seconds of the scenario one second of ``times`` stands for (15 in
    compressed time); every figure is in the scenario's seconds.
    """
    t = np.asarray(times)
    d = np.asarray(dec, dtype=bool)
    allowed = np.zeros(len(t), dtype=bool)
    out = TierOutcome(weeks=(t[-1] - t[0]) * scale / 604800 if len(t) > 1 else 0.0)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    grace, shift_bound = GRACE_SECONDS / scale, shift_bound_seconds / scale
    for e in sc.events:
        if e.start >= len(clock):
            continue
        start, end = clock[e.start], clock[min(e.end, len(clock) - 1)]
        if e.is_anomaly:
            if not ((t >= start) & (t < end)).any():
                continue  # no row fell inside it
            window = (t >= start) & (t <= end + grace)
            allowed |= window
            hits = t[window & d]
            out.detected.setdefault(e.kind, []).append(hits.size > 0)
            if hits.size:
                out.delays_seconds.append(float(hits[0] - start) * scale)
        elif e.kind == "level_shift":
            allowed |= (t >= start) & (t <= start + shift_bound)
    run_start = None
    for i in range(len(t) + 1):
        on = i < len(t) and d[i]
        if on and run_start is None:
            run_start = i
        elif not on and run_start is not None:
            if not allowed[run_start]:
                out.false_episodes += 1
                out.false_minutes.append((t[i - 1] - t[run_start] + step) * scale / 60)
            run_start = None
    return out


def run_tiers(sc: Scenario, cfg: ScorerConfig, buckets, features, shift_bound_seconds: float) -> dict[str, TierOutcome]:
    """Every tier of one scenario (``buckets``: as for :meth:`Detector.fit`)."""
    out = {}
    for name, every in (("15 s", 1), ("1 min", 4), ("5 min", 20)):
        coarse = resample(sc, every)
        times, dec = decisions(cfg, buckets, coarse.rows, coarse.train_rows, features)
        out[name] = evaluate(times, dec, coarse, [r["timestamp"] for r in coarse.rows], shift_bound_seconds)
    rows, train = irregular(sc, sc.seed)
    times, dec = decisions(cfg, buckets, rows, train, features)
    out["irregular"] = evaluate(times, dec, sc, [r["timestamp"] for r in sc.rows], shift_bound_seconds)
    fl = flat(sc)
    times, dec = decisions(compressed(cfg), buckets, fl.rows, fl.train_rows, features)
    out["flat"] = evaluate(times, dec, fl, [r["timestamp"] for r in fl.rows], shift_bound_seconds, scale=TICK_SECONDS)
    return out


RECORDED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "recorded"


def recorded_scenarios(folder: Path = RECORDED, features=None) -> list[tuple[str, Scenario]]:
    """The labelled runs of ``scripts/record_series.py`` in ``folder`` (NAME.csv beside NAME.json)."""
    out = []
    for labels_path in sorted(folder.glob("*.json")):
        labels = json.loads(labels_path.read_text())
        records = read_series(labels_path.with_suffix(".csv"), features)
        stamps = [t for t, _, _ in records]
        index = lambda t: bisect.bisect_left(stamps, t)  # noqa: E731 - the first row at or after t
        events = [Event(p["kind"], index(p["start"]), index(p["end"])) for p in labels["phases"] if p["kind"] != "normal"]
        rows = [{"timestamp": t, **values} for t, _, values in records]
        out.append((labels_path.stem, Scenario(0, rows, labels["train_rows"], events)))
    return out


def run_recorded(cfg: ScorerConfig, buckets, features, shift_bound_seconds: float) -> TierOutcome:
    """The recorded tier: every labelled run recorded from the real stack, in its own seconds."""
    total = TierOutcome()
    for _, sc in recorded_scenarios(features=features):
        times, dec = decisions(cfg, buckets, sc.rows, sc.train_rows, features)
        total.add(evaluate(times, dec, sc, [r["timestamp"] for r in sc.rows], shift_bound_seconds))
    return total


def table(results: dict[str, TierOutcome]) -> list[str]:
    lines = [f"{'tier':<12}{'events':>7}{'recall':>8}{'lowest kind':>24}{'delay s':>9}{'false/wk':>10}{'longest false min':>19}"]
    for name, outcome in results.items():
        s = outcome.summary()
        lowest = f"{s['lowest_kind']} {s['min_kind_recall']:.2f}" if s["lowest_kind"] else "-"
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        lines.append(f"{name:<12}{s['events']:>7}{fmt(s['recall'], '.2f'):>8}{lowest:>24}"
                     f"{fmt(s['median_delay_seconds'], '.1f'):>9}{fmt(s['false_per_week'], '.2f'):>10}"
                     f"{s['longest_false_episode_minutes']:>19.1f}")
    return lines


