"""``vigilante prometheus-config``: the command's arguments and its run (the files: :mod:`vigilante.prometheus.prometheus_config`)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from vigilante.cli.arguments import config_args, load
from vigilante.errors import UserError
from vigilante.prometheus.prometheus_config import CONFIG_NAME, write_prometheus_config

_HOST_PORT = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


def host_port(value: str) -> str:
    """An argparse type: ``HOST:PORT`` (a name, an IPv4 address or a bracketed IPv6 address).

    >>> host_port("127.0.0.1:8000"), host_port("[::1]:9110")
    ('127.0.0.1:8000', '[::1]:9110')
    >>> host_port("http://127.0.0.1:8000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 'http://127.0.0.1:8000' is not HOST:PORT (e.g. 127.0.0.1:8000; no scheme, no path)
    """
    if not _HOST_PORT.match(value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8000; no scheme, no path)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--target", metavar="HOST:PORT", type=host_port, action="append", required=True,
                        help="your app's /metrics address (repeat for several processes or hosts)")
    parser.add_argument("--scorer", metavar="HOST:PORT", type=host_port, action="append",
                        help="the scorer's address (default: 127.0.0.1:<scorer.listen_port>); repeatable")
    parser.add_argument("--alertmanager", metavar="HOST:PORT", type=host_port, action="append", default=[],
                        help="Alertmanager to send the alerts to (default: none)")
    parser.add_argument("--out", metavar="DIR", required=True, type=Path,
                        help=f"folder for {CONFIG_NAME} and its rule files (created if missing)")
    parser.add_argument("--force", action="store_true",
                        help=f"replace {CONFIG_NAME} or a rule file there even if this command did not write it "
                             "(or it was edited since)")


def run(args: argparse.Namespace) -> int:
    config = load(args)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out}: exists and is not a folder")
    scorers = args.scorer or [f"127.0.0.1:{config.scorer.listen_port}"]
    for path in write_prometheus_config(config, args.target, scorers, args.out, args.alertmanager,
                                        force=args.force):
        print(f"wrote {path}")
    print(f"app job {config.app.job!r} (namespace {config.app.namespace!r}) at {', '.join(args.target)}; "
          f"scorer job {config.scorer.job!r} at {', '.join(scorers)}")
    # Prometheus' own defaults are every interface and ./data: loopback and a folder of its own instead.
    print(f"run: prometheus --config.file={args.out / CONFIG_NAME} --web.listen-address=127.0.0.1:9090 "
          f"--storage.tsdb.path={args.out / 'data'}")
    return 0
