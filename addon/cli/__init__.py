"""The ``vigilante`` command line: one entry point, one sub-command per job.

Sub-commands register themselves in :data:`COMMANDS` as ``(name, help, add_arguments,
run)``; ``run(args)`` returns the exit code. Each command's arguments and run live in a module
of this package, imported on first use. Errors meant for the user
(:class:`~vigilante.errors.VigilanteError` and its subclasses) are printed as one line on
stderr, without a traceback, and exit 2: this package is the only place that turns errors
into exit codes, and no other part of ``vigilante`` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

import yaml

from vigilante.cli.arguments import config_args, config_files, load  # noqa: F401 - config_files: for the commands
from vigilante.config import describe
from vigilante.errors import UserError, VigilanteError  # noqa: F401 - UserError: the commands' error, named here too
from vigilante.rules.alertmanager import receiver_names
from vigilante.service.state_file import state_path
from vigilante.version import __version__

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _run_config(args: argparse.Namespace) -> int:
    if args.describe:
        print(describe())
        return 0
    cfg = load(args)
    print(f"# source: {cfg.source}  digest: {cfg.digest()}")
    if cfg.trial.time_scale != 1:
        # These values are already divided: read back as a file, they would be divided again.
        print(f"# trial.time_scale {cfg.trial.time_scale:g} applied: the durations below are the compressed ones")
    print(yaml.safe_dump(cfg.as_dict(), sort_keys=False), end="")
    resolved = _resolved_empty_keys(cfg)
    if resolved:
        print("# empty keys above, as every command reads them:")
        for key, value in resolved.items():
            print(f"#   {key}: {value}")
    return 0


def _resolved_empty_keys(cfg) -> dict[str, str]:
    """What each key left empty stands for (``app.service`` is the job, and so on)."""
    receivers = receiver_names(cfg)
    meaning = {
        ("app", "service"): cfg.app.service_label,
        ("app", "team"): cfg.app.team_label,
        ("kubernetes", "app_pod_selector"): cfg.app_pod_selector,
        ("scorer", "state_path"): str(state_path(cfg)),
        ("alerting", "page_receiver"): receivers["page"],
        ("alerting", "notify_receiver"): receivers["notify"],
    }
    data = cfg.as_dict()
    return {f"{section}.{key}": value for (section, key), value in meaning.items() if data[section][key] == ""}


def _config_cmd_args(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--describe", action="store_true", help="print every key with its default and documentation")


def _lazy(module: str, function: str) -> Callable:
    """``module.function``, imported on first call: ``vigilante --help`` stays fast."""

    def call(arg):
        return getattr(importlib.import_module(module), function)(arg)

    return call


COMMANDS: list[Command] = [
    ("config", "validate and print the effective configuration", _config_cmd_args, _run_config),
    ("generate", "render every generated file (rules, dashboards, Grafana files, manifests)",
     _lazy("vigilante.cli.generate", "add_arguments"), _lazy("vigilante.cli.generate", "run")),
    ("prometheus-config", "write a runnable prometheus.yml and rule files for your own app",
     _lazy("vigilante.cli.prometheus_config", "add_arguments"), _lazy("vigilante.cli.prometheus_config", "run")),
    ("check", "check that Prometheus holds what the scorer needs (series, rules, buckets, history)",
     _lazy("vigilante.cli.check", "add_arguments"), _lazy("vigilante.cli.check", "run")),
    ("train", "fit the scorer's model on recorded normal traffic (CSV) and save it",
     _lazy("vigilante.cli.backtest", "train_arguments"), _lazy("vigilante.cli.backtest", "run_train")),
    ("serve", "run the live scorer: read features from Prometheus, score, export the decision",
     _lazy("vigilante.cli.service", "serve_arguments"), _lazy("vigilante.cli.service", "run_serve")),
    ("collect", "record the live features into a training CSV (one row per tick)",
     _lazy("vigilante.cli.service", "collect_arguments"), _lazy("vigilante.cli.service", "run_collect")),
    ("backtest", "replay recorded series (CSV) through the scorer: timestamp,score,threshold,alert per row",
     _lazy("vigilante.cli.backtest", "backtest_arguments"), _lazy("vigilante.cli.backtest", "run_backtest")),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command.

    >>> args = build_parser().parse_args(["check", "--config", "vigilante.yaml"])
    >>> args.command, args.run.__name__
    ('check', 'call')
    """
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
    except VigilanteError as exc:
        print(f"vigilante {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vigilante {args.command}: interrupted", file=sys.stderr)
        return 130

