"""``vigilante generate``: the command's arguments and its run (the work is :mod:`vigilante.generate`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vigilante.cli.arguments import config_args, load
from vigilante.generate import (DEMO_APP_PREFIX, RECORD_NAME, find_orphans, next_record, refuse_foreign_targets,
                                render_all, stale_files, user_targets)
from vigilante.output_files import OutputError, WrittenRecord, check_target, write_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_args(parser)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 listing files that are missing or stale")
    parser.add_argument("--out", "--root", dest="root", metavar="DIR", default=".",
                        help="folder to write into, laid out as the repository is: rules/generated/, "
                             "dashboards_py/generated/, manifests/ (default: .)")
    parser.add_argument("--demo-app", action="store_true",
                        help=f"also write the demo app's manifests ({DEMO_APP_PREFIX}); the repository's own "
                             "`make generate` does, your installation does not need them")


def run(args: argparse.Namespace) -> int:
    config = load(args)
    inputs = () if config.source == "<defaults>" else (config.source,)
    root = Path(args.root)
    if root.exists() and not root.is_dir():
        raise OutputError(f"--out {root}: exists and is not a folder")
    selected = user_targets(args.demo_app)
    rendered = render_all(config, selected)
    stale = stale_files(root, rendered)  # refuses what is not a regular file before anything else reads it
    orphans = find_orphans(root, selected)
    record = next_record(root, rendered)
    for path, why in orphans.left_alone:
        print(f"left alone: {path} ({why})", file=sys.stderr)
    if args.check:
        return _report_check(root, rendered, stale, orphans.removable, record)
    refuse_foreign_targets(root, stale)
    for path in [*stale, RECORD_NAME]:
        check_target(root / path, inputs)  # all refusals before the first write
    for path in stale:
        write_text(root / path, rendered[path], inputs=inputs)
        print(f"wrote {path}")
    for path in orphans.removable:
        # Ours, unchanged, and nothing writes it: left in place it would be read (a rule file
        # Prometheus loads, a dashboard Grafana provisions) but never updated.
        (root / path).unlink()
        print(f"removed {path} (generated, but no target writes it any more)")
    if stale_files(root, {RECORD_NAME: record.text()}):
        record.save(inputs=inputs)  # last: an interrupted run leaves the old record, which still holds
    print(f"{len(stale)} written, {len(rendered) - len(stale)} unchanged, {len(orphans.removable)} orphans removed")
    return 0


def _report_check(root: Path, rendered: dict[str, str], stale: list[str], orphans: list[str],
                  record: WrittenRecord) -> int:
    stale = stale + stale_files(root, {RECORD_NAME: record.text()})
    for path in stale:
        print(f"stale: {path}", file=sys.stderr)
    for path in orphans:
        print(f"orphan: {path} (generated, but no target writes it any more)", file=sys.stderr)
    if stale or orphans:
        print(f"{len(stale)} of {len(rendered) + 1} generated files are stale, {len(orphans)} orphaned: "
              "run `make generate`", file=sys.stderr)
        return 1
    print(f"{len(rendered) + 1} generated files up to date (the record included), no orphans")
    return 0
