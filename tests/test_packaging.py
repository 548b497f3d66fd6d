"""The installed package: its distribution name, one top-level import name ``vigilante`` with its data,
the ``vigilante`` command; no demo app, no scripts; a build setuptools has nothing to warn about."""

from __future__ import annotations

import configparser
import email.parser
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO_ROOT as REPO

DISTRIBUTION = "flask-vigilante"
"""The name on the public package index (``vigilante`` there is an unrelated project)."""


def normalized(name: str) -> str:
    """A distribution name as the index compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> subprocess.CompletedProcess:
    """One verbose wheel build of the checkout; its output is where setuptools' warnings show."""
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose",
                          "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    run.out_dir = out
    return run


@pytest.fixture(scope="module")
def wheel(build) -> Path:
    (path,) = build.out_dir.glob("*.whl")
    return path


def dist_info_file(wheel: Path, name: str) -> str:
    archive = zipfile.ZipFile(wheel)
    (member,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}") and n.count("/") == 1]
    return archive.read(member).decode()


def test_the_wheel_is_named_for_the_distribution_not_the_unrelated_index_project(wheel):
    assert normalized(wheel.name.split("-", 1)[0]) == DISTRIBUTION
    metadata = email.parser.Parser().parsestr(dist_info_file(wheel, "METADATA"))
    assert metadata["Name"] == DISTRIBUTION


def test_the_wheel_installs_the_vigilante_command(wheel):
    entry_points = configparser.ConfigParser()
    entry_points.read_string(dist_info_file(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {"vigilante": "vigilante.cli:main"}


def test_the_readme_install_line_names_this_distribution():
    readme = (REPO / "README.md").read_text()
    requirements = re.findall(r"pip install '([^'\s/]+)\[", readme)
    assert requirements, "the README has no `pip install 'NAME[extra]'` line"
    assert {normalized(r) for r in requirements} == {DISTRIBUTION}


def test_the_build_prints_no_setuptools_warning_about_ignored_packages(build):
    output = build.stdout + build.stderr
    assert "would be ignored" not in output.lower(), re.findall(r"Package '[^']+'", output)


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
