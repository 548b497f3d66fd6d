"""Scoring alerts on real labelled series, the way the data's README prescribes.

A labelled series is a CSV with the header ``TimeStamp,Value,Label`` (``Label`` 1 on the
rows operators marked anomalous). Its first :func:`training_rows` rows are the training
set; every later row is scored. On the scored rows:

- an **event** is a run of consecutive labelled rows; its **span** runs from its first row
  to :data:`GRACE_ROWS` rows after its last (cut at the end of the series);
- an event is **caught** when some row of its span alerts; its **delay** is the rows from
  its first row to that first alert;
- an **alert episode** is a run of consecutive alerting rows; it is **false** when it
  overlaps no event's span (one episode across two events is one true episode, and
  catches both when it reaches into both spans).

A series whose detector produced nothing (a file the backtest refuses) is scored as a
series of zeros: its events are missed, it has no episode.

    >>> runs([0, 1, 1, 0, 1])
    [(1, 2), (4, 4)]
    >>> s = score_series(labels=[0, 1, 1, 0, 0, 0, 0, 0, 0, 0], alerts=[0, 0, 0, 0, 1, 0, 0, 1, 1, 0])
    >>> s.events, s.caught, s.delays, s.episodes, s.false_episodes, s.rows
    (1, 1, [3], 2, 1, 10)

Everything here is pure: lists in, counts out; reading the CSV is :func:`read_labelled`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

GRACE_ROWS = 3
MIN_TRAIN_ROWS, MAX_TRAIN_ROWS, TRAIN_FRACTION = 60, 750, 0.15
HEADER = ("TimeStamp", "Value", "Label")


def training_rows(rows: int) -> int:
    """How many leading rows of a series of ``rows`` rows are its training set.

    >>> training_rows(720), training_rows(100), training_rows(15840)
    (108, 60, 750)
    """
    return max(MIN_TRAIN_ROWS, min(math.floor(TRAIN_FRACTION * rows), MAX_TRAIN_ROWS))


def runs(flags: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of consecutive true flags, as ``(first, last)`` indexes (both included)."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, dtype=bool).astype(np.int8), [0]]))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)]


@dataclass
class SeriesScore:
    """The counts of one series (or, added up, of many); every rate is computed from these."""

    events: int = 0
    caught: int = 0
    delays: list[int] = field(default_factory=list)
    episodes: int = 0
    false_episodes: int = 0
    rows: int = 0
    alert_rows: int = 0

    def add(self, other: "SeriesScore") -> None:
        """Add another series' counts to these."""
        self.events += other.events
        self.caught += other.caught
        self.delays += other.delays
        self.episodes += other.episodes
        self.false_episodes += other.false_episodes
        self.rows += other.rows
        self.alert_rows += other.alert_rows

    @property
    def recall(self) -> float:
        """Caught events over events; NaN without events."""
        return self.caught / self.events if self.events else math.nan

    @property
    def precision(self) -> float:
        """Episodes that are not false over episodes; NaN without episodes."""
        return (self.episodes - self.false_episodes) / self.episodes if self.episodes else math.nan

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall: 0 when events went uncaught with no true
        episode (no episode at all included), NaN without events."""
        if not self.events:
            return math.nan
        p = 0.0 if math.isnan(self.precision) else self.precision
        return 2 * p * self.recall / (p + self.recall) if p + self.recall else 0.0

    @property
    def false_per_1000(self) -> float:
        """False episodes per 1,000 scored rows."""
        return 1000 * self.false_episodes / self.rows if self.rows else math.nan

    @property
    def alert_share(self) -> float:
        """The share of scored rows that alert (an alarm that never ends has few episodes, but not few rows)."""
        return self.alert_rows / self.rows if self.rows else math.nan

    @property
    def median_delay(self) -> float:
        """Median rows from an event's first row to its first alert, over caught events."""
        return float(statistics.median(self.delays)) if self.delays else math.nan

    def summary(self) -> dict:
        """The figures of the README's report, rounded; None where undefined."""
        def r(v: float, digits: int) -> float | None:
            return None if math.isnan(v) else round(v, digits)

        return {"events": self.events, "caught": self.caught, "recall": r(self.recall, 3),
                "precision": r(self.precision, 3), "f1": r(self.f1, 3), "episodes": self.episodes,
                "false_episodes": self.false_episodes, "rows": self.rows,
                "alert_share": r(self.alert_share, 4),
                "false_per_1000_rows": r(self.false_per_1000, 2), "median_delay_rows": r(self.median_delay, 1)}


