"""Labelled series with a daily rhythm, for the detection benchmark's daily tier.

The real series the scorer is judged on follow the clock (traffic, machine load, sales), and
their anomalies are often inside the day's range but wrong for the hour: a day that stays
flat, a peak half as high, a night as busy as a noon. This writes such series (our own
shapes, not copies of any benchmark's files) as ``FOLDER/NAME.csv`` with the header
``TimeStamp,Value,Label``, the format :mod:`scripts.real_series` scores, so the daily tier
runs through exactly the real tier's code: ``vigilante backtest`` on each file, the rolling
z-score and bare Half-Space Trees beside it.

Folders are ``SHAPE-KIND`` (5-minute rows, 14 days) and ``hourly-KIND`` (``square`` at hourly
rows, 60 days):

- shapes (:data:`SHAPES`): ``square`` (quiet nights, a plateau by day, steep edges), ``sine``,
  ``two-peaks`` and ``shoulder`` (noisier, with quieter weekends), ``sawtooth``, and
  ``late-peak`` (busier weekends);
- kinds: ``flat`` (one day at the day's middle level: labelled all day), ``peak-up`` and
  ``peak-down`` (one day's busy hours 1.5x and 0.5x as far above the night: labelled where
  the day is busy), ``busy-night`` (one night as busy as the day: labelled where it differs),
  ``shift`` (from one day on, everything higher by half the day's swing: the first two hours
  labelled), and ``none`` and ``none-counts`` (no anomaly; Poisson counts): false alarms only.

    >>> series = make_series("square", "flat", seed=0)
    >>> len(series.values), sum(series.labels), series.spacing_seconds
    (4032, 288, 300.0)
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

FIVE_MINUTES, HOUR, DAY = 300.0, 3600.0, 86400.0
KINDS = ("flat", "peak-up", "peak-down", "busy-night", "shift", "none", "none-counts")
HOURLY_KINDS = ("flat", "peak-down", "none")
SEEDS = (0, 1, 2)
START = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday


@dataclass(frozen=True)
class Shape:
    """A day's rhythm: ``busy(phase)`` from 0 (night) to 1 (the peak), ``night`` plus ``swing`` times it."""

    busy: Callable[[float], float]
    night: float = 20.0
    swing: float = 60.0
    noise: float = 0.04  # standard deviation, as a share of the swing
    weekend: float = 1.0  # Saturdays and Sundays are this share of a weekday


def _square(phase: float) -> float:  # quiet nights, a plateau by day, steep edges
    return 1 / (1 + math.exp(-40 * (phase - 0.3))) / (1 + math.exp(40 * (phase - 0.75)))


def _sine(phase: float) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * phase)


def _two_peaks(phase: float) -> float:  # web traffic: a morning and a higher evening peak
    return 0.55 * math.exp(-((phase - 0.38) / 0.07) ** 2) + math.exp(-((phase - 0.83) / 0.06) ** 2)


def _shoulder(phase: float) -> float:  # a peak after noon with a morning shoulder
    return max(0.0, 0.5 - 0.5 * math.cos(2 * math.pi * (phase - 0.08)) + 0.25 * math.sin(4 * math.pi * phase)) / 1.2


def _sawtooth(phase: float) -> float:  # rises from 06:00 to 18:00, falls by 20:00
    if 0.25 <= phase < 0.75:
        return (phase - 0.25) / 0.5
    if 0.75 <= phase < 0.833:
        return 1 - (phase - 0.75) / 0.083
    return 0.0


def _late_peak(phase: float) -> float:  # an evening peak at 21:00 (streaming, television), a small one at noon
    return math.exp(-((phase - 0.875) / 0.08) ** 2) + 0.3 * math.exp(-((phase - 0.5) / 0.1) ** 2)


