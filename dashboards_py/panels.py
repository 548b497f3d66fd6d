"""Building blocks of the generated dashboards: queries that say what they read, panels with units and
descriptions, template variables, and a board that lays panels out and numbers them.

Every panel states where its data comes from, so a reader knows what it costs and when it has data:

- ``recorded``: recording rules of :mod:`vigilante.rules.recording` (cheap, fixed windows; no ``$__rate_interval``);
- ``raw``: the exporter's raw series, with ``$__rate_interval`` (or ``$__interval`` for per-bucket bars);
- ``kubernetes``: cAdvisor / kube-state-metrics series, which only exist in a cluster;
- ``scorer``: the anomaly scorer's own metrics (:mod:`vigilante.attach.metric_names`).

    >>> from vigilante.config import load_config
    >>> board = Board(load_config(env={}), "overview", "Example", "An example board.", [])
    >>> p = board.add(timeseries("Requests", "All requests.", "reqps", "recorded",
    ...                          [Query('namespace_job:flask_http_requests:rate5m{job="$job"}', "{{job}}")]))
    >>> board.dashboard().to_json_data()["panels"][0].description
    'All requests.\\n\\nReads recorded series (recording rules).'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import attr
from grafanalib import core as g

from vigilante.config import Config, load_config
from vigilante.rules.panels import PANELS

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""Every panel and query reads the datasource the ``datasource`` variable selects."""

SOURCES = {
    "recorded": "Reads recorded series (recording rules).",
    "raw": "Reads raw series with `$__rate_interval`.",
    "raw_interval": "Reads raw series, counted per `$__interval` bucket (bars that add up to the total).",
    "raw_gauge": "Reads raw gauges (no rate, no window).",
    "kubernetes": "Reads cAdvisor / kube-state-metrics series: it has data only in Kubernetes.",
    "scorer": "Reads the anomaly scorer's metrics.",
}
"""What a panel reads -> the sentence its description ends with."""

GRID_WIDTH = 24


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = "__auto"
    instant: bool = False
    """An instant query (tables, stats of "now") rather than a range."""
    table: bool = False
    """Return a table frame (``format: table``), for table panels."""

    def target(self, ref_id: str) -> g.Target:
        return g.Target(
            expr=self.expr,
            legendFormat=self.legend,
            refId=ref_id,
            instant=self.instant,
            format="table" if self.table else "time_series",
            datasource=DATASOURCE,
            # Grafana multiplies the step by intervalFactor; 1 keeps step == $__interval.
            intervalFactor=1,
        )


def _targets(queries: Sequence[Query]) -> list[g.Target]:
    return [q.target(chr(ord("A") + i)) for i, q in enumerate(queries)]


def _describe(description: str, reads: str) -> str:
    if reads not in SOURCES:
        raise ValueError(f"unknown source {reads!r}; one of {sorted(SOURCES)}")
    return f"{description}\n\n{SOURCES[reads]}"


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> list[dict[str, Any]]:
    """Field-config threshold steps; the first step's value is null (from minus infinity)."""
    return [{"color": color, "value": None if i == 0 else value} for i, (value, color) in enumerate(steps)]


def timeseries(title: str, description: str, unit: str, reads: str, queries: Sequence[Query], *,
               bars: bool = False, interval: str | None = None, stacked: bool = False,
               thresholds: Sequence[tuple[float | None, str]] = (), min_value: int | None = None,
               max_value: int | None = None) -> g.TimeSeries:
    """A time-series panel; ``bars`` draws one bar per ``$__interval`` bucket."""
    return g.TimeSeries(
        title=title,
        description=_describe(description, reads),
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit=unit,
        interval=interval,
        drawStyle="bars" if bars else "line",
        fillOpacity=80 if bars else 10,
        stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none", "group": "A"},
        thresholds=_thresholds(thresholds or [(None, "green")]),
        thresholdsStyleMode="line" if thresholds else "off",
        legendDisplayMode="table",
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        valueMin=min_value,
        valueMax=max_value,
    )


def stat(title: str, description: str, unit: str, reads: str, queries: Sequence[Query], *,
         thresholds: Sequence[tuple[float | None, str]] = (), decimals: int | None = None) -> g.Stat:
    """A single-value panel showing the last value."""
    return g.Stat(
        title=title,
        description=_describe(description, reads),
        dataSource=DATASOURCE,
        targets=_targets(queries),
        format=unit,
        reduceCalc="lastNotNull",
        decimals=decimals,
        graphMode="area",
        thresholds=_thresholds(thresholds or [(None, "green")]),
    )


def table(title: str, description: str, reads: str, columns: Sequence[tuple[str, str, Query]]) -> g.Table:
    """A table of instant queries joined on their labels: ``columns`` are ``(header, unit, query)``."""
    queries = [q for _, _, q in columns]
    overrides = []
    for i, (header, unit, _) in enumerate(columns):
        field = f"Value #{chr(ord('A') + i)}"
        overrides.append({
            "matcher": {"id": "byName", "options": field},
            "properties": [{"id": "displayName", "value": header}, {"id": "unit", "value": unit}],
        })
    return g.Table(
        title=title,
        description=_describe(description, reads),
        dataSource=DATASOURCE,
        targets=_targets(queries),
        unit="short",
        thresholds=_thresholds([(None, "green")]),
        overrides=overrides,
        # One row per label set, one column per query; drop the per-query Time columns.
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
    )


