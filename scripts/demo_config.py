"""The demo app's configuration: the file that names the tickets, read by everything that runs the demo.

The shipped defaults name no app but their job and namespace; the demo's service, team,
receivers, business counters, pod selector and runbook link are stated in
``app_under_test/vigilante-demo.yaml``. ``make generate`` renders the committed files from it,
and the local stack and the tests that check those files load it the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from vigilante.config import Config, load_config

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "app_under_test" / "vigilante-demo.yaml"
"""The demo's configuration file."""


def demo_config(env: Mapping[str, str] | None = None) -> Config:
    """The demo's configuration; ``env`` (default: none) adds ``VIGILANTE_<SECTION>__<KEY>`` overrides.

    >>> cfg = demo_config()
    >>> cfg.app.service_label, cfg.grafana.business_counters[0]
    ('tickets', 'tickets_sold_total')
    """
    return load_config(DEMO_CONFIG, env={} if env is None else env)
