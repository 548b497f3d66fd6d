"""Reading recorded series from CSV: the ``vigilante train`` / ``backtest`` input contract.

A header row (a UTF-8 byte-order mark is allowed); a ``timestamp`` column (unix seconds,
or ISO 8601 where a time without an offset means UTC), then numeric columns; one row per tick; an empty cell is a missing
sample. Only the configured features are read (other columns are ignored). A row whose
timestamp repeats or goes back is kept here and marked by :func:`clock_order`, for the
caller to skip and count: one such row never costs the whole file. Anything else malformed
raises :class:`SeriesError` naming the file, line and column.

    >>> import io
    >>> text = "timestamp,value,note\\n2026-01-01T00:00:00,1.5,x\\n2026-01-01T00:00:15,,y\\n"
    >>> read_series(io.StringIO(text), ["value"], name="in.csv")
    [(1767225600.0, '2026-01-01T00:00:00', {'value': 1.5}), (1767225615.0, '2026-01-01T00:00:15', {'value': None})]
    >>> read_series(io.StringIO("timestamp,value\\n1,abc\\n"), ["value"], name="in.csv")
    Traceback (most recent call last):
    ...
    vigilante.scorer.series.SeriesError: in.csv:2: column 'value': 'abc' is not a number
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime, timezone
from typing import IO, Sequence

from vigilante.scorer.errors import ScorerError

TIMESTAMP = "timestamp"
LATEST_SECONDS = 1e11
"""Unix seconds from here on (the year 5138) are not a time anybody recorded; in
milliseconds, every time since 1973 is above it. So a file in milliseconds, or one that
switches to them mid-way, is an error on the first such row, not a silent 1000x spacing."""

Record = tuple[float, str, dict]  # unix seconds, the timestamp as written, feature values


class SeriesError(ScorerError):
    """The input CSV breaks the contract; the message names file, line and column."""


def parse_timestamp(text: str) -> float:
    """Unix seconds from unix seconds or ISO 8601 (no offset = UTC).

    >>> parse_timestamp("1767225600"), parse_timestamp("2026-01-01T01:00:00+01:00")
    (1767225600.0, 1767225600.0)
    """
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a time")
        return value
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither unix seconds nor an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


DUPLICATE = "duplicate timestamp"
BACKWARD = "earlier than a row before"


def clock_order(records: Sequence[Record]) -> list[str | None]:
    """Per record, why the clock says to skip it (:data:`DUPLICATE`, :data:`BACKWARD`), else None.

    A row is compared with the latest time seen so far, so after a row that jumped ahead,
    every row until the clock catches up is skipped too (a daylight-saving hour repeated).

    >>> clock_order([(0.0, "0", {}), (15.0, "15", {}), (15.0, "15", {}), (5.0, "5", {}), (30.0, "30", {})])
    [None, None, 'duplicate timestamp', 'earlier than a row before', None]
    """
    reasons: list[str | None] = []
    latest = -math.inf
    for ts, _, _ in records:
        if ts > latest:
            reasons.append(None)
            latest = ts
        else:
            reasons.append(DUPLICATE if ts == latest else BACKWARD)
    return reasons


def skipped_summary(reasons: Sequence[str | None], records: Sequence[Record]) -> str | None:
    """One line counting the rows :func:`clock_order` skips, with the first of each kind; None when none.

    >>> records = [(0.0, "0", {}), (15.0, "15", {}), (15.0, "15", {}), (5.0, "5", {})]
    >>> skipped_summary(clock_order(records), records)
    "skipped 2 rows the clock disagrees with: 1 duplicate timestamp (first: data row 3, '15'), 1 earlier than a row before (first: data row 4, '5')"
    """
    kinds = {}
    for i, reason in enumerate(reasons):
        if reason:
            count, first = kinds.get(reason, (0, i))
            kinds[reason] = (count + 1, first)
    if not kinds:
        return None
    parts = [f"{count} {reason} (first: data row {first + 1}, {records[first][1]!r})" for reason, (count, first) in kinds.items()]
    return f"skipped {sum(c for c, _ in kinds.values())} rows the clock disagrees with: {', '.join(parts)}"


def in_clock_order(records: Sequence[Record]) -> list[Record]:
    """The records :func:`clock_order` keeps."""
    return [r for r, reason in zip(records, clock_order(records)) if reason is None]


def training_span(records: Sequence[Record], train_rows: int, features: Sequence[str], least: int) -> int:
    """How many leading records to train on: ``train_rows``, or more until ``least`` of them are usable.

    A usable record has every feature and a clock that moved forward. The training set asked
    for may hold a repeated timestamp or an empty cell; rather than refuse a file whose other
    rows are fine, training takes the next rows. ``len(records)`` when even all are too few
    (training then says how many it had).

    >>> rows = [(float(t), str(t), {"v": 1.0}) for t in (0, 1, 1, 2, 3)]
    >>> training_span(rows, 3, ["v"], least=3), training_span(rows, 4, ["v"], least=3)
    (4, 4)
    >>> training_span(rows, 2, ["v"], least=9)
    5
    """
    usable = 0
    for i, (record, reason) in enumerate(zip(records, clock_order(records))):
        if reason is None and all(record[2].get(f) is not None for f in features):
            usable += 1
        if i + 1 >= train_rows and usable >= least:
            return i + 1
    return len(records)


def read_series(source: str | os.PathLike | IO[str], features: Sequence[str], name: str | None = None) -> list[Record]:
    """Read and check a CSV; returns ``(unix_seconds, timestamp_text, {feature: float | None})`` per row."""
    if isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        try:
            with open(source, newline="", encoding="utf-8") as fh:
                return _read(fh, features, name)
        except OSError as exc:
            raise SeriesError(f"{name}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise SeriesError(f"{name}: not a UTF-8 text file ({exc.reason})") from exc
    return _read(source, features, name or "<input>")


def _read(fh: IO[str], features: Sequence[str], name: str) -> list[Record]:
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        raise SeriesError(f"{name}: empty file: expected a header row starting with '{TIMESTAMP}'") from None
    except csv.Error as exc:
        raise SeriesError(f"{name}:1: not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:].strip()  # a byte-order mark, as spreadsheet programs write
    if not header or header[0] != TIMESTAMP:
        first = header[0] if header else ""
        raise SeriesError(f"{name}:1: the first column must be '{TIMESTAMP}', found {first!r}")
    seen = set()
    for h in header:
        if h in seen:
            raise SeriesError(f"{name}:1: column {h!r} appears twice in the header")
        seen.add(h)
    missing = [f for f in features if f not in seen]
    if missing:
        raise SeriesError(
            f"{name}:1: configured feature column {missing[0]!r} is not in the header (columns: {', '.join(header[1:]) or 'none'})"
        )
    index = {f: header.index(f) for f in features}
    out: list[Record] = []
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue  # a blank line is not a tick
            if len(row) != len(header):
                raise SeriesError(f"{name}:{line}: {len(row)} cells, the header has {len(header)} columns")
            text = row[0].strip()
            try:
                ts = parse_timestamp(text)
            except ValueError as exc:
                raise SeriesError(f"{name}:{line}: column '{TIMESTAMP}': {exc}") from None
            if not 0 <= ts < LATEST_SECONDS:
                hint = "; it looks like milliseconds" if LATEST_SECONDS <= ts < 1000 * LATEST_SECONDS else ""
                raise SeriesError(f"{name}:{line}: column '{TIMESTAMP}': {text!r} is not a plausible time in unix "
                                  f"seconds{hint}; write unix seconds or ISO 8601")
            values = {}
            for f, i in index.items():
                cell = row[i].strip()
                if not cell or cell.lower() == "nan":
                    values[f] = None
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    raise SeriesError(f"{name}:{line}: column {f!r}: {cell!r} is not a number") from None
                if not math.isfinite(v):
                    raise SeriesError(f"{name}:{line}: column {f!r}: {cell!r} is not a finite number")
                values[f] = v
            out.append((ts, text, values))
    except csv.Error as exc:
        raise SeriesError(f"{name}:{line}: not valid CSV: {exc}") from None
    return out
