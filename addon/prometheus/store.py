"""Which PromQL store a URL leads to: Prometheus, VictoriaMetrics, or another look-alike.

The answer is for people (``vigilante check`` prints it, ``vigilante serve`` logs it): every
probe that fails only makes it vaguer, never an error.

- ``/-/ready`` answers "Prometheus Server is Ready." or "VictoriaMetrics is Ready.";
- ``/api/v1/status/buildinfo`` gives Prometheus' version (an empty object on VictoriaMetrics
  1.79; Grafana Mimir names itself in ``application``);
- VictoriaMetrics' own ``/metrics`` carries its version in ``vm_app_version``;
- ``/api/v1/rules`` says whether the store evaluates the rules itself (Prometheus) or lists no
  group (VictoriaMetrics, unless started with ``-vmalert.proxyURL``: then vmalert's groups).

>>> str(Store("VictoriaMetrics", "v1.79.5", 0))
'VictoriaMetrics v1.79.5'
>>> Store("Prometheus", "2.42.0", 2).rules_note
'its rules API lists 2 rule group(s)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigilante.prometheus.api import PrometheusAPI, PrometheusError

UNKNOWN = "an unidentified PromQL store"

_VM_VERSION = re.compile(r'^vm_app_version\{[^}]*short_version="([^"]*)"', re.MULTILINE)


@dataclass(frozen=True)
class Store:
    """The store's kind (``Prometheus``, ``VictoriaMetrics``, ...), its version if it tells, and how
    many rule groups its rules API lists (None when it has no readable rules API)."""

    kind: str
    version: str = ""
    rule_groups: int | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.version}".strip()

    @property
    def rules_note(self) -> str:
        """What the rules API says about where the recording rules run."""
        if self.rule_groups is None:
            return "its rules API cannot be read"
        if self.rule_groups == 0:
            vmalert = (" (the rules run in vmalert: start victoria-metrics with -vmalert.proxyURL=<vmalert's URL> "
                       "so the scorer ticks just after they are evaluated)") if self.kind == "VictoriaMetrics" else ""
            return f"its rules API lists no rule groups{vmalert}"
        return f"its rules API lists {self.rule_groups} rule group(s)"


def identify_store(api: PrometheusAPI) -> Store | None:
    """Ask ``api``'s server what it is (a few small requests; each one may fail); None when it does
    not answer at all."""
    try:
        status, ready = api.text("/-/ready")
    except PrometheusError:
        return None
    ready = ready if status == 200 else ""
    try:
        info = api.build_info()
    except PrometheusError:
        info = {}
    version = str(info.get("version", ""))
    if "VictoriaMetrics" in ready:
        kind = "VictoriaMetrics"
        match = _VM_VERSION.search(_text(api, "/metrics", cap=4 * 2**20))
        version = match.group(1) if match else ""
    elif isinstance(info.get("application"), str):
        kind = info["application"]
    elif "Prometheus" in ready:
        kind = "Prometheus"
    else:
        kind = UNKNOWN
    try:
        groups: int | None = len(api.rule_groups())
    except PrometheusError:
        groups = None
    return Store(kind, version, groups)


def _text(api: PrometheusAPI, path: str, cap: int = 65536) -> str:
    try:
        status, text = api.text(path, cap)
    except PrometheusError:
        return ""
    return text if status == 200 else ""
