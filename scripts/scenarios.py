"""Labelled scenarios for the detection benchmark: a week or more of 15 s ticks of the
five default features, with anomalies and normal-but-unusual events injected at known ticks.

The series imitate what the recording rules give the scorer: per-tick request and 5xx
counts are drawn (Poisson traffic with extra multiplicative noise, binomial errors), then
turned into ``rate[1m]``-style values over the last four ticks, so a sudden change reaches
its full size only after a minute, as it does live. Latency quantiles get per-tick
log-normal noise, rise a little with load, and are averaged over the same window.

Traffic has a daily rhythm (quiet nights, busy afternoons), a weekly one (quieter
weekends), slow drift, and per-seed base levels, so no constant fits every seed.

    >>> s = generate(seed=1, days=2, train_days=1)
    >>> len(s.rows), s.train_rows
    (11520, 5760)
    >>> sorted(s.rows[0])
    ['error_ratio', 'errors_per_second', 'latency_p50_seconds', 'latency_p95_seconds', 'requests_per_second', 'timestamp']
    >>> all(e.start >= s.train_rows for e in s.events)
    True

Kinds (``Event.kind``); the ``mild_`` ones are the same shapes at a smaller size:

- anomalies (must alert): ``spike``, ``drop``, ``error_burst``, ``latency``,
  ``spike_errors`` and ``mild_spike``, ``mild_drop``, ``mild_error_burst``,
  ``mild_latency``, ``mild_spike_errors``; 5 to 30 minutes long.
- normal but unusual (must not alert): ``ramp`` (traffic climbs 1.8-2.5x over 1-2 h before
  an on-sale and slowly returns), ``counter_reset`` (one of 4-8 pods restarts: its share of
  the rates dips for a minute), ``gap`` (1-8 ticks with every cell empty),
  ``level_shift`` (a release moves latency up 25-35 % for good; it may alert at first but
  must stop within the detector's documented bound), and ``scrape_glitch`` (one tick reads no
  traffic: both rates 0, the error ratio and the latencies empty, as Prometheus gives 0/0 and a
  quantile of no requests; a restarted pod's first scrape, not an incident).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TICK_SECONDS = 15
TICKS_PER_DAY = 86400 // TICK_SECONDS
RATE_WINDOW_TICKS = 4  # rate[1m] at 15 s ticks
START = 1_767_225_600  # 2026-01-01T00:00:00Z, a Thursday; the weekly rhythm is relative to it

ANOMALY_KINDS = (
    "spike", "drop", "error_burst", "latency", "spike_errors",
    "mild_spike", "mild_drop", "mild_error_burst", "mild_latency", "mild_spike_errors",
)
NORMAL_KINDS = ("ramp", "counter_reset", "gap", "level_shift", "scrape_glitch")
GLITCH_SEED = 1
"""The glitches are laid out by a generator of their own (``[seed, GLITCH_SEED]``), after every other
event: a scenario's other events and its noise are those it had before glitches were added."""
FEATURES = ("requests_per_second", "errors_per_second", "error_ratio", "latency_p50_seconds", "latency_p95_seconds")


@dataclass(frozen=True)
class Event:
    """One injected event: ``kind``, first tick index ``start`` and ``end`` (exclusive)."""

    kind: str
    start: int
    end: int

    @property
    def is_anomaly(self) -> bool:
        return self.kind in ANOMALY_KINDS


@dataclass
class Scenario:
    """Rows (dicts with ``timestamp`` and the features; ``None`` for an empty cell) and their labels."""

    seed: int
    rows: list[dict]
    train_rows: int
    events: list[Event] = field(default_factory=list)

    def column(self, name: str) -> list:
        return [r[name] for r in self.rows]


