"""A real Prometheus on a free 127.0.0.1 port with a throw-away data directory."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Sequence

import requests
import yaml

from vigilante.prometheus.api import PrometheusAPI
from scripts.harness.binaries import PROMETHEUS, PROMTOOL, find_binary
from scripts.harness.process import ManagedProcess, free_port, refuse_second_start, wait_until
from scripts.harness.promql import PromQLQueries


def static_scrape_config(job: str, targets: Sequence[str], labels: dict[str, str] | None = None,
                         interval: str | None = None, metrics_path: str = "/metrics") -> dict[str, Any]:
    """One ``scrape_configs`` entry for fixed ``host:port`` targets with extra target labels."""
    entry: dict[str, Any] = {
        "job_name": job,
        "metrics_path": metrics_path,
        "static_configs": [{"targets": list(targets), "labels": dict(labels or {})}],
    }
    if interval:
        entry["scrape_interval"] = interval
    return entry


class PrometheusServer(PromQLQueries):
    """Run Prometheus with the given scrape configs and rule files until :meth:`stop`.

    ``extra_args`` go on the command line (e.g. ``--storage.tsdb.retention.time=1d``);
    ``data_dir`` may point at existing blocks (backfilled history) instead of a fresh dir.
    ``config_file`` runs an existing configuration file as it is (rule files relative to it).
    The admin API and lifecycle endpoints are on, for tests that snapshot or reload.
    """

    def __init__(self, workdir: Path, scrape_configs: Sequence[dict[str, Any]] = (), rule_files: Sequence[Path] = (),
                 scrape_interval: str = "1s", evaluation_interval: str = "1s", port: int | None = None,
                 data_dir: Path | None = None, extra_args: Sequence[str] = (), alertmanager_url: str | None = None,
                 config: dict[str, Any] | None = None, config_file: Path | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.config_file_given = config_file is not None
        self.config_path = Path(config_file) if config_file else self.workdir / "prometheus.yml"
        if config_file:
            self.config = yaml.safe_load(self.config_path.read_text())
        else:
            self.config = config or self.build_config(scrape_configs, rule_files, scrape_interval, evaluation_interval,
                                                      alertmanager_url)
        self.extra_args = list(extra_args)
        self.process: ManagedProcess | None = None
        self.api = PrometheusAPI(self.url, timeout=10, retries=0)

    @staticmethod
    def build_config(scrape_configs: Sequence[dict[str, Any]], rule_files: Sequence[Path], scrape_interval: str,
                     evaluation_interval: str, alertmanager_url: str | None) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
            "rule_files": [str(Path(p).resolve()) for p in rule_files],
            "scrape_configs": list(scrape_configs),
        }
        if alertmanager_url:
            host = alertmanager_url.split("://", 1)[-1].rstrip("/")
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
        return config

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "PrometheusServer":
        refuse_second_start(self.process, "prometheus")
        binary = find_binary(PROMETHEUS)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.config_file_given:
            self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            *self.extra_args,
        ]
        self.process = ManagedProcess("prometheus", argv, self.workdir / "prometheus.log").start()
        self.process.wait_ready(self.api.ready, timeout, f"to be ready at {self.url}")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def reload(self, config: dict[str, Any] | None = None) -> None:
        """Rewrite the config file (when given) and ask Prometheus to reload it."""
        if config is not None:
            self.config = config
            self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        response = requests.post(f"{self.url}/-/reload", timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"reload failed: HTTP {response.status_code}: {response.text.strip()}")

    # Queries ---------------------------------------------------------------------------


    def targets_up(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` active targets report healthy."""

        def healthy() -> bool:
            data = requests.get(f"{self.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            return sum(t["health"] == "up" for t in data) >= count

        wait_until(healthy, timeout, f"{count} healthy scrape target(s) in {self.url}")

    def rules_evaluated(self, timeout: float = 30.0) -> None:
        """Wait until every loaded rule group has been evaluated at least once."""

        def evaluated() -> bool:
            groups = requests.get(f"{self.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
            return bool(groups) and all(g.get("lastEvaluation", "").startswith("20") for g in groups)

        wait_until(evaluated, timeout, "every rule group to be evaluated once")


def promtool(*args: str, timeout: float = 120.0, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run promtool with ``args`` (in ``cwd``); the result carries returncode, stdout and stderr."""
    return subprocess.run([find_binary(PROMTOOL), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def backfill_openmetrics(text: str, data_dir: Path, workdir: Path) -> None:
    """Write OpenMetrics samples (with timestamps, ending in ``# EOF``) as TSDB blocks into ``data_dir``.

    Start Prometheus on ``data_dir`` afterwards: it loads the blocks at start-up (overlapping
    blocks are allowed by default since 2.39).
    """
    source = Path(workdir) / "backfill.om"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text if text.rstrip().endswith("# EOF") else text.rstrip("\n") + "\n# EOF\n")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    run = promtool("tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir), timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {run.stdout}{run.stderr}")


def backfill_recording_rules(server: "PrometheusServer", rule_file: Path, start: float, end: float,
                             interval: str = "15s") -> None:
    """Evaluate the recording rules of ``rule_file`` over ``[start, end]`` into ``server``'s storage.

    ``promtool tsdb create-blocks-from rules`` queries a running Prometheus, so a rule
    that reads another rule's output only sees it once that output is loaded: the rules
    are backfilled level by level (rules reading raw series first), restarting
    ``server`` after each level so it loads the new blocks.
    """
    groups = yaml.safe_load(Path(rule_file).read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "record" in rule]
    done: set[str] = set()
    level = 0
    while len(done) < len(rules):
        names = {rule["record"] for rule in rules}
        ready = [r for r in rules if r["record"] not in done
                 and not any(_reads(r["expr"], name) for name in names - done - {r["record"]})]
        if not ready:
            raise RuntimeError(f"recording rules in {rule_file} depend on each other in a cycle")
        level_file = server.workdir / f"backfill-level{level}.yml"
        level_file.write_text(yaml.safe_dump({"groups": [{"name": f"level{level}", "rules": ready}]}))
        out = server.workdir / f"backfill-level{level}"
        run = promtool("tsdb", "create-blocks-from", "rules", f"--start={int(start)}", f"--end={int(end)}",
                       f"--url={server.url}", f"--output-dir={out}", f"--eval-interval={interval}", str(level_file),
                       timeout=600)
        if run.returncode != 0:
            raise RuntimeError(f"promtool rules backfill failed: {run.stdout}{run.stderr}")
        server.stop()
        for block in out.iterdir():
            block.rename(server.data_dir / block.name)
        server.start()
        done.update(r["record"] for r in ready)
        level += 1


def _reads(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) is not None
