"""Every docstring example in the ``vigilante`` package runs, imported by its installed name.

pytest's ``--doctest-modules`` would import ``addon/x.py`` as ``addon.x`` (a second copy of
each module beside ``vigilante.x``), so the examples are collected here from the package itself.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

# In an editable install the two folders outside addon/ are mapped subpackages, not found by
# walking vigilante.__path__, so each folder is walked from its own package.
FOLDERS = ("vigilante", "vigilante.rules", "vigilante.dashboards")


def package_modules() -> list[str]:
    """Every module of the installed package, subpackages included."""
    names = set(FOLDERS)
    for folder in FOLDERS:
        package = importlib.import_module(folder)
        names.update(m.name for m in pkgutil.walk_packages(package.__path__, f"{folder}."))
    return sorted(names)


def test_the_package_has_its_three_folders():
    names = package_modules()
    assert {"vigilante.rules", "vigilante.dashboards", "vigilante.scorer.detector"} <= set(names)


@pytest.mark.parametrize("module", package_modules())
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# The scripts are not installed; the demo's and the benchmarks' examples run from the checkout.
SCRIPTS = ("scripts.demo", "scripts.stack", "scripts.bench_latency", "scripts.bench_detection", "scripts.detection_tiers",
           "scripts.scenarios", "scripts.real_series", "scripts.real_tier",
           "scripts.load_shapes", "scripts.demo_config", "scripts.harness.routing", "scripts.readme_figures")


@pytest.mark.parametrize("module", SCRIPTS)
def test_script_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