def _multipliers(kind: str, rng: np.random.Generator) -> dict[str, float]:
    """Traffic, error-ratio and latency multipliers of one anomaly (relative to normal)."""
    big = not kind.startswith("mild_")
    base = kind.removeprefix("mild_")
    m = {"traffic": 1.0, "error_ratio": 1.0, "latency": 1.0, "error_floor": 0.0}
    if base in ("spike", "spike_errors"):
        m["traffic"] = rng.uniform(3.0, 6.0) if big else rng.uniform(1.6, 2.0)
    if base == "drop":
        m["traffic"] = rng.uniform(0.1, 0.3) if big else rng.uniform(0.45, 0.6)
    if base in ("error_burst", "spike_errors"):
        # the 5xx ratio jumps to a level, whatever it was before
        m["error_floor"] = rng.uniform(0.05, 0.2) if big else rng.uniform(0.02, 0.04)
    if base == "latency":
        m["latency"] = rng.uniform(2.5, 4.0) if big else rng.uniform(1.6, 2.0)
    return m


def _free_start(rng: np.random.Generator, taken: np.ndarray, length: int, first: int, margin: int = 360) -> int | None:
    """A random start from ``first`` on for an event of ``length`` ticks with ``margin`` free ticks on each
    side (marked taken on success); None when 1,000 draws found no room."""
    for _ in range(1000):
        start = int(rng.integers(first, len(taken) - length - margin))
        if not taken[start - margin : start + length + margin].any():
            taken[start - margin : start + length + margin] = True
            return start
    return None


