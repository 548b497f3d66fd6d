"""scripts/install_system_packages.sh: which Debian packages it asks for, without installing anything.

Each run sees a PATH of stand-ins (no apt-get): a missing package is then named in the error,
and a binary named by its ``*_BIN`` variable counts as present.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install_system_packages.sh"
PRESENT = ("prometheus", "promtool", "prometheus-alertmanager", "amtool", "mariadbd")


def run(tmp_path: Path, env: dict[str, str], script: Path = SCRIPT) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in PRESENT:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    for tool in ("id", "dirname"):
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(f"/usr/bin/{tool}")
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_BIN") and k != "CI"}
    return subprocess.run(["/bin/bash", str(script), "--with-test-services"], capture_output=True, text=True,
                          env={**clean, "PATH": str(bin_dir), **env}, timeout=60)


def test_the_test_services_include_victoria_metrics(tmp_path):
    result = run(tmp_path, {})
    assert result.returncode == 1
    assert "missing Debian packages: victoria-metrics" in result.stderr and "VICTORIA_METRICS_BIN" in result.stderr


def test_victoria_metrics_binaries_named_by_their_variables_count_as_present(tmp_path):
    fake = tmp_path / "vm"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = run(tmp_path, {"VICTORIA_METRICS_BIN": str(fake), "VMAGENT_BIN": str(fake), "VMALERT_BIN": str(fake)})
    assert result.returncode == 0, result.stderr
    assert "missing Debian packages" not in result.stderr
