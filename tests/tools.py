"""Tools the tests run that are not Python packages of ours: missing locally, a test skips; in CI, it fails.

``make setup`` installs them (scripts/install_system_packages.sh); a CI run that lacks one
must not pass by skipping the tests that need it.
"""

from __future__ import annotations

import os

import pytest


def missing_tool(message: str) -> None:
    """Skip the calling test, or fail it when ``CI=true``: CI runs everything or says why not."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing tool fails the run instead of skipping tests)")
    pytest.skip(message)
