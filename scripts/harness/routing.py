"""Which Alertmanager routes an alert lands on, as Alertmanager itself decides (``amtool config routes test``).

amtool answers with receiver names only, and several routes may share a receiver; so each route
of a copy of the tree gets a receiver named after its place in the tree, amtool matches the
copy, and the settings of each matched route are those of the original with what it inherits
from its parents filled in. ``continue``, ``matchers``, the older ``match``/``match_re`` and
every matcher syntax are amtool's.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from scripts.harness.binaries import AMTOOL, find_binary

_NOT_INHERITED = ("routes", "matchers", "match", "match_re", "continue")


def _tagged(node: dict[str, Any], path: str, by_tag: dict[str, list[dict[str, Any]]],
            chain: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``node`` whose receivers are named after their route's place; ``by_tag`` maps each to its chain."""
    chain = [*chain, node]
    by_tag[path] = chain
    copy = {k: v for k, v in node.items() if k != "routes"}
    copy["receiver"] = path
    if node.get("routes"):
        copy["routes"] = [_tagged(child, f"{path}.{i}", by_tag, chain) for i, child in enumerate(node["routes"])]
    return copy


def _inherited(chain: list[dict[str, Any]]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for node in chain:
        settings.update({k: v for k, v in node.items() if k not in _NOT_INHERITED})
    return settings


def routes_for(routing: dict[str, Any], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every route (a ``route:`` tree of an Alertmanager configuration) an alert with ``labels`` notifies through.

    In the tree's order, each with the settings it inherits (``receiver``, ``group_wait``, …)
    filled in. Raises ``ValueError`` naming amtool when amtool refuses the tree.

    >>> tree = {"receiver": "r", "group_wait": "30s", "routes": [
    ...     {"matchers": ['service="a"'], "receiver": "log", "continue": True},
    ...     {"matchers": ['severity="critical"'], "receiver": "p", "group_wait": "10s"}]}
    >>> [(r["receiver"], r["group_wait"]) for r in routes_for(tree, {"service": "a", "severity": "critical"})]
    [('log', '30s'), ('p', '10s')]
    """
    by_tag: dict[str, list[dict[str, Any]]] = {}
    tagged = _tagged(routing, "route", by_tag, [])
    config = {"route": tagged, "receivers": [{"name": tag} for tag in by_tag]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        run = subprocess.run([find_binary(AMTOOL), "config", "routes", "test", f"--config.file={path}",
                              *(f"{k}={v}" for k, v in sorted(labels.items()))],
                             capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        raise ValueError(f"amtool refused the routing tree: {(run.stderr or run.stdout).strip().splitlines()[-1:]}")
    tags = [t.strip() for t in run.stdout.strip().split(",") if t.strip()]
    return [_inherited(by_tag[tag]) for tag in tags]


def route_for(routing: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The first route :func:`routes_for` finds for ``labels``, with its inherited settings.

    >>> tree = {"receiver": "r", "group_wait": "30s", "routes": [{"matchers": ['service="a"'], "receiver": "a",
    ...         "routes": [{"matchers": ['severity="critical"'], "receiver": "p", "group_wait": "10s"}]}]}
    >>> route_for(tree, {"service": "a", "severity": "warning"})["group_wait"]
    '30s'
    >>> route_for(tree, {"service": "a", "severity": "critical"})["group_wait"]
    '10s'
    """
    return routes_for(routing, labels)[0]