def template_variables(config: Config, label_metric: str, namespace: str, job: str) -> list[g.Template]:
    """``datasource``, ``namespace`` and ``job`` variables; ``label_metric`` is the series whose labels list
    the values, ``namespace``/``job`` the defaults shown before Grafana lists them."""
    datasource = g.Template(
        name="datasource", label="Data source", query="prometheus", type="datasource",
        default=config.grafana.datasource_name,
    )
    # Grafana stores a datasource variable's value as the datasource uid.
    datasource._current = {"selected": True, "text": config.grafana.datasource_name,
                           "value": config.grafana.datasource_uid}
    return [
        datasource,
        g.Template(
            name="namespace", label="Namespace", dataSource=DATASOURCE,
            query=f"label_values({label_metric}, namespace)", default=namespace,
            refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        ),
        g.Template(
            name="job", label="Job", dataSource=DATASOURCE,
            query=f'label_values({label_metric}{{namespace="$namespace"}}, job)', default=job,
            refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        ),
    ]


SELECTOR = 'namespace="$namespace", job="$job"'
"""Label matchers every query of a dashboard filters on."""


class Board:
    """Lays panels out left to right in rows of 24 columns and gives them stable ids.

    A panel an alert links to (``link``, a key of :data:`vigilante.rules.panels.PANELS`) takes the title and
    id fixed there, so the alert's ``dashboard_url`` and Grafana's ``panelId`` open it; the others
    are numbered by :meth:`grafanalib.core.Dashboard.auto_panel_ids`, in order.
    """

    def __init__(self, config: Config, slug: str, title: str, description: str, variables: list[g.Template],
                 annotations: Sequence[dict[str, Any]] = ()):
        self.config = config
        self.slug = slug
        self.title = title
        self.description = description
        self.variables = variables
        self.annotations = list(annotations)
        self.panels: list[Any] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def _newline(self) -> None:
        self._y += self._row_height
        self._x = 0
        self._row_height = 0

    def row(self, title: str) -> None:
        """Start a new (open) row titled ``title``."""
        if self._x:
            self._newline()
        self.panels.append(g.RowPanel(title=title, gridPos=g.GridPos(h=1, w=GRID_WIDTH, x=0, y=self._y)))
        self._y += 1

    def add(self, panel: Any, width: int = 12, height: int = 8, link: str | None = None) -> Any:
        """Place ``panel``; ``link`` gives it the title and id alerts link to."""
        if self._x + width > GRID_WIDTH:
            self._newline()
        changes: dict[str, Any] = {"gridPos": g.GridPos(h=height, w=width, x=self._x, y=self._y)}
        if link is not None:
            target = PANELS[link]
            if target.dashboard != self.slug:
                raise ValueError(f"panel {link!r} belongs on dashboard {target.dashboard!r}, not {self.slug!r}")
            changes.update(id=target.panel_id, title=target.title)
        panel = attr.evolve(panel, **changes)
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)
        return panel

    def uid(self) -> str:
        return dashboard_uid(self.config, self.slug)

    def dashboard(self) -> g.Dashboard:
        """The grafanalib dashboard, panel ids assigned."""
        return g.Dashboard(
            title=self.title,
            uid=self.uid(),
            description=self.description,
            tags=["vigilante"],
            editable=False,
            timezone="browser",
            refresh="30s",
            time=g.Time("now-3h", "now"),
            graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
            templating=g.Templating(list=self.variables),
            annotations=g.Annotations(list=self.annotations),
            links=[g.DashboardLink(title="Vigilante dashboards", tags=["vigilante"], asDropdown=True,
                                   includeVars=False, keepTime=True)],
            panels=self.panels,
        ).auto_panel_ids()


def module_dashboard(build: Callable[[Config, str], Any], slug: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` giving grafanalib's ``generate-dashboard`` the ``dashboard`` it reads.

    The dashboard is built on demand, so importing a ``*.dashboard.py`` file reads no configuration.
    """

    def module_getattr(name: str) -> Any:
        if name == "dashboard":
            return build(load_config(), slug).dashboard()
        raise AttributeError(name)

    return module_getattr


def dashboard_uid(config: Config, slug: str) -> str:
    """``<grafana.uid_prefix>-<slug>``: stable as long as neither is renamed (Grafana allows 40 characters).

    >>> from vigilante.config import load_config
    >>> dashboard_uid(load_config(env={}), "overview")
    'vigilante-overview'
    """
    uid = f"{config.grafana.uid_prefix}-{slug}"
    if len(uid) > 40 or not re.fullmatch(r"[a-zA-Z0-9_-]+", uid):
        raise ValueError(f"dashboard uid {uid!r} must be at most 40 letters, digits, '-' or '_'")
    return uid


def prometheus_annotation(name: str, expr: str, title: str, text: str, color: str) -> dict[str, Any]:
    """A dashboard annotation drawn wherever ``expr`` returns a series (e.g. an alert firing)."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "expr": expr,
        "step": "$__interval",
        "titleFormat": title,
        "textFormat": text,
        "useValueForTime": False,
    }
