"""Grafana's expansion of $__interval, $__rate_interval and dashboard variables, reproduced."""

from __future__ import annotations

import pytest

from vigilante.dashboards.interpolation import QueryContext, expand, format_interval, go_duration, round_interval


@pytest.mark.parametrize("span, scrape, points, min_interval, step, rate", [
    (3600, 15, 100, None, 30, 60),        # 1h: 36s -> 30s; rate = max(30 + 15, 60)
    (21600, 15, 100, None, 300, 315),     # 6h: 216s -> 5m; rate = 5m + 15s
    (300, 1, 100, None, 2, 4),            # the tests' 1 s scrape
    (60, 1, 100, None, 1, 4),             # below the scrape interval: the scrape interval
    (300, 1, 100, "1m", 60, 240),         # a panel's minimum interval wins, and is the "scrape" of rate
    (86400 * 30, 15, 100, None, 21600, 21615),  # 25920s -> 6h
])
def test_step_and_rate_interval(span, scrape, points, min_interval, step, rate):
    ctx = QueryContext(start=0, end=span, scrape_seconds=scrape, max_data_points=points, min_interval=min_interval)
    assert ctx.step_seconds() == step
    assert ctx.rate_interval_seconds() == rate


def test_formats_are_grafanas():
    assert [format_interval(s) for s in (0.2, 1, 59, 60, 61, 3600, 86400 * 2)] == ["200ms", "1s", "59s", "1m", "1m",
                                                                                   "1h", "2d"]
    assert [go_duration(s) for s in (4, 60, 315, 7200)] == ["4s", "1m0s", "5m15s", "2h0m0s"]
    assert [round_interval(s) for s in (0.9, 1.6, 11, 16, 24, 40, 80)] == [1, 2, 10, 15, 20, 30, 60]


def test_expand_replaces_globals_and_variables_and_refuses_unknown_ones():
    ctx = QueryContext(start=0, end=3600, scrape_seconds=15, variables={"job": "web", "namespace": "shop"})
    expr = 'sum(rate(x{job="$job", namespace="${namespace}"}[$__rate_interval])) / $__interval_ms + $__range_s'
    assert expand(expr, ctx) == 'sum(rate(x{job="web", namespace="shop"}[1m0s])) / 30000 + 3600'
    with pytest.raises(ValueError, match="unknown variable"):
        expand('up{x="$nope"}', ctx)
    # $__interval does not swallow the start of $__interval_ms, nor $job of $jobs
    assert expand("$__interval_ms $__interval", ctx) == "30000 30s"
