"""Every property test runs the same examples on every machine, so a failure in CI reproduces locally."""

from __future__ import annotations

import importlib

from tests.support import REPO_ROOT


def property_tests():
    """(module, name, settings) of every ``@given`` test under tests/."""
    for path in sorted((REPO_ROOT / "tests").glob("test_*.py")):
        if "@given" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(f"tests.{path.stem}")
        for name, function in vars(module).items():
            if name.startswith("test_") and hasattr(function, "hypothesis"):
                yield path.stem, name, function._hypothesis_internal_use_settings


def test_every_property_test_is_derandomized_and_prints_its_reproduction_blob():
    found = list(property_tests())
    assert found, "no @given test found"
    for module, name, settings in found:
        assert settings.derandomize and settings.print_blob and settings.database is None, f"{module}::{name}"
