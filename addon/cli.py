"""The ``vigilante`` command line: one entry point, one sub-command per job.

Sub-commands register themselves in :data:`COMMANDS` as ``(name, help, add_arguments,
run)``; ``run(args)`` returns the exit code. Errors meant for the user are raised as
:class:`UserError` and printed as one line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable, Sequence

from vigilante import __version__
from vigilante.config import CONFIG_PATH_ENV, ConfigError, describe, load_config
from vigilante.output_files import OutputError


class UserError(Exception):
    """A problem the user can fix (bad input, bad config); printed as one line."""


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (default: $VIGILANTE_CONFIG, else built-in defaults)")


def config_files(args: argparse.Namespace) -> list[str]:
    """The configuration file a command reads (``--config``, else ``$VIGILANTE_CONFIG``), if any.

    It is one of the command's inputs: no ``--out`` may replace it.

    >>> config_files(argparse.Namespace(config="site.yaml"))
    ['site.yaml']
    """
    path = getattr(args, "config", None) or os.environ.get(CONFIG_PATH_ENV)
    return [path] if path else []


def _run_config(args: argparse.Namespace) -> int:
    if args.describe:
        print(describe())
        return 0
    cfg = load_config(args.config)
    import yaml

    print(f"# source: {cfg.source}  digest: {cfg.digest()}")
    print(yaml.safe_dump(cfg.as_dict(), sort_keys=False), end="")
    return 0


def _config_cmd_args(parser: argparse.ArgumentParser) -> None:
    _config_args(parser)
    parser.add_argument("--describe", action="store_true", help="print every key with its default and documentation")


def _lazy(module: str, function: str) -> Callable:
    """``module.function``, imported on first call: ``vigilante --help`` stays fast."""

    def call(arg):
        return getattr(importlib.import_module(module), function)(arg)

    return call


COMMANDS: list[Command] = [
    ("config", "validate and print the effective configuration", _config_cmd_args, _run_config),
    ("generate", "render every generated file (rules, dashboards, Grafana files, manifests)",
     _lazy("vigilante.generate", "add_arguments"), _lazy("vigilante.generate", "run")),
    ("prometheus-config", "write a runnable prometheus.yml and rule files for your own app",
     _lazy("vigilante.prometheus_config", "add_arguments"), _lazy("vigilante.prometheus_config", "run")),
    ("check", "check that Prometheus holds what the scorer needs (series, rules, buckets, history)",
     _lazy("vigilante.setup_check", "add_arguments"), _lazy("vigilante.setup_check", "run")),
    ("train", "fit the scorer's model on recorded normal traffic (CSV) and save it",
     _lazy("vigilante.backtest", "train_arguments"), _lazy("vigilante.backtest", "run_train")),
    ("serve", "run the live scorer: read features from Prometheus, score, export the decision",
     _lazy("vigilante.service.commands", "serve_arguments"), _lazy("vigilante.service.commands", "run_serve")),
    ("collect", "record the live features into a training CSV (one row per tick)",
     _lazy("vigilante.service.commands", "collect_arguments"), _lazy("vigilante.service.commands", "run_collect")),
    ("backtest", "replay recorded series (CSV) through the scorer: timestamp,score,threshold,alert per row",
     _lazy("vigilante.backtest", "backtest_arguments"), _lazy("vigilante.backtest", "run_backtest")),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="vigilante",
        description="Observability add-on for Flask apps: rules, dashboards, alerts and an anomaly scorer.",
    )
    parser.add_argument("--version", action="version", version=f"vigilante {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vigilante`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (UserError, ConfigError, OutputError) as exc:
        print(f"vigilante {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vigilante {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run as ``python -m vigilante.cli``, this module is ``__main__``: the commands raise
    # ``vigilante.cli.UserError``, which only the imported module's ``main`` catches.
    from vigilante.cli import main as imported_main

    sys.exit(imported_main())
