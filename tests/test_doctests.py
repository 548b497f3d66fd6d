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


NOTHING_TO_RUN = {
    # Packages whose docstring only maps their modules (the examples are in the modules).
    "vigilante.attach", "vigilante.kubernetes", "vigilante.prometheus", "vigilante.rules", "vigilante.service",
    "vigilante.scorer",
    "vigilante.version",  # one constant
    "vigilante.cli.__main__",  # `python -m vigilante.cli`, run by tests/test_cli.py
    # The commands' argument parsers and runs: they read files and Prometheus, run by tests/test_cli.py.
    "vigilante.cli.backtest", "vigilante.cli.check", "vigilante.cli.generate",
}
"""Modules with no docstring example, each for a reason; every other module must run at least one."""


def examples_in(module: str) -> int:
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(importlib.import_module(module)))


def run_examples(module: str) -> None:
    """Run a module's docstring examples: all pass, and there is at least one."""
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{module} has no docstring example: add one, or list it in NOTHING_TO_RUN"


@pytest.mark.parametrize("module", sorted(set(package_modules()) - NOTHING_TO_RUN))
def test_docstring_examples_run(module):
    run_examples(module)


def test_the_modules_with_nothing_to_run_exist_and_have_no_example():
    assert NOTHING_TO_RUN <= set(package_modules())
    assert {m: examples_in(m) for m in NOTHING_TO_RUN} == dict.fromkeys(NOTHING_TO_RUN, 0)


# The scripts are not installed; the demo's and the benchmarks' examples run from the checkout.
SCRIPTS = ("scripts.demo", "scripts.stack", "scripts.bench_latency", "scripts.bench_detection", "scripts.detection_tiers",
           "scripts.scenarios", "scripts.real_series", "scripts.real_tier", "scripts.daily_series",
           "scripts.load_shapes", "scripts.demo_config", "scripts.harness.routing", "scripts.readme_figures")


@pytest.mark.parametrize("module", SCRIPTS)
def test_script_docstring_examples_run(module):
    run_examples(module)
