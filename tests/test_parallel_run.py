"""How `make test` runs the suite in parallel: whole modules per worker, the longest first."""

import subprocess

from tests.conftest import LONGEST_MODULES
from tests.support import REPO_ROOT


def test_the_longest_modules_named_for_the_parallel_order_exist():
    missing = [name for name in LONGEST_MODULES if not (REPO_ROOT / "tests" / name).is_file()]
    assert missing == [], f"renamed or removed: {missing}; update LONGEST_MODULES in tests/conftest.py"


def test_make_test_keeps_each_module_on_one_worker():
    # a module fixture (a Prometheus and its traffic window, a wheel build) must be built
    # once: two workers building one wheel in the same tree break each other
    dry_run = subprocess.run(["make", "-n", "test", "test-fast"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=30, check=True).stdout
    pytest_lines = [line for line in dry_run.splitlines() if " -m pytest" in line]
    assert len(pytest_lines) == 2, dry_run
    assert all("-n 4 --dist loadfile" in line for line in pytest_lines), pytest_lines
