"""Grafana provisioning files besides the alert rules: the datasource, the dashboard provider and an
example contact point.

- the datasource is the Prometheus the dashboards and alerts query, with the uid they name and
  ``jsonData.timeInterval`` set to the scrape interval, which ``$__rate_interval`` is built from;
- the dashboard provider reads the generated JSON files into the configured folder, and the UI may
  neither save over them (``allowUiUpdates: false``) nor delete them (``disableDeletion: true``):
  change the code and regenerate instead;
- the contact point is an *example* (a webhook and an e-mail receiver) whose URL, credentials and
  addresses come from the environment when Grafana starts. No notification policy is shipped:
  a provisioned policy tree replaces the organisation's whole routing tree.

    >>> from vigilante.config import load_config
    >>> datasource(load_config(env={}))["datasources"][0]["jsonData"]
    {'timeInterval': '15s', 'httpMethod': 'POST'}
"""

from __future__ import annotations

from typing import Any

from vigilante.config import Config
from vigilante.rules.render import dump_yaml

WEBHOOK_URL_ENV = "VIGILANTE_ALERT_WEBHOOK_URL"
WEBHOOK_USER_ENV = "VIGILANTE_ALERT_WEBHOOK_USER"
WEBHOOK_PASSWORD_ENV = "VIGILANTE_ALERT_WEBHOOK_PASSWORD"
EMAIL_ADDRESSES_ENV = "VIGILANTE_ALERT_EMAIL_ADDRESSES"
CONTACT_POINT = "vigilante"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def datasource(config: Config) -> dict[str, Any]:
    """The Prometheus datasource provisioning document."""
    return {
        "apiVersion": 1,
        "datasources": [{
            "name": config.grafana.datasource_name,
            "type": "prometheus",
            "uid": config.grafana.datasource_uid,
            "url": config.prometheus.url,
            "access": "proxy",
            "isDefault": False,
            "editable": False,
            "jsonData": {
                # Grafana's $__rate_interval is max($__interval + timeInterval, 4 * timeInterval).
                "timeInterval": _seconds(config.prometheus.scrape_interval_seconds),
                "httpMethod": "POST",
            },
        }],
    }


def dashboard_provider(config: Config) -> dict[str, Any]:
    """The dashboard provider provisioning document."""
    return {
        "apiVersion": 1,
        "providers": [{
            "name": config.grafana.uid_prefix,
            "orgId": 1,
            "folder": config.grafana.folder,
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 30,
            "options": {"path": config.grafana.dashboards_path, "foldersFromFilesStructure": False},
        }],
    }


def contact_points(config: Config) -> dict[str, Any]:
    """The example contact point: a webhook and e-mail, secrets from the environment."""
    prefix = config.grafana.uid_prefix
    return {
        "apiVersion": 1,
        "contactPoints": [{
            "orgId": 1,
            "name": CONTACT_POINT,
            "receivers": [
                {
                    "uid": f"{prefix}-webhook",
                    "type": "webhook",
                    "settings": {
                        "url": f"${{{WEBHOOK_URL_ENV}}}",
                        "httpMethod": "POST",
                        "username": f"${{{WEBHOOK_USER_ENV}}}",
                        "password": f"${{{WEBHOOK_PASSWORD_ENV}}}",
                    },
                    "disableResolveMessage": False,
                },
                {
                    "uid": f"{prefix}-email",
                    "type": "email",
                    "settings": {"addresses": f"${{{EMAIL_ADDRESSES_ENV}}}", "singleEmail": True},
                    "disableResolveMessage": False,
                },
            ],
        }],
    }


def _yaml(data: dict[str, Any], preamble: str = "") -> str:
    return preamble + dump_yaml(data)


def datasource_yaml(config: Config) -> str:
    return _yaml(datasource(config))


def dashboard_provider_yaml(config: Config) -> str:
    return _yaml(dashboard_provider(config))


def contact_points_yaml(config: Config) -> str:
    return _yaml(contact_points(config), (
        "# An example: copy it into Grafana's provisioning/alerting directory and set\n"
        f"# {WEBHOOK_URL_ENV}, {WEBHOOK_USER_ENV}, {WEBHOOK_PASSWORD_ENV} and {EMAIL_ADDRESSES_ENV}\n"
        "# in Grafana's environment (from a Kubernetes Secret). Grafana replaces ${VAR} when it reads the file.\n"
        "# No notification policy is shipped: a provisioned policy tree replaces the organisation's whole\n"
        f"# routing tree. Route alerts with label service={config.app.service_label} to contact point "
        f"'{CONTACT_POINT}' in your own policy.\n"
    ))
