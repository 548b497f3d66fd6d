"""Find the real Prometheus, promtool, Alertmanager, amtool and VictoriaMetrics binaries, or say how to get them."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass


class MissingBinaryError(RuntimeError):
    """A program the harness needs is not installed."""


@dataclass(frozen=True)
class Binary:
    """A program the harness runs: its override variable, the names to look for, and its package."""

    env_var: str
    names: tuple[str, ...]
    debian_package: str


PROMETHEUS = Binary("PROMETHEUS_BIN", ("prometheus",), "prometheus")
PROMTOOL = Binary("PROMTOOL_BIN", ("promtool",), "prometheus")
ALERTMANAGER = Binary("ALERTMANAGER_BIN", ("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager")
AMTOOL = Binary("AMTOOL_BIN", ("amtool",), "prometheus-alertmanager")
VICTORIA_METRICS = Binary("VICTORIA_METRICS_BIN", ("victoria-metrics", "victoria-metrics-prod"), "victoria-metrics")
VMAGENT = Binary("VMAGENT_BIN", ("vmagent", "vmagent-prod"), "victoria-metrics")
VMALERT = Binary("VMALERT_BIN", ("vmalert", "vmalert-prod"), "victoria-metrics")


def find_binary(binary: Binary, env: dict[str, str] | None = None) -> str:
    """The path of ``binary``: ``$ENV_VAR`` when set, else the first name found on PATH.

    Raises :class:`MissingBinaryError` naming the binary, the install command and the
    override variable.
    """
    env = os.environ if env is None else env
    override = env.get(binary.env_var)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise MissingBinaryError(f"{binary.env_var}={override} is not an executable file")
    for name in binary.names:
        path = shutil.which(name, path=env.get("PATH"))
        if path:
            return path
    raise MissingBinaryError(
        f"{binary.names[0]} not found on PATH: install it with `sudo apt-get install -y {binary.debian_package}` "
        f"(or run `make setup`), or set {binary.env_var}=/path/to/{binary.names[0]}"
    )
