"""Smoke runs of the overhead and scorer-cost benchmarks: each runs in its quick mode and reports every figure
the README quotes from it (``scripts/readme_figures.py`` names them). Their values are timings on a shared
machine, so only their presence and sanity are checked here, never their size."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from scripts.readme_figures import FIGURES, lookup

from tests.support import REPO_ROOT


def quick_run(script: str, *args: str) -> tuple[str, dict]:
    run = subprocess.run([sys.executable, "-m", f"scripts.{script}", "--quick", *args], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run.stdout, json.loads(run.stdout.strip().splitlines()[-1])


def quoted_figures(benchmark: str, result: dict) -> dict[str, float]:
    """Every figure the README quotes from ``benchmark``, read from ``result`` (a KeyError if one is missing)."""
    return {figure.key: lookup(result, figure.key) for figure in FIGURES if figure.benchmark == benchmark}


@pytest.mark.slow
def test_the_overhead_benchmark_quick_run_reports_the_exporter_cost_in_both_modes():
    table, result = quick_run("bench_overhead", "--client", "python")
    figures = quoted_figures("bench_overhead", result)
    assert figures and all(math.isfinite(v) for v in figures.values()), figures
    for mode in ("threads", "processes"):
        assert 0 < result["modes"][mode]["real_pages_ratio_from_cpu"] <= 1.5
    assert result["recommended_mode"]["mode"] in ("threads", "processes")
    assert "exporter CPU per request (in-process)" in table and "recommended gunicorn mode" in table


@pytest.mark.slow
def test_the_scorer_cost_benchmark_quick_run_reports_cpu_per_tick_and_memory():
    table, result = quick_run("bench_scorer")
    assert result["benchmark"] == "scorer_cost" and result["quick"] is True and result["ticks"] == 60
    figures = quoted_figures("bench_scorer", result)
    assert figures and all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    assert result["cpu_ratio"] == pytest.approx(result["service_cpu_ms_per_tick"] / result["bare_cpu_ms_per_tick"],
                                                rel=0.01)
    assert "(goal: CPU ratio <= 2; rounds" in table and result["cpu_ratio_rounds"] == [result["cpu_ratio"]]
