"""``vigilante check``: the command's arguments and its run (the checks: :mod:`vigilante.service.setup_check`)."""

from __future__ import annotations

import argparse

from vigilante.cli.arguments import config_args, load
from vigilante.prometheus.api import PrometheusAPI
from vigilante.prometheus.store import identify_store
from vigilante.service.setup_check import run_checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)


def run(args: argparse.Namespace) -> int:
    config = load(args)
    api = PrometheusAPI(config.prometheus.url, timeout=config.prometheus.query_timeout_seconds, retries=0)
    store = identify_store(api)
    print(f"store: {store} at {config.prometheus.url}; {store.rules_note}" if store
          else f"store: no answer at {config.prometheus.url}")
    findings = run_checks(config, api)
    for finding in findings:
        print(finding.line())
    failed = sum(not f.ok for f in findings)
    print(f"{len(findings) - failed} of {len(findings)} checks passed against {config.prometheus.url}")
    return 1 if failed else 0
