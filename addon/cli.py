"""The ``vigilante`` command line: one entry point, one sub-command per job.

Sub-commands register themselves in :data:`COMMANDS` as ``(name, help, add_arguments,
run)``; ``run(args)`` returns the exit code. Errors meant for the user are raised as
:class:`UserError` and printed as one line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from addon import __version__
from addon.config import ConfigError, describe, load_config


class UserError(Exception):
    """A problem the user can fix (bad input, bad config); printed as one line."""


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (default: $VIGILANTE_CONFIG, else built-in defaults)")


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


def _generate_args(parser: argparse.ArgumentParser) -> None:
    from addon import generate

    generate.add_arguments(parser)


def _run_generate(args: argparse.Namespace) -> int:
    from addon import generate

    return generate.run(args)


def _train_args(parser: argparse.ArgumentParser) -> None:
    from addon import backtest

    backtest.train_arguments(parser)


def _run_train(args: argparse.Namespace) -> int:
    from addon import backtest

    return backtest.run_train(args)


def _backtest_args(parser: argparse.ArgumentParser) -> None:
    from addon import backtest

    backtest.backtest_arguments(parser)


def _run_backtest(args: argparse.Namespace) -> int:
    from addon import backtest

    return backtest.run_backtest(args)


def _serve_args(parser: argparse.ArgumentParser) -> None:
    from addon.service import commands

    commands.serve_arguments(parser)


def _run_serve(args: argparse.Namespace) -> int:
    from addon.service import commands

    return commands.run_serve(args)


def _collect_args(parser: argparse.ArgumentParser) -> None:
    from addon.service import commands

    commands.collect_arguments(parser)


def _run_collect(args: argparse.Namespace) -> int:
    from addon.service import commands

    return commands.run_collect(args)


COMMANDS: list[Command] = [
    ("config", "validate and print the effective configuration", _config_cmd_args, _run_config),
    ("generate", "render every generated file (rule files, Alertmanager example, ...)", _generate_args, _run_generate),
    ("train", "fit the scorer's model on recorded normal traffic (CSV) and save it", _train_args, _run_train),
    ("serve", "run the live scorer: read features from Prometheus, score, export the decision", _serve_args, _run_serve),
    ("collect", "record the live features into a training CSV (one row per tick)", _collect_args, _run_collect),
    ("backtest", "replay recorded series (CSV) through the scorer: timestamp,score,alert per tick", _backtest_args, _run_backtest),
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
    except (UserError, ConfigError) as exc:
        print(f"vigilante {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vigilante {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
