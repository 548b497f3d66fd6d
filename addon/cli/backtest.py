"""``vigilante train`` and ``vigilante backtest``: the scorer's model on recorded series.

``vigilante train INPUT.csv [--out STATE] [--config FILE]`` fits a detector on every row of
INPUT and saves it where the live scorer loads it at start-up (or to STATE).

``vigilante backtest INPUT.csv --train-rows N --out OUT.csv [--config FILE]`` fits on the
first N rows, then replays every later row through :meth:`Detector.step` - the code the
live scorer runs each tick: score, decision, then learned or not by the learning policy -
and writes ``timestamp,score,threshold,alert,skipped`` per replayed row (``alert`` is the
exported decision).

A row whose timestamp repeats or goes back (:func:`~vigilante.scorer.series.clock_order`)
is neither learned nor scored; both commands count such rows in one line on stderr, and
the backtest still writes an OUT row for it (the score and decision the scorer would still
be exporting, ``skipped`` saying why), so OUT lines up with INPUT row for row.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

from vigilante.cli.arguments import config_args, config_files, load
from vigilante.config import CONFIG_PATH_ENV
from vigilante.errors import UserError
from vigilante.output_files import atomic_open, check_target
from vigilante.scorer import Detector, TrainingError
from vigilante.scorer.features import histogram_buckets
from vigilante.scorer.detector import MIN_TRAIN_ROWS
from vigilante.scorer.series import SeriesError, clock_order, in_clock_order, read_series, skipped_summary, training_span
from vigilante.service.state_file import state_lock, state_path

PROGRESS_EVERY_SECONDS = 5.0
TRAINING = "training"
"""The ``skipped`` reason of a row after ``--train-rows`` that training took to reach its least usable rows."""


def _load(args: argparse.Namespace):
    cfg = load(args)
    try:
        records = read_series(args.input, cfg.scorer.features)
    except SeriesError as exc:
        raise UserError(str(exc)) from None
    return cfg, records


def _fit(cfg, records):
    try:
        return Detector.fit(cfg.scorer, [(ts, values) for ts, _, values in in_clock_order(records)],
                            histogram_buckets(cfg))
    except TrainingError as exc:
        raise UserError(f"cannot train: {exc}") from None


def _report_skipped(reasons, records, command: str) -> None:
    line = skipped_summary(reasons, records)
    if line:
        print(f"{command}: {line}", file=sys.stderr)


def train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT.csv", help="recorded normal traffic: timestamp, then the configured features")
    parser.add_argument("--out", metavar="STATE",
                        help="file to write the trained model to (default: the state file `serve` reads, "
                             "scorer.state_path or the per-user state directory)")
    config_args(parser)


def run_train(args: argparse.Namespace) -> int:
    inputs = [p for p in (args.input, args.config or os.environ.get(CONFIG_PATH_ENV)) if p]
    if args.out:
        check_target(args.out, inputs=inputs)  # before the work, not after it; the configuration is an input too
    cfg, records = _load(args)
    out = Path(args.out) if args.out else state_path(cfg, create=True)
    check_target(out, inputs=inputs)
    detector = _fit(cfg, records)
    _report_skipped(clock_order(records), records, "train")
    with state_lock(out):  # a `serve` on this file would replace the model at its next save
        detector.save(out)
    print(
        f"trained on {detector.ticks_learned} rows ({len(records)} read) of {', '.join(detector.features)}; "
        f"window {detector.window_size}, threshold {detector.threshold:.4f}; saved to {out}"
    )
    return 0


def backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT.csv", help="recorded series: timestamp, then the configured features")
    parser.add_argument("--train-rows", type=int, required=True, metavar="N", help="the first N rows are the training set")
    parser.add_argument("--out", required=True, metavar="OUT.csv", help="where to write timestamp,score,threshold,alert,skipped per scored row")
    config_args(parser)


def run_backtest(args: argparse.Namespace) -> int:
    if args.train_rows < 1:
        raise UserError(f"--train-rows must be a positive number of rows, got {args.train_rows}")
    inputs = [args.input, *config_files(args)]
    check_target(args.out, inputs=inputs)  # before the work, not after it
    cfg, records = _load(args)
    if args.train_rows > len(records):
        raise UserError(f"--train-rows {args.train_rows} but {args.input} has only {len(records)} rows")
    reasons = clock_order(records)  # over the whole file: a scored row may go back before training's end
    span = training_span(records, args.train_rows, cfg.scorer.features, MIN_TRAIN_ROWS)
    detector = _fit(cfg, records[:span])
    if span > args.train_rows:
        print(f"backtest: the first {args.train_rows} rows hold fewer than {MIN_TRAIN_ROWS} usable rows; trained on the "
              f"first {span} (the {span - args.train_rows} after --train-rows are written with skipped={TRAINING})",
              file=sys.stderr)
    rest = records[args.train_rows :]
    started = last_report = time.monotonic()
    alerts = episodes = previous = 0
    score = 0.0
    with atomic_open(args.out, inputs=inputs) as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "score", "threshold", "alert", "skipped"])
        for i, ((ts, text, values), reason) in enumerate(zip(rest, reasons[args.train_rows :]), 1):
            if args.train_rows + i <= span:
                writer.writerow([text, f"{0.0:.6f}", f"{detector.threshold:.6f}", 0, TRAINING])
                continue
            if reason:
                # Not a new tick: what the scorer exports stays as it was, and nothing is learned.
                writer.writerow([text, f"{score:.6f}", f"{detector.threshold:.6f}", previous, reason])
                continue
            result = detector.step(ts, values, explain=False)
            score = result.score
            writer.writerow([text, f"{result.score:.6f}", f"{result.threshold:.6f}", result.decision, ""])
            alerts += result.decision
            episodes += result.decision and not previous
            previous = result.decision
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                print(f"backtest: {i}/{len(rest)} rows ({100 * i // len(rest)} %)", file=sys.stderr, flush=True)
    _report_skipped(reasons, records, "backtest")
    print(
        f"backtest: trained on {args.train_rows} rows (threshold {detector.threshold:.4f}), scored {len(rest)} rows "
        f"in {time.monotonic() - started:.1f} s: {alerts} alerting ticks in {episodes} episodes; wrote {args.out}",
        file=sys.stderr,
    )
    return 0
