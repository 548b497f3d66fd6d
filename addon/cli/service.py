"""``vigilante serve`` and ``vigilante collect``: the commands' arguments and runs (the work: :mod:`vigilante.service.serve`)."""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

from vigilante.cli.arguments import config_args, config_files, load
from vigilante.config import Config, load_config, time_scale_line, time_scaled
from vigilante.errors import UserError
from vigilante.output_files import atomic_open, check_target
from vigilante.prometheus.api import PrometheusError
from vigilante.service.serve import collect_live, csv_row, csv_writer, feature_source, log, parse_duration, serve
from vigilante.service.state_file import prepare_state_file


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--port", type=int, help="port of /metrics, /healthz and /readyz (default: scorer.listen_port)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="least severe log messages written to stderr (default: INFO)")
    parser.add_argument("--tick-seconds", type=float, metavar="SECONDS",
                        help="another way to set trial.time_scale for this command alone: tick every SECONDS "
                             "instead of scorer.tick_seconds. Prefer VIGILANTE_TRIAL__TIME_SCALE, which every "
                             "command reads (a model trained without it is refused)")


def serve_config(config_path: str | None, tick_seconds: float | None) -> tuple[Config, str | None]:
    """The configuration ``serve`` runs with, and the line that says how time is compressed (or None).

    ``--tick-seconds S`` is ``trial.time_scale`` = ``scorer.tick_seconds / S`` on top of any
    configured one, said in the line with the variable that gives every command the same.

    >>> config, line = serve_config(None, 5.0)  # the default 15 s tick, compressed three times
    >>> config.trial.time_scale, line.split(":")[0]
    (3.0, '--tick-seconds 5 is trial.time_scale 3')
    """
    config = load_config(config_path)
    if tick_seconds is None:
        return config, time_scale_line(config)
    if not (math.isfinite(tick_seconds) and tick_seconds > 0):
        raise UserError(f"--tick-seconds must be a positive number of seconds, got {tick_seconds:g}")
    config = time_scaled(config, config.scorer.tick_seconds / tick_seconds)
    scale = f"{config.trial.time_scale:g}"
    return config, (f"--tick-seconds {tick_seconds:g} is trial.time_scale {scale}: set "
                    f"VIGILANTE_TRIAL__TIME_SCALE={scale} instead, so that check, collect, train and "
                    f"prometheus-config run at the same pace; {time_scale_line(config) or 'time as configured'}")


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.time()
    config, line = serve_config(args.config, args.tick_seconds)
    # Before anything else: a state path that is an input, not a state, or in use is refused here.
    with prepare_state_file(config, started):
        if line:
            log.info("%s", line)
        if config.scorer.tick_seconds < config.prometheus.evaluation_interval_seconds:
            log.warning("ticks every %g s read recording rules evaluated every %g s: set "
                        "prometheus.evaluation_interval_seconds (and the scrape interval) as short in the "
                        "Prometheus configuration, or ticks repeat the same values", config.scorer.tick_seconds,
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
    config = load(args)
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
