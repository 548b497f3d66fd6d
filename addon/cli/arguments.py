"""Arguments every command shares: the configuration file it reads."""

from __future__ import annotations

import argparse
import os

from vigilante.config import CONFIG_PATH_ENV


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
