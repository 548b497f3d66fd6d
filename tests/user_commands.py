"""The add-on's commands run as a user runs them: a separate ``vigilante`` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def prometheus_config(config_path: Path, app_url: str, out: Path) -> Path:
    """``vigilante prometheus-config`` for the app at ``app_url``; returns the ``prometheus.yml`` it wrote."""
    subprocess.run([sys.executable, "-m", "vigilante.cli", "prometheus-config", "--config", str(config_path),
                    "--target", app_url.split("://", 1)[1], "--out", str(out)], check=True, timeout=60)
    return out / "prometheus.yml"
