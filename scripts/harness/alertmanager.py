"""A real Alertmanager on a free 127.0.0.1 port, clustering off, with a throw-away data dir."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
import yaml

from scripts.harness.binaries import ALERTMANAGER, find_binary
from scripts.harness.process import ManagedProcess, free_port, refuse_second_start


def webhook_config(webhook_url: str, group_wait: str = "1s", group_interval: str = "1s",
                   repeat_interval: str = "1h") -> dict[str, Any]:
    """The smallest routing tree: everything to one webhook receiver, sent at once."""
    return {
        "route": {"receiver": "webhook", "group_by": ["alertname"], "group_wait": group_wait,
                  "group_interval": group_interval, "repeat_interval": repeat_interval},
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }


class AlertmanagerServer:
    """Run Alertmanager with ``config`` (a dict, written as YAML) until :meth:`stop`."""

    def __init__(self, workdir: Path, config: dict[str, Any], port: int | None = None):
        self.workdir = Path(workdir)
        self.config = config
        self.port = port or free_port()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "AlertmanagerServer":
        refuse_second_start(self.process, "alertmanager")
        binary = find_binary(ALERTMANAGER)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={self.workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # An empty cluster address turns gossip off; otherwise every instance binds :9094.
            "--cluster.listen-address=",
        ]
        self.process = ManagedProcess("alertmanager", argv, self.workdir / "alertmanager.log").start()
        self.process.wait_ready(self._ready, timeout, f"to be ready at {self.url}")
        return self

    def _ready(self) -> bool:
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def post_alert(self, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        """Send one firing alert through the v2 API, as Prometheus would."""
        alert = {"labels": labels, "annotations": annotations or {},
                 "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        response = requests.post(f"{self.url}/api/v2/alerts", json=[alert], timeout=5)
        response.raise_for_status()

    def alerts(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/api/v2/alerts", timeout=5).json()
