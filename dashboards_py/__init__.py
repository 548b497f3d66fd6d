"""Grafana dashboards and Grafana-managed alerts, as code.

- ``*.dashboard.py``: one grafanalib dashboard each, built by ``build(config, slug)``; the file
  name is the slug, and the dashboard uid is ``<grafana.uid_prefix>-<slug>``;
- :mod:`vigilante.dashboards.panels`: the shared building blocks (queries, panels, variables, layout);
- :mod:`vigilante.dashboards.grafana_alerts`: the alerts of :mod:`vigilante.rules.alerts` in Grafana's
  file-provisioning shape;
- :mod:`vigilante.dashboards.provisioning`: datasource, dashboard provider and contact-point files;
- :mod:`vigilante.dashboards.grafana_format`: structural checks of every file against Grafana's formats;
- :mod:`vigilante.dashboards.interpolation`: template variables expanded the way Grafana does, so tests run
  every query against the real Prometheus.

The outputs are written to ``dashboards_py/generated/`` by ``vigilante generate``.

    >>> from vigilante.config import load_config
    >>> sorted(build_dashboards(load_config(env={})))
    ['anomaly', 'overview', 'resources']
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import yaml
from grafanalib._gen import DashboardEncoder

from vigilante.config import Config
from vigilante.dashboards import grafana_alerts, grafana_format, provisioning
from vigilante.errors import UserError
from vigilante.targets import Target, header

DASHBOARD_DIR = Path(__file__).resolve().parent
DASHBOARD_SUFFIX = ".dashboard.py"
GENERATED_DIR = "dashboards_py/generated"
GENERATED_KEY = "__generated"
"""Top-level key of a generated dashboard JSON saying where it came from. Grafana keeps unknown
keys of a dashboard's JSON model and acts on none of them (like its own ``__inputs`` and
``__requires`` export keys)."""


def dashboard_files() -> list[Path]:
    """Every ``*.dashboard.py`` definition, sorted by name."""
    return sorted(DASHBOARD_DIR.glob(f"*{DASHBOARD_SUFFIX}"))


def slug_of(path: Path) -> str:
    """``overview.dashboard.py`` -> ``overview``."""
    return path.name[: -len(DASHBOARD_SUFFIX)]


def load_definition(path: Path) -> ModuleType:
    """Import one ``*.dashboard.py`` file (its name is not a module name, so by path)."""
    spec = importlib.util.spec_from_file_location(f"vigilante.dashboards._definitions.{slug_of(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_dashboards(config: Config) -> dict[str, Any]:
    """Slug -> grafanalib ``Dashboard`` of every definition, panel ids assigned."""
    return {slug_of(p): load_definition(p).build(config, slug_of(p)).dashboard() for p in dashboard_files()}


def dashboard_model(dashboard: Any, slug: str, marker: str) -> dict[str, Any]:
    """The dashboard's JSON model as plain data, with the "generated" marker."""
    model = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    # `__inputs` is for the UI's import dialog; a provisioned dashboard names its datasource through
    # the `datasource` variable instead.
    model.pop("__inputs", None)
    model.pop("rows", None)  # the legacy layout; panels carry gridPos
    return {GENERATED_KEY: marker, **model}


def dashboard_json(config: Config, slug: str) -> str:
    """The generated JSON file of dashboard ``slug``."""
    marker = header(f"dashboards_py/{slug}{DASHBOARD_SUFFIX}", config, comment="").replace("\n ", " ").strip()
    path = DASHBOARD_DIR / f"{slug}{DASHBOARD_SUFFIX}"
    model = dashboard_model(load_definition(path).build(config, slug).dashboard(), slug, marker)
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def checked(render: Callable[[Config], str], kind: str, path: str) -> Callable[[Config], str]:
    """``render``, refusing to write a file that fails its :mod:`~vigilante.dashboards.grafana_format` check."""

    def render_checked(config: Config) -> str:
        text = render(config)
        problems = grafana_format.CHECKS[kind](json.loads(text) if path.endswith(".json") else yaml.safe_load(text))
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise UserError(f"{path} would not have the shape Grafana reads ({len(problems)} problems): {listed}")
        return text

    return render_checked


def generation_targets() -> list[Target]:
    """The files ``vigilante generate`` writes from this package (registered in :mod:`vigilante.generate`);
    each is checked against Grafana's documented format before it is written."""

    targets = []
    for p in dashboard_files():
        path = f"{GENERATED_DIR}/{slug_of(p)}.json"
        render = checked(lambda config, slug=slug_of(p): dashboard_json(config, slug), "dashboard", path)
        targets.append(Target(path, f"dashboards_py/{p.name}", render, comment=None))
    for name, source, render, kind in (
        ("grafana-alert-rules.yaml", "grafana_alerts.py", grafana_alerts.alert_rules_yaml, "alert-rules"),
        ("grafana-datasource.yaml", "provisioning.py", provisioning.datasource_yaml, "datasource"),
        ("grafana-dashboard-provider.yaml", "provisioning.py", provisioning.dashboard_provider_yaml,
         "dashboard-provider"),
        ("grafana-contact-points.example.yaml", "provisioning.py", provisioning.contact_points_yaml, "contact-points"),
    ):
        path = f"{GENERATED_DIR}/{name}"
        targets.append(Target(path, f"dashboards_py/{source}", checked(render, kind, path)))
    return targets
