"""The installed package: one top-level name, ``vigilante``, with its data; no demo app, no scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO_ROOT as REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (path,) = out.glob("vigilante-*.whl")
    return path


def test_the_wheel_installs_one_top_level_name_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"vigilante"}
    for expected in ("vigilante/rules/generated/vigilante-recording.rules.yml",
                     "vigilante/dashboards/overview.dashboard.py",
                     "vigilante/dashboards/generated/grafana-alert-rules.yaml",
                     "vigilante/scorer/detector.py", "vigilante/attach/request_metrics.py", "vigilante/cli/__init__.py",
                     "vigilante/kubernetes/manifests.py", "vigilante/prometheus/api.py", "vigilante/service/serve.py"):
        assert expected in names, expected
    assert not any(n.startswith(("app_under_test/", "scripts/", "tests/")) for n in names)


def test_the_installed_package_works_away_from_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    code = ("import vigilante, vigilante.rules, vigilante.dashboards;"
            "from vigilante.config import load_config;"
            "from vigilante.generate import render_all;"
            "files = render_all(load_config(env={}));"
            "print(vigilante.__file__); print(len(files))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    location, count = run.stdout.split()
    assert location.startswith(str(target)) and int(count) > 30
    for name in ("addon", "rules", "dashboards_py"):
        probe = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, env=env, capture_output=True)
        assert probe.returncode != 0, f"{name} is importable from the installed package"
