"""A real VictoriaMetrics on free 127.0.0.1 ports: the single-node store, vmagent and vmalert.

Debian's ``victoria-metrics`` package ships all three (``sudo apt-get install -y
victoria-metrics``; override with ``VICTORIA_METRICS_BIN``, ``VMAGENT_BIN``, ``VMALERT_BIN``).
Each runs with a throw-away directory under its workdir and stops with its process group.

- :class:`VictoriaMetricsServer` stores and answers PromQL (MetricsQL) on ``/api/v1/query``;
  it evaluates no rules. It runs with the store's own defaults unless told otherwise
  (``latency_offset`` sets ``-search.latencyOffset``, which hides the last minute from queries
  that do not pass ``nocache=1``).
- :class:`VMAgent` scrapes a Prometheus ``scrape_configs`` file and remote-writes to the store;
  ``members_count``/``member_num`` shard the targets between several agents.
- :class:`VMAlert` evaluates Prometheus rule files against the store (reading its latest
  samples: :func:`fresh_datasource`), writes the recorded
  series and alert states back and notifies Alertmanager; it serves a Prometheus-shaped rules
  API at ``/api/v1/rules``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import requests
import yaml

from scripts.harness.binaries import VICTORIA_METRICS, VMAGENT, VMALERT, find_binary
from scripts.harness.process import ManagedProcess, free_port, wait_until
from scripts.harness.promql import PromQLQueries
from vigilante.prometheus.api import PrometheusAPI


class _Server:
    """A VictoriaMetrics program on a free 127.0.0.1 port, ready when ``/-/ready`` answers 200."""

    name = ""

    def __init__(self, workdir: Path, port: int | None = None, extra_args: Sequence[str] = ()):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> "_Server":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(self.name, [*self.argv(), f"-httpListenAddr=127.0.0.1:{self.port}",
                                                  *self.extra_args], self.workdir / f"{self.name}.log").start()
        self.process.wait_ready(self._ready, timeout, f"to be ready at {self.url}")
        return self

    def _ready(self) -> bool:
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def metric(self, name: str) -> float:
        """The sum of the program's own ``name`` samples on its ``/metrics`` (0 when it has none)."""
        total = 0.0
        for line in requests.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            head, _, value = line.rpartition(" ")
            if head.split("{", 1)[0] == name:
                total += float(value)
        return total


class VictoriaMetricsServer(PromQLQueries, _Server):
    """Run the single-node ``victoria-metrics`` until :meth:`stop`; data under ``workdir/data``.

    ``retention`` is ``-retentionPeriod`` (a number of months, or e.g. ``1y``, ``30d``).
    """

    name = "victoria-metrics"

    def __init__(self, workdir: Path, port: int | None = None, retention: str = "1y", latency_offset: str | None = None,
                 extra_args: Sequence[str] = ()):
        super().__init__(workdir, port, extra_args)
        self.retention = retention
        self.latency_offset = latency_offset
        self.data_dir = self.workdir / "data"
        self.api = PrometheusAPI(self.url, timeout=10, retries=0)

    def argv(self) -> list[str]:
        offset = [f"-search.latencyOffset={self.latency_offset}"] if self.latency_offset is not None else []
        return [find_binary(VICTORIA_METRICS), f"-storageDataPath={self.data_dir}", f"-retentionPeriod={self.retention}",
                *offset]

    def start(self, timeout: float = 30.0) -> "VictoriaMetricsServer":
        super().start(timeout)
        return self

    wait_interval = 0.5

    def before_each_try(self) -> None:
        # The store indexes new series in batches: a series seen for the first time is
        # otherwise searchable only some 10 s after its first sample.
        self.flush()

    def import_prometheus(self, text: str) -> None:
        """Store samples in the Prometheus text format (timestamps in milliseconds, as exposition
        writes them) through ``/api/v1/import/prometheus``, and make them searchable at once."""
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data=text.encode(), timeout=60)
        response.raise_for_status()
        self.flush()

    def flush(self) -> None:
        """Make every sample received so far visible to queries (``/internal/force_flush``)."""
        requests.get(f"{self.url}/internal/force_flush", timeout=30).raise_for_status()

    def series_count(self) -> int:
        """Series the store holds (``/api/v1/status/tsdb``'s ``totalSeries``)."""
        return int(requests.get(f"{self.url}/api/v1/status/tsdb", timeout=10).json()["data"]["totalSeries"])