def score_series(labels: Sequence[int], alerts: Sequence[int] | None) -> SeriesScore:
    """Score ``alerts`` against ``labels``, both for the scored rows only (training cut off).

    ``alerts`` None stands for a file the detector refused: no alert on any row.
    """
    n = len(labels)
    alerting = np.zeros(n, dtype=bool) if alerts is None else np.asarray(alerts, dtype=bool)
    if len(alerting) != n:
        raise ValueError(f"{len(alerting)} alerts for {n} labelled rows")
    spans = [(first, min(last + GRACE_ROWS, n - 1)) for first, last in runs(labels)]
    out = SeriesScore(events=len(spans), rows=n, alert_rows=int(alerting.sum()))
    in_span = np.zeros(n + 1, dtype=np.int64)  # in_span[i]: rows before i inside some span
    covered = np.zeros(n, dtype=bool)
    for first, end in spans:
        covered[first:end + 1] = True
        hits = np.flatnonzero(alerting[first:end + 1])
        if hits.size:
            out.caught += 1
            out.delays.append(int(hits[0]))
    in_span[1:] = np.cumsum(covered)
    for a, b in runs(alerting):
        out.episodes += 1
        out.false_episodes += int(in_span[b + 1] == in_span[a])
    return out


@dataclass(frozen=True)
class LabelledSeries:
    """One labelled CSV: ``folder`` (its directory's name), ``name`` (file stem), and per row
    the timestamp text, the value cell as written, the value as a number (None when empty
    or not a finite number) and the label."""

    folder: str
    name: str
    timestamps: tuple[str, ...]
    value_cells: tuple[str, ...]
    values: tuple[float | None, ...]
    labels: tuple[int, ...]

    @property
    def train_rows(self) -> int:
        """The rows of the training set (:func:`training_rows`)."""
        return training_rows(len(self.labels))

    @property
    def scored_labels(self) -> tuple[int, ...]:
        """The labels of the rows after training: the rows every detector is scored on."""
        return self.labels[self.train_rows:]

    def backtest_csv(self) -> str:
        """The series in ``vigilante backtest``'s input contract: ``timestamp,value``, the
        cells as written (an empty value stays empty: a missing sample)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["timestamp", "value"])
        writer.writerows(zip(self.timestamps, self.value_cells))
        return out.getvalue()


def _number(cell: str) -> float | None:
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_labelled(path: str | os.PathLike) -> LabelledSeries:
    """Read one ``TimeStamp,Value,Label`` CSV (quoted cells or not); ValueError names file and line."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = tuple(h.strip() for h in next(reader, ()))
        if header != HEADER:
            raise ValueError(f"{path}:1: expected the header {','.join(HEADER)}, found {','.join(header)!r}")
        stamps, cells, labels = [], [], []
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(row) != 3 or row[2].strip() not in ("0", "1"):
                raise ValueError(f"{path}:{reader.line_num}: expected timestamp,value,label (label 0 or 1), found {row!r}")
            stamps.append(row[0].strip())
            cells.append(row[1].strip())
            labels.append(int(row[2].strip()))
    return LabelledSeries(path.parent.name, path.stem, tuple(stamps), tuple(cells),
                          tuple(_number(c) for c in cells), tuple(labels))


def find_series(root: str | os.PathLike) -> list[Path]:
    """Every ``FOLDER/NAME.csv`` under ``root``, sorted."""
    return sorted(Path(root).glob("*/*.csv"))