SHAPES = {
    "square": Shape(_square),
    "sine": Shape(_sine),
    "two-peaks": Shape(_two_peaks, noise=0.06, weekend=0.7),
    "shoulder": Shape(_shoulder, night=100.0, swing=40.0, noise=0.05, weekend=0.8),
    "sawtooth": Shape(_sawtooth, night=5.0, swing=30.0, noise=0.08),
    "late-peak": Shape(_late_peak, night=10.0, swing=50.0, noise=0.05, weekend=1.25),
}
"""The scorer's daily member was tuned on ``square`` and ``sine``. ``two-peaks`` and ``shoulder``
(quieter weekends) were looked at while choosing how it judges a rhythm real and how it treats
weekends, and ``sawtooth`` before the last of those changes. ``late-peak`` (busier weekends) was
first run after the last change: the one shape here the member was never adjusted to."""


@dataclass
class DailySeries:
    folder: str
    name: str
    spacing_seconds: float
    values: list[float]
    labels: list[int]

    def timestamps(self) -> list[float]:
        """Seconds since the epoch of every row, from :data:`START`."""
        return [START.timestamp() + i * self.spacing_seconds for i in range(len(self.values))]


def make_series(shape: str, kind: str, seed: int, spacing_seconds: float = FIVE_MINUTES,
                days: int | None = None, anomaly_day: int | None = None) -> DailySeries:
    """One series of ``days`` days (14 at 5 minutes, 60 hourly) from :data:`START`, whose anomaly, if any,
    is on ``anomaly_day`` (counted from 0), else on a day drawn by ``seed``."""
    look = SHAPES[shape]
    rng = np.random.default_rng([seed, list(SHAPES).index(shape), KINDS.index(kind)])
    days = days or (14 if spacing_seconds < HOUR else 60)
    per_day = int(DAY // spacing_seconds)
    drawn = int(rng.integers(5, max(days - 2, 6)))  # drawn either way: the rest of the series is the same
    anomaly_day = drawn if anomaly_day is None else anomaly_day
    night, swing = look.night, look.swing
    values, labels = [], []
    for i in range(days * per_day):
        day, phase = divmod(i, per_day)
        b = look.busy(phase / per_day)
        v, label = night + swing * b, 0
        if day == anomaly_day:
            if kind == "flat":
                v, label = night + swing / 2, 1
            elif kind in ("peak-up", "peak-down"):
                v, label = night + swing * b * (1.5 if kind == "peak-up" else 0.5), int(b > 0.2)
            elif kind == "busy-night":
                v, label = night + swing * max(b, 0.8), int(b < 0.6)
        if kind == "shift" and day >= anomaly_day:
            v += swing / 2
            label = int(day == anomaly_day and phase < 2 * HOUR / spacing_seconds)
        if (START + timedelta(days=day)).weekday() >= 5:
            v *= look.weekend
        v += rng.normal(0.0, look.noise * swing)
        if kind == "none-counts":
            v = float(rng.poisson(max(v, 0.0)))
        values.append(float(v))
        labels.append(label)
    folder = f"{'hourly' if spacing_seconds >= HOUR else shape}-{kind}"
    return DailySeries(folder, f"seed-{seed}", spacing_seconds, values, labels)


def all_series(seeds: tuple[int, ...] = SEEDS, shapes: tuple[str, ...] = tuple(SHAPES)) -> list[DailySeries]:
    """Every series of the tier: each shape and kind at 5 minutes, a few kinds of ``square`` hourly, for every seed."""
    out = [make_series(shape, kind, seed) for shape in shapes for kind in KINDS for seed in seeds]
    out += [make_series("square", kind, seed, HOUR) for kind in HOURLY_KINDS for seed in seeds]
    return out


def write_series(series: DailySeries, root: Path) -> Path:
    """``root/FOLDER/NAME.csv``, in the real tier's format (ISO 8601 times, ``TimeStamp,Value,Label``)."""
    path = root / series.folder / f"{series.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["TimeStamp", "Value", "Label"])
        for i, (v, label) in enumerate(zip(series.values, series.labels)):
            w.writerow([(START + timedelta(seconds=i * series.spacing_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        f"{v:.4f}", label])
    return path


def write_all(root: Path, seeds: tuple[int, ...] = SEEDS, shapes: tuple[str, ...] = tuple(SHAPES)) -> list[Path]:
    """Write every series of :func:`all_series` under ``root``."""
    return [write_series(s, root) for s in all_series(seeds, shapes)]