class VMAgent(_Server):
    """Run ``vmagent`` scraping ``config`` (a Prometheus configuration dict, written as YAML) into
    ``remote_write_url`` until :meth:`stop`.

    ``members_count``/``member_num`` make this agent one shard of a cluster: each scrapes only its
    share of the targets. The configuration may be a whole ``prometheus.yml``: the fields a scraper
    does not know (``rule_files``, ``alerting``) are ignored (``-promscrape.config.strictParse=false``).
    """

    name = "vmagent"

    def __init__(self, workdir: Path, config: dict[str, Any], remote_write_url: str, members_count: int = 1,
                 member_num: int = 0, port: int | None = None, extra_args: Sequence[str] = ()):
        super().__init__(workdir, port, extra_args)
        self.config = config
        self.remote_write_url = remote_write_url
        self.members_count = members_count
        self.member_num = member_num

    def argv(self) -> list[str]:
        config_path = self.workdir / "scrape.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return [find_binary(VMAGENT), f"-promscrape.config={config_path}", "-promscrape.config.strictParse=false",
                # Its own queue folder: two agents sharing one would send each other's samples.
                f"-remoteWrite.url={self.remote_write_url}", f"-remoteWrite.tmpDataPath={self.workdir / 'queue'}",
                f"-promscrape.cluster.membersCount={self.members_count}",
                f"-promscrape.cluster.memberNum={self.member_num}", "-remoteWrite.flushInterval=200ms"]

    def start(self, timeout: float = 30.0) -> "VMAgent":
        super().start(timeout)
        return self

    def targets(self) -> list[dict[str, Any]]:
        """The targets this agent scrapes (``/api/v1/targets``'s active targets)."""
        data = requests.get(f"{self.url}/api/v1/targets", timeout=5).json()["data"]
        return data["activeTargets"]

    def targets_up(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` of this agent's targets report healthy."""
        wait_until(lambda: sum(t["health"] == "up" for t in self.targets()) >= count, timeout,
                   f"{count} healthy scrape target(s) in {self.url}")


def fresh_datasource(store_url: str) -> str:
    """The ``-datasource.url`` that makes vmalert read a VictoriaMetrics store's latest samples.

    vmalert 1.79 queries at "now" without ``nocache=1``, which the store answers from its data
    of ``-search.latencyOffset`` (30 s) earlier: every recorded series and alert would lag 30 s.
    vmalert keeps a query string given in the URL on every query.

    >>> fresh_datasource("http://127.0.0.1:8428/")
    'http://127.0.0.1:8428/?nocache=1'
    """
    return f"{store_url.rstrip('/')}/?nocache=1"


class VMAlert(_Server):
    """Run ``vmalert`` evaluating ``rule_files`` against the store at ``store_url`` until :meth:`stop`.

    It reads through :func:`fresh_datasource` (``fresh=False``: the URL as given); recorded
    series and alert states are written back to the store; alerts go to ``notifier_url`` (an
    Alertmanager, or anything that takes a POST): vmalert refuses alerting rules without one.
    """

    name = "vmalert"

    def __init__(self, workdir: Path, store_url: str, rule_files: Sequence[Path], notifier_url: str | None = None,
                 evaluation_interval: str = "1s", port: int | None = None, extra_args: Sequence[str] = (),
                 fresh: bool = True):
        super().__init__(workdir, port, extra_args)
        self.store_url = store_url.rstrip("/")
        self.datasource_url = fresh_datasource(store_url) if fresh else store_url
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.notifier_url = notifier_url
        self.evaluation_interval = evaluation_interval
        self.api = PrometheusAPI(self.url, timeout=10, retries=0)

    def argv(self) -> list[str]:
        notifier = [f"-notifier.url={self.notifier_url}"] if self.notifier_url else []
        return [find_binary(VMALERT), *(f"-rule={p}" for p in self.rule_files),
                f"-datasource.url={self.datasource_url}", f"-remoteWrite.url={self.store_url}",
                f"-remoteRead.url={self.store_url}", f"-evaluationInterval={self.evaluation_interval}",
                "-remoteWrite.flushInterval=200ms", *notifier]

    def start(self, timeout: float = 30.0) -> "VMAlert":
        super().start(timeout)
        return self

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups vmalert evaluates, as its Prometheus-shaped ``/api/v1/rules`` answers."""
        return self.api.rule_groups()

    def rules_evaluated(self, timeout: float = 30.0) -> None:
        """Wait until every rule of every group has been evaluated at least once."""

        def evaluated() -> bool:
            groups = self.rule_groups()
            rules = [rule for group in groups for rule in group["rules"]]
            return bool(rules) and all(str(rule.get("lastEvaluation", "")).startswith("20") for rule in rules)

        wait_until(evaluated, timeout, "every vmalert rule to be evaluated once")
