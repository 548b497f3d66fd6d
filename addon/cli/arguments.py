"""Arguments every command shares: the configuration file it reads."""

from __future__ import annotations

import argparse
import os
import sys

from vigilante.config import CONFIG_PATH_ENV, Config, load_config, time_scale_line


def config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (default: ``$VIGILANTE_CONFIG``, else the built-in defaults)."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (default: $VIGILANTE_CONFIG, else built-in defaults)")


def config_files(args: argparse.Namespace) -> list[str]:
    """The configuration file a command reads (``--config``, else ``$VIGILANTE_CONFIG``), if any.

    It is one of the command's inputs: no ``--out`` may replace it.

    >>> config_files(argparse.Namespace(config="site.yaml"))
    ['site.yaml']
    """
    path = getattr(args, "config", None) or os.environ.get(CONFIG_PATH_ENV)
    return [path] if path else []


def load(args: argparse.Namespace) -> Config:
    """The command's configuration (``--config``, ``$VIGILANTE_CONFIG``, ``VIGILANTE_*``), saying on stderr
    when ``trial.time_scale`` compresses time, so that no command runs a trial unannounced."""
    config = load_config(getattr(args, "config", None))
    line = time_scale_line(config)
    if line:
        command = getattr(args, "command", None)
        print(f"vigilante {command}: {line}" if command else f"vigilante: {line}", file=sys.stderr)
    return config
