"""Smoke test of `python -m scripts.bench_query_cost --quick`: it runs end to end and prints its JSON line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT as REPO


@pytest.mark.slow
def test_quick_benchmark_prints_a_json_line_and_recording_rules_are_cheaper():
    run = subprocess.run([sys.executable, "-m", "scripts.bench_query_cost", "--quick"],
                         capture_output=True, text=True, timeout=240, cwd=REPO)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "query_cost" and result["quick"] is True
    assert result["raw_samples_per_refresh"] > result["recorded_samples_per_refresh"] + result["rule_samples_per_refresh"]
    assert "total per refresh" in run.stdout
