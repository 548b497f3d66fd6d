"""Real components for tests, the local stack and benchmarks, on 127.0.0.1.

Every server starts on a free port (or a given one), writes its log into its workdir,
is waited on with a deadline, and stops its whole process group; an interpreter exit
stops whatever is still running. A missing binary raises :class:`MissingBinaryError`
with the install command.
"""

from scripts.harness.alertmanager import AlertmanagerServer, webhook_config
from scripts.harness.binaries import (ALERTMANAGER, AMTOOL, PROMETHEUS, PROMTOOL, VICTORIA_METRICS, VMAGENT, VMALERT,
                                      MissingBinaryError, find_binary)
from scripts.harness.gunicorn import GunicornServer
from scripts.harness.process import (AlreadyStartedError, ManagedProcess, ProcessExitedError, free_port, port_is_free,
                                     wait_until)
from scripts.harness.prometheus import (PrometheusServer, backfill_openmetrics, backfill_recording_rules, promtool,
                                        static_scrape_config)
from scripts.harness.victoria import VictoriaMetricsServer, VMAgent, VMAlert, fresh_datasource
from scripts.harness.webhook import WebhookReceiver

__all__ = [
    "ALERTMANAGER", "AMTOOL", "PROMETHEUS", "PROMTOOL", "AlertmanagerServer", "AlreadyStartedError", "GunicornServer", "ManagedProcess",
    "MissingBinaryError", "ProcessExitedError", "PrometheusServer", "WebhookReceiver", "backfill_openmetrics", "backfill_recording_rules", "find_binary", "free_port",
    "port_is_free", "promtool", "static_scrape_config", "wait_until", "webhook_config",
    "VICTORIA_METRICS", "VMAGENT", "VMALERT", "VictoriaMetricsServer", "VMAgent", "VMAlert", "fresh_datasource",
]
