"""The example Alertmanager configuration, generated from the configuration and the alert definitions.

- routes grouped by service: one child route per ``service``, grouping by service and alert
  name; critical alerts go to the paging receiver, warnings and info to the notify receiver
  (``alerting.page_receiver``, ``alerting.notify_receiver``; by default named after the service);
- inhibition: while the app is down or absent, its latency, burn-rate, anomaly and
  per-target alerts are silenced (they are consequences, not causes);
- receivers: webhooks (``alerting.webhook_url``), the transport any on-call tool accepts.

Checked with ``amtool check-config`` and ``amtool config routes test`` in the tests.

    >>> from vigilante.config import load_config
    >>> cfg = alertmanager_config(load_config(env={"VIGILANTE_APP__JOB": "shop-api"}))
    >>> [r["name"] for r in cfg["receivers"]]
    ['default', 'shop-api-page', 'shop-api-notify']
"""

from __future__ import annotations

from vigilante.config import Config
from vigilante.escaping import label_value
from vigilante.rules.render import dump_yaml

APP_DOWN_ALERTS = ("VigilanteAppDown", "VigilanteAppAbsent")
"""Alerts meaning the app itself is gone."""

SILENCED_WHEN_APP_DOWN = (
    "VigilanteAppTargetDown",
    "VigilanteErrorBudgetBurnFast",
    "VigilanteErrorBudgetBurnSlow",
    "VigilanteHighLatencyP95",
    "VigilanteAnomalyDetected",
)
"""Alerts that are consequences of the app being down."""


def receiver_names(config: Config) -> dict[str, str]:
    """Receiver per purpose: ``page`` (critical), ``notify`` (warning, info), ``default``."""
    service, alerting = config.app.service_label, config.alerting
    return {"default": "default", "page": alerting.page_receiver or f"{service}-page",
            "notify": alerting.notify_receiver or f"{service}-notify"}


def alertmanager_config(config: Config) -> dict:
    """The Alertmanager configuration as plain data."""
    service = config.app.service_label
    names = receiver_names(config)

    def webhook(name: str) -> dict:
        return {"name": name, "webhook_configs": [{"url": config.alerting.webhook_url, "send_resolved": True}]}

    return {
        "route": {
            "receiver": names["default"],
            "group_by": ["service", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": [f"service={label_value(service)}"],
                    "receiver": names["notify"],
                    "group_by": ["service", "alertname"],
                    "routes": [
                        {
                            "matchers": ['severity="critical"'],
                            "receiver": names["page"],
                            "group_wait": "10s",
                            "repeat_interval": "1h",
                        },
                        {
                            # The scorer's decision has already held for hold_seconds: it is sent
                            # at once (group_wait 0), since any wait adds straight to onset-to-
                            # notification (scripts/bench_latency.py). Its group outlives an
                            # incident by up to Alertmanager's 30 s clean-up, so the next incident
                            # joins it and waits for group_interval: 10 s, not 5 minutes, and the
                            # end of an anomaly (its resolved notification) is news as quickly.
                            # The alert cannot flap faster: it looks at 20 s of the decision.
                            "matchers": ['alertname="VigilanteAnomalyDetected"'],
                            "receiver": names["notify"],
                            "group_wait": "0s",
                            "group_interval": "10s",
                        },
                        {"matchers": ['severity=~"warning|info"'], "receiver": names["notify"]},
                    ],
                }
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname=~"{"|".join(APP_DOWN_ALERTS)}"'],
                "target_matchers": [f'alertname=~"{"|".join(SILENCED_WHEN_APP_DOWN)}"'],
                "equal": ["service", "namespace"],
            },
            {
                # A paging burn-rate alert makes the ticket for the same budget redundant.
                "source_matchers": ['alertname="VigilanteErrorBudgetBurnFast"'],
                "target_matchers": ['alertname="VigilanteErrorBudgetBurnSlow"'],
                "equal": ["service", "namespace", "job"],
            },
        ],
        # One receiver per name: a configuration may send both purposes (or one) to the same place.
        "receivers": [webhook(name) for name in dict.fromkeys(names.values())],
    }


def alertmanager_yaml(config: Config) -> str:
    return dump_yaml(alertmanager_config(config))
