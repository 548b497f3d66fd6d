"""``vigilante serve`` and ``vigilante collect``: the commands' arguments and runs (the work: :mod:`vigilante.service.serve`)."""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

from vigilante.cli.arguments import config_args, config_files
from vigilante.config import load_config
from vigilante.errors import UserError
from vigilante.output_files import atomic_open, check_target
from vigilante.prometheus.api import PrometheusError
from vigilante.service.serve import (collect_live, compress_time, csv_row, csv_writer, feature_source, log, parse_duration,
                                     serve)
from vigilante.service.state_file import prepare_state_file


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--port", type=int, help="port of /metrics, /healthz and /readyz (default: scorer.listen_port)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="least severe log messages written to stderr (default: INFO)")
    parser.add_argument("--tick-seconds", type=float, metavar="SECONDS",
                        help="compress time for a trial: tick every SECONDS instead of scorer.tick_seconds, with every "
                             "window (hold, relearn, half-lives, bootstrap history) scaled alike; printed at start")


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.time()
    config = load_config(args.config)
    line = None
    if args.tick_seconds is not None:
        config, line = compress_time(config, args.tick_seconds)
    # Before anything else: a state path that is an input, not a state, or in use is refused here.
    with prepare_state_file(config, started):
        if line:
            log.info("%s", line)
            if args.tick_seconds < config.prometheus.evaluation_interval_seconds:
                log.warning("ticks every %g s read recording rules evaluated every %g s: set "
                            "prometheus.evaluation_interval_seconds (and the scrape interval) as short in the "
                            "Prometheus configuration, or ticks repeat the same values", args.tick_seconds,
                            config.prometheus.evaluation_interval_seconds)
        return serve(config, args.port, started)


def collect_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--out", required=True, metavar="OUT.csv", help="training CSV to write (backtest format)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--duration", metavar="DURATION", help="sample live, one row per tick, for this long (e.g. 1h, 30m)")
    how.add_argument("--history", metavar="DURATION", help="read this much past history at once from Prometheus")


def run_collect(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_target(out, inputs=config_files(args))  # before reading anything: --out must not be --config
    config = load_config(args.config)
    source = feature_source(config)
    step = config.scorer.tick_seconds
    if args.history:
        end = math.floor(time.time() / step) * step
        try:
            rows = source.between(end - parse_duration(args.history), end, step)
        except PrometheusError as exc:
            raise UserError(f"cannot read history from {config.prometheus.url}: {exc}") from None
        with atomic_open(out) as fh:
            writer = csv_writer(fh, source.queries)
            for row in rows:
                writer.writerow(csv_row(row))
        complete = sum(r.complete for r in rows)
        print(f"wrote {len(rows)} rows ({complete} complete) to {out}")
        return 0
    return collect_live(config, source, out, parse_duration(args.duration))