def generate(seed: int, days: int = 8, train_days: int = 1, anomalies_per_kind: int = 2,
             normals_per_kind: int = 3) -> Scenario:
    """One labelled scenario: ``days`` of ticks, the first ``train_days`` free of events.

    Events are laid out at random, without overlap, with at least 90 minutes of normal
    traffic between them; there is one ``level_shift`` per scenario.
    """
    rng = np.random.default_rng(seed)
    n = days * TICKS_PER_DAY
    train = train_days * TICKS_PER_DAY
    t = np.arange(n)
    hours = (t * TICK_SECONDS / 3600.0) % 24
    day_index = (t // TICKS_PER_DAY + 3) % 7  # START is a Thursday: 0 = Monday

    # --- normal traffic -------------------------------------------------------------
    base_rps = rng.uniform(4.0, 60.0)
    night = rng.uniform(0.15, 0.35)  # night traffic as a fraction of the afternoon peak
    peak_hour = rng.uniform(13, 17)
    daily = night + (1 - night) * (0.5 + 0.5 * np.cos(2 * math.pi * (hours - peak_hour) / 24)) ** 1.5
    weekend = np.where(day_index >= 5, rng.uniform(0.55, 0.85), 1.0)
    # the weekend level sets in over the night (6 h), not as a cliff at midnight
    weekly = np.convolve(np.concatenate([np.full(720, weekend[0]), weekend, np.full(719, weekend[-1])]), np.ones(1440) / 1440, mode="valid")
    drift = 1 + rng.uniform(-0.1, 0.1) * t / n
    traffic = base_rps * daily * weekly * drift
    err_ratio = np.full(n, rng.uniform(0.0005, 0.004))
    latency = np.ones(n)
    p50_base = rng.uniform(0.02, 0.15)
    p95_factor = rng.uniform(3.0, 5.0)
    gap = np.zeros(n, dtype=bool)
    dip = np.zeros(n)

    # --- events ---------------------------------------------------------------------
    kinds = [k for k in ANOMALY_KINDS for _ in range(anomalies_per_kind)]
    kinds += [k for k in NORMAL_KINDS if k not in ("level_shift", "scrape_glitch") for _ in range(normals_per_kind)]
    kinds = ["level_shift"] + list(rng.permutation(kinds))  # the long one first, so it fits
    events: list[Event] = []
    taken = np.zeros(n, dtype=bool)
    taken[: train + 360] = True  # nothing in training nor in the first 90 min after it
    for kind in kinds:
        if kind in ANOMALY_KINDS:
            length = int(rng.integers(20, 121))
        elif kind == "ramp":
            length = int(rng.integers(240, 481)) * 2 + 240
        elif kind == "counter_reset":
            length = RATE_WINDOW_TICKS
        elif kind == "gap":
            length = int(rng.integers(1, 9))
        else:  # level_shift: the label covers the first 12 h; the shift itself is permanent
            length = TICKS_PER_DAY // 2
        start = _free_start(rng, taken, length, first=train + 360)
        if start is None:
            continue
        events.append(Event(str(kind), start, start + length))
        sl = slice(start, start + length)
        if kind in ANOMALY_KINDS:
            m = _multipliers(kind, rng)
            traffic[sl] *= m["traffic"]
            err_ratio[sl] = np.maximum(err_ratio[sl], m["error_floor"])
            latency[sl] *= m["latency"]
        elif kind == "ramp":
            up = (length - 240) // 2
            height = rng.uniform(1.8, 2.5)
            shape = np.concatenate([np.linspace(1, height, up), np.full(240, height), np.linspace(height, 1, length - up - 240)])
            traffic[sl] *= shape
        elif kind == "counter_reset":
            dip[sl] = 1.0 / rng.integers(4, 9)
        elif kind == "gap":
            gap[sl] = True
        else:
            latency[start:] *= rng.uniform(1.25, 1.35)
    glitch = np.zeros(n, dtype=bool)
    glitch_rng = np.random.default_rng([seed, GLITCH_SEED])
    for _ in range(normals_per_kind):
        start = _free_start(glitch_rng, taken, 1, first=train + 360)
        if start is None:
            continue
        events.append(Event("scrape_glitch", start, start + 1))
        glitch[start] = True
    events.sort(key=lambda e: e.start)

    # --- per-tick counts, then rate[1m] as the recording rules would give ----------------
    noisy_traffic = traffic * np.exp(rng.normal(0, 0.04, n))
    requests = rng.poisson(noisy_traffic * TICK_SECONDS).astype(float)
    errors = rng.binomial(requests.astype(int), np.clip(err_ratio, 0, 1)).astype(float)
    load = traffic / (base_rps * drift)
    tick_p50 = p50_base * latency * (1 + 0.15 * (load - 1)) * np.exp(rng.normal(0, 0.05, n))
    tick_p95 = tick_p50 * p95_factor * np.exp(rng.normal(0, 0.10, n))
    kernel = np.ones(RATE_WINDOW_TICKS)
    req_w = np.convolve(requests, kernel)[:n]
    err_w = np.convolve(errors, kernel)[:n]
    weight = np.maximum(requests, 1e-9)
    p50 = np.convolve(tick_p50 * weight, kernel)[:n] / np.convolve(weight, kernel)[:n]
    p95 = np.convolve(tick_p95 * weight, kernel)[:n] / np.convolve(weight, kernel)[:n]
    rps = req_w / (RATE_WINDOW_TICKS * TICK_SECONDS) * (1 - dip)
    eps = err_w / (RATE_WINDOW_TICKS * TICK_SECONDS) * (1 - dip)
    ratio = np.where(req_w > 0, err_w / np.maximum(req_w, 1), 0.0)

    rows = []
    for i in range(n):
        if gap[i]:
            rows.append({"timestamp": START + i * TICK_SECONDS, **{f: None for f in FEATURES}})
            continue
        if glitch[i]:
            rows.append({"timestamp": START + i * TICK_SECONDS, **{f: None for f in FEATURES},
                         "requests_per_second": 0.0, "errors_per_second": 0.0})
            continue
        rows.append({
            "timestamp": START + i * TICK_SECONDS,
            "requests_per_second": round(float(rps[i]), 6),
            "errors_per_second": round(float(eps[i]), 6),
            "error_ratio": round(float(ratio[i]), 6),
            "latency_p50_seconds": round(float(p50[i]), 6),
            "latency_p95_seconds": round(float(p95[i]), 6),
        })
    return Scenario(seed=seed, rows=rows, train_rows=train, events=events)


def write_csv(scenario: Scenario, path: str) -> None:
    """Write the rows in the ``vigilante backtest`` input format (empty cell = missing)."""
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *FEATURES])
        for r in scenario.rows:
            w.writerow([r["timestamp"], *("" if r[f] is None else r[f] for f in FEATURES)])
