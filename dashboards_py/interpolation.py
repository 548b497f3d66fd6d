"""Template variables expanded the way Grafana's Prometheus datasource does, so that tests and scripts
can run a panel's exact query against Prometheus without a Grafana server.

Grafana (``pkg/promlib/models/query.go``: ``calculatePrometheusInterval``, ``calculateRateInterval``,
``InterpolateVariables``; ``pkg/promlib/intervalv2``: ``Calculate``, ``roundInterval``) computes:

- the step (``$__interval``): ``range / maxDataPoints``, raised to the minimum interval (the panel's
  ``interval`` if set, else the datasource's ``timeInterval``), then rounded to a "nice" duration,
  and never below ``range / 11000``;
- ``$__rate_interval``: ``max($__interval + scrape, 4 * scrape)`` where ``scrape`` is the panel's
  minimum interval if set, else the datasource's ``timeInterval``;
- dashboard variables (``$namespace``, ``${job}``): their single selected value, as is.

    >>> ctx = QueryContext(start=0, end=300, scrape_seconds=1, max_data_points=100,
    ...                    variables={"namespace": "tickets", "job": "ticket-app"})
    >>> ctx.step_seconds(), ctx.rate_interval_seconds()
    (2.0, 4.0)
    >>> expand('rate(x{namespace="$namespace", job="${job}"}[$__rate_interval])', ctx)
    'rate(x{namespace="tickets", job="ticket-app"}[4s])'
    >>> bars = QueryContext(start=0, end=300, scrape_seconds=1, max_data_points=100, min_interval="1m")
    >>> expand("increase(x[$__interval])", bars)
    'increase(x[1m])'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SAFE_RESOLUTION = 11000
"""Grafana never asks for more points than this per series."""

# (upper bound in seconds, rounded interval in seconds): Grafana's roundInterval table.
_ROUNDING = (
    (0.010, 0.001), (0.015, 0.010), (0.035, 0.020), (0.075, 0.050), (0.150, 0.100), (0.350, 0.200),
    (0.750, 0.500), (1.5, 1), (3.5, 2), (7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30), (90, 60),
    (210, 120), (450, 300), (750, 600), (1050, 900), (1500, 1200), (2700, 1800), (5400, 3600), (9000, 7200),
    (16200, 10800), (27000, 21600), (86400, 43200), (604800, 86400), (1814400, 604800), (3628800, 2592000),
)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float:
    """Seconds in a Grafana/Prometheus duration such as ``1m``, ``90s`` or ``1h30m``.

    >>> parse_duration("1h30m")
    5400.0
    """
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


def round_interval(seconds: float) -> float:
    """Grafana's ``roundInterval``: the "nice" interval for a raw one.

    >>> round_interval(3), round_interval(80), round_interval(100)
    (2, 60, 120)
    """
    for bound, rounded in _ROUNDING:
        if seconds <= bound:
            return rounded
    return 31536000


def format_interval(seconds: float) -> str:
    """Grafana's ``gtime.FormatInterval`` (what ``$__interval`` becomes): the largest unit, truncated.

    >>> format_interval(60), format_interval(90), format_interval(2), format_interval(0.5)
    ('1m', '1m', '2s', '500ms')
    """
    ms = int(round(seconds * 1000))
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{max(ms, 1)}ms"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole seconds (what ``$__rate_interval`` becomes).

    >>> go_duration(4), go_duration(64), go_duration(3600)
    ('4s', '1m4s', '1h0m0s')
    """
    total = int(round(seconds))
    if seconds != total:
        return f"{int(round(seconds * 1000))}ms"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it sends one panel query."""

    start: float
    end: float
    scrape_seconds: float
    """The datasource's ``jsonData.timeInterval``."""
    max_data_points: int = 100
    min_interval: str | None = None
    """The panel's ``interval`` (minimum step), if any."""
    variables: dict[str, str] = field(default_factory=dict)

    def _min_interval(self) -> float:
        return parse_duration(self.min_interval) if self.min_interval else self.scrape_seconds

    def step_seconds(self) -> float:
        """``$__interval`` in seconds: the query step."""
        span = self.end - self.start
        raw = span / self.max_data_points
        calculated = self._min_interval() if raw < self._min_interval() else round_interval(raw)
        return float(max(calculated, round_interval(span / SAFE_RESOLUTION)))

    def rate_interval_seconds(self) -> float:
        scrape = self._min_interval()
        return float(max(self.step_seconds() + scrape, 4 * scrape))


def expand(expr: str, ctx: QueryContext) -> str:
    """``expr`` with every Grafana global and dashboard variable replaced, as Grafana sends it."""
    step = ctx.step_seconds()
    span = ctx.end - ctx.start
    replacements = {
        "__rate_interval_ms": str(int(ctx.rate_interval_seconds() * 1000)),
        "__rate_interval": go_duration(ctx.rate_interval_seconds()),
        "__interval_ms": str(int(step * 1000)),
        "__interval": format_interval(step),
        "__range_ms": str(int(span * 1000)),
        "__range_s": str(int(round(span))),
        "__range": f"{int(round(span))}s",
        **ctx.variables,
    }
    # Longest names first, so $__interval does not eat the start of $__interval_ms.
    for name in sorted(replacements, key=len, reverse=True):
        value = replacements[name]
        expr = expr.replace("${" + name + "}", value)
        expr = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])", lambda _m: value, expr)
    leftover = re.search(r"\$\{?[A-Za-z_][A-Za-z0-9_]*", expr)
    if leftover:
        raise ValueError(f"unknown variable {leftover.group(0)!r} in {expr!r}")
    return expr
