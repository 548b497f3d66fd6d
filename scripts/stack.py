"""The local stack: the app, Prometheus with our rules, Alertmanager with the example routing, a webhook receiver, the scorer.

Everything on 127.0.0.1 with a throw-away work directory, built on ``scripts.harness``::

    .venv/bin/python -m scripts.stack                 # `make stack`: runs until Ctrl-C
    .venv/bin/python -m scripts.stack --load steady   # ... with steady Locust traffic (headless)
    .venv/bin/python -m scripts.stack --interval 2    # compressed time: scrape, evaluate, tick every 2 s

Prometheus reads the static-targets variant of the one ``prometheus.yml`` source
(:mod:`vigilante.prometheus.scrape_config`) and the generated rule files; Alertmanager reads the example
configuration (:mod:`vigilante.rules.alertmanager`) with its webhook pointed at the local receiver,
which records every notification. The configuration is the demo's (:mod:`scripts.demo_config`); every
override on top of it is kept in :attr:`LocalStack.overrides`, so reports can print it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import requests

from vigilante.config import Config, PrometheusConfig
from vigilante.prometheus.scrape_config import prometheus_config, static_scrape_configs
from scripts.demo_config import demo_config
from scripts.harness import (ALERTMANAGER, PROMETHEUS, AlertmanagerServer, GunicornServer, ManagedProcess,
                             MissingBinaryError, PrometheusServer, WebhookReceiver, find_binary, free_port,
                             port_is_free)

REPO_ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = (REPO_ROOT / "rules/generated/vigilante-recording.rules.yml",
              REPO_ROOT / "rules/generated/vigilante-alerts.rules.yml")
COMPONENTS = ("app", "prometheus", "alertmanager", "scorer", "webhook")
DEFAULT_PORTS = {"app": 8000, "prometheus": 9090, "alertmanager": 9093, "scorer": 9110, "webhook": 5001}
"""The ports ``make stack`` asks for first; a taken one falls back to a free port, with a message."""


class StackError(RuntimeError):
    """The stack cannot start (a port taken, a binary missing, a component failing); the message says which."""


def interval_overrides(seconds: float) -> dict[str, dict[str, Any]]:
    """The knobs compressed time changes: scrape, rule evaluation and scorer tick intervals.

    Every scorer window is a duration in seconds, counted in ticks of whatever interval the
    scorer runs at, so it keeps the shipped wall-clock length: the hold is still 60 s (30
    ticks of 2 s), and the baseline still moves over minutes, not over a few seconds of a
    1-minute rate that barely changes from one dense tick to the next.

    >>> o = interval_overrides(2)
    >>> o["scorer"], o["prometheus"]["evaluation_interval_seconds"]
    ({'tick_seconds': 2.0}, 2.0)
    """
    return {
        "prometheus": {"scrape_interval_seconds": float(seconds), "evaluation_interval_seconds": float(seconds),
                       # the scorer's own interval is never longer than the others
                       "scorer_interval_seconds": min(float(seconds), PrometheusConfig().scorer_interval_seconds)},
        "scorer": {"tick_seconds": float(seconds)},
    }


def apply_overrides(config: Config, overrides: dict[str, dict[str, Any]]) -> Config:
    for section, keys in overrides.items():
        config = config.replace(section, **keys)
    return config


def changed_from_defaults(config: Config) -> dict[str, dict[str, dict[str, Any]]]:
    """``{section: {key: {"shipped": default, "used": value}}}`` for every knob that differs from the defaults.

    >>> cfg = apply_overrides(Config(), interval_overrides(2))
    >>> changed_from_defaults(cfg)["scorer"]["tick_seconds"]
    {'shipped': 15.0, 'used': 2.0}
    """
    shipped, used = Config().as_dict(), config.as_dict()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for section, keys in used.items():
        for key, value in keys.items():
            if shipped[section][key] != value:
                out.setdefault(section, {})[key] = {"shipped": shipped[section][key], "used": value}
    return out


def config_env(overrides: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The ``VIGILANTE_<SECTION>__<KEY>`` variables that give a process the same overrides.

    >>> config_env({"scorer": {"tick_seconds": 2.0}})
    {'VIGILANTE_SCORER__TICK_SECONDS': '2.0'}
    """
    return {f"VIGILANTE_{section.upper()}__{key.upper()}": str(value)
            for section, keys in overrides.items() for key, value in keys.items()}


def graph_link(prometheus_url: str, exprs: list[str], range_input: str = "30m") -> str:
    """A Prometheus UI link that plots ``exprs`` together.

    >>> graph_link("http://127.0.0.1:9090", ["up"])
    'http://127.0.0.1:9090/graph?g0.expr=up&g0.tab=0&g0.range_input=30m'
    """
    parts = [f"g{i}.expr={quote(expr, safe='')}&g{i}.tab=0&g{i}.range_input={range_input}"
             for i, expr in enumerate(exprs)]
    return f"{prometheus_url}/graph?" + "&".join(parts)


def panel_queries(config: Config) -> dict[str, list[str]]:
    """The series each overview dashboard panel plots, for ready-made Prometheus UI links."""
    from vigilante.attach import metric_names
    from vigilante.rules.recording import feature_queries

    q = feature_queries(config)
    scorer = f'{{job="{config.scorer.job}"}}'
    return {
        "Requests per second": [q["requests_per_second"]],
        "Error ratio (5xx)": [q["error_ratio"]],
        "Latency p50 / p95 / p99": [q["latency_p50_seconds"], q["latency_p95_seconds"], q["latency_p99_seconds"]],
        "Anomaly score, threshold and decision": [metric_names.SCORE + scorer, metric_names.THRESHOLD + scorer,
                                                  metric_names.DECISION + scorer],
        "Scrape targets up": [f'up{{job=~"{config.app.job}|{config.scorer.job}"}}'],
        "Alerts": ['ALERTS{alertstate="firing"}'],
    }


class LocalStack:
    """Start, watch and stop the local stack; use as a context manager so an error stops everything.

    ``ports`` maps a component (:data:`COMPONENTS`) to the port it must use (0 or absent: a
    free one). ``overrides`` are configuration changes (``{section: {key: value}}``) given
    to every component; ``route_overrides`` change keys of the Alertmanager root route
    (tests only: the demo uses the example routing unchanged).
    """

    def __init__(self, workdir: Path, overrides: dict[str, dict[str, Any]] | None = None,
                 ports: dict[str, int] | None = None, route_overrides: dict[str, Any] | None = None,
                 say: Callable[[str], None] = print):
        self.workdir = Path(workdir)
        self.overrides = {section: dict(keys) for section, keys in (overrides or {}).items()}
        self.config = apply_overrides(demo_config(), self.overrides)
        self.requested_ports = {name: port for name, port in (ports or {}).items() if port}
        self.route_overrides = dict(route_overrides or {})
        self.say = say
        self.faults_token = secrets.token_urlsafe(16)
        self.webhook: WebhookReceiver | None = None
        self.alertmanager: AlertmanagerServer | None = None
        self.app: GunicornServer | None = None
        self.prometheus: PrometheusServer | None = None
        self.scorer: ManagedProcess | None = None
        self.scorer_port = 0
        self.load: ManagedProcess | None = None

    # --- life cycle --------------------------------------------------------------------

    def __enter__(self) -> "LocalStack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def preflight(self) -> None:
        """Fail early, in one message, when a binary is missing or a requested port is taken."""
        problems = []
        for binary in (PROMETHEUS, ALERTMANAGER):
            try:
                find_binary(binary)
            except MissingBinaryError as exc:
                problems.append(str(exc))
        for name, port in self.requested_ports.items():
            if not port_is_free(port):
                problems.append(f"port {port} for {name} is taken on 127.0.0.1: stop what listens there "
                                f"(`ss -ltnp 'sport = :{port}'`) or choose another port (0 = any free port)")
        if problems:
            raise StackError("; ".join(problems))

    def start(self, with_scorer: bool = True) -> "LocalStack":
        """Start every component (the scorer too unless ``with_scorer`` is false) and wait until each is ready."""
        self.preflight()
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.scorer_port = self._port("scorer")
        self._step("webhook receiver", self._start_webhook)
        self._step("Alertmanager", self._start_alertmanager)
        self._step("ticket app (seeding demo data, then gunicorn)", self._start_app)
        self._step("Prometheus", self._start_prometheus)
        if with_scorer:
            self.start_scorer()
        return self

    def start_scorer(self, extra: dict[str, dict[str, Any]] | None = None, wait_warm: bool = True,
                     timeout: float = 120.0) -> None:
        """Start ``vigilante serve`` (with ``extra`` overrides, e.g. a short bootstrap window); wait until warm."""
        for section, keys in (extra or {}).items():
            self.overrides.setdefault(section, {}).update(keys)
        self.config = apply_overrides(demo_config(), self.overrides)
        plumbing = {"prometheus": {"url": self.prometheus.url},
                    "scorer": {"listen_port": self.scorer_port, "state_path": str(self.workdir / "scorer-state.json")},
                    "service": {"listen_address": "127.0.0.1"}}
        env = {**_without_vigilante_vars(os.environ), "PYTHONPATH": str(REPO_ROOT),
               **config_env(self.overrides), **config_env(plumbing)}
        self.say(f"  starting the scorer (vigilante serve) on {self.scorer_url} ...")
        self.scorer = ManagedProcess("vigilante serve", [sys.executable, "-m", "vigilante.cli", "serve"],
                                     self.workdir / "scorer" / "scorer.log", env=env).start()
        condition = self._scorer_warm if wait_warm else self._scorer_alive
        try:
            self.scorer.wait_ready(condition, timeout, "to be warm" if wait_warm else "to answer")
        except (TimeoutError, RuntimeError) as exc:
            raise StackError(f"the scorer did not become ready: {exc}") from None

    def stop(self) -> None:
        """Stop everything that was started, newest first; safe to call twice."""
        for part in (self.load, self.scorer, self.prometheus, self.app, self.alertmanager):
            if part is not None:
                part.stop()
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None

    # --- components --------------------------------------------------------------------

    def _step(self, what: str, start: Callable[[], str]) -> None:
        self.say(f"  starting {what} ...")
        began = time.monotonic()
        try:
            url = start()
        except MissingBinaryError as exc:
            raise StackError(str(exc)) from None
        except (TimeoutError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            raise StackError(f"{what} did not start: {exc}") from None
        self.say(f"  {what}: ready at {url} ({time.monotonic() - began:.1f} s)")

    def _port(self, name: str) -> int:
        return self.requested_ports.get(name) or free_port()

    def _start_webhook(self) -> str:
        self.webhook = WebhookReceiver(self._port("webhook")).start()
        return self.webhook.url

    def _start_alertmanager(self) -> str:
        from vigilante.rules.alertmanager import alertmanager_config

        routing = alertmanager_config(self.config.replace("alerting", webhook_url=self.webhook.url + "alerts"))
        routing["route"].update(self.route_overrides)
        self.alertmanager = AlertmanagerServer(self.workdir / "alertmanager", routing, port=self._port("alertmanager"))
        self.alertmanager.start()
        return self.alertmanager.url

    @staticmethod
    def demo_password(instance: Path) -> str:
        """The demo users' password of this stack: generated once, kept beside its database."""
        path = instance / "demo-password"
        if not path.exists():
            instance.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()

    def _start_app(self) -> str:
        instance = self.workdir / "app" / "instance"
        env = {"TICKETS_INSTANCE_PATH": str(instance), "TICKETS_DEMO_PASSWORD": self.demo_password(instance),
               "VIGILANTE_FAULTS_ENABLED": "1",
               "VIGILANTE_FAULTS_TOKEN": self.faults_token, **config_env(self.overrides)}
        seed = subprocess.run([sys.executable, "-m", "app_under_test.seed"], capture_output=True, text=True,
                              env={**_without_vigilante_vars(os.environ), "PYTHONPATH": str(REPO_ROOT), **env},
                              cwd=REPO_ROOT, timeout=120)
        if seed.returncode != 0:
            raise RuntimeError(f"seeding failed: {seed.stderr.strip().splitlines()[-1:]}")
        # One process with threads: one registry, no multiprocess directory to manage locally.
        self.app = GunicornServer(self.workdir / "app", "app_under_test:create_app()", workers=1, threads=8,
                                  env=env, port=self._port("app"))
        self.app.start(timeout=60)
        return self.app.url

    def _start_prometheus(self) -> str:
        scrape = static_scrape_configs(self.config, app=[_hostport(self.app.url)],
                                       scorer=[f"127.0.0.1:{self.scorer_port}"])
        document = prometheus_config(self.config, scrape, rule_files=[str(p) for p in RULE_FILES],
                                     alertmanagers=[_hostport(self.alertmanager.url)])
        self.prometheus = PrometheusServer(self.workdir / "prometheus", config=document, port=self._port("prometheus"),
                                           extra_args=["--storage.tsdb.retention.time=1d"])
        self.prometheus.start()
        self.prometheus.targets_up(1, timeout=60)
        return self.prometheus.url

    def _scorer_alive(self) -> bool:
        return requests.get(f"{self.scorer_url}/healthz", timeout=2).status_code == 200

    def _scorer_warm(self) -> bool:
        return requests.get(f"{self.scorer_url}/readyz", timeout=2).status_code == 200

    # --- load --------------------------------------------------------------------------

    def start_load(self, scenario: str, run_time_seconds: float, control_file: Path | None = None) -> ManagedProcess:
        """Run Locust headless against the app: ``scenario`` of scripts/load_shapes.py, at most ``run_time_seconds``."""
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VIGILANTE_LOAD_SCENARIO": scenario,
               "TICKETS_DEMO_PASSWORD": self.demo_password(self.workdir / "app" / "instance"),
               "VIGILANTE_FAULTS_TOKEN": self.faults_token, "VIGILANTE_LOAD_MAX_SECONDS": str(run_time_seconds)}
        if control_file is not None:
            env["VIGILANTE_LOAD_CONTROL"] = str(control_file)
        argv = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "scripts" / "locustfile.py"), "--headless",
                "--host", self.app.url, "--only-summary",
                "--loglevel", "WARNING", "--exit-code-on-error", "0",
                "--csv", str(self.workdir / "locust" / "stats")]
        (self.workdir / "locust").mkdir(parents=True, exist_ok=True)
        self.load = ManagedProcess("locust", argv, self.workdir / "locust" / "locust.log", env=env).start()
        return self.load

    def set_fault(self, error_ratio: float = 0.0, added_latency_seconds: float = 0.0, route: str = "*") -> None:
        """Inject a fault into the app (``/_faults``, bearer token); all zeros clears every fault."""
        headers = {"Authorization": f"Bearer {self.faults_token}"}
        if error_ratio == 0 and added_latency_seconds == 0:
            response = requests.delete(f"{self.app.url}/_faults", headers=headers, timeout=5)
        else:
            response = requests.put(f"{self.app.url}/_faults", headers=headers, timeout=5,
                                    json={"route": route, "error_ratio": error_ratio,
                                          "added_latency_seconds": added_latency_seconds})
        response.raise_for_status()

    # --- what to print -----------------------------------------------------------------

    @property
    def scorer_url(self) -> str:
        return f"http://127.0.0.1:{self.scorer_port}"

    def urls(self) -> dict[str, str]:
        return {"app": self.app.url, "prometheus": self.prometheus.url, "alertmanager": self.alertmanager.url,
                "scorer metrics": f"{self.scorer_url}/metrics", "webhook receiver": self.webhook.url}

    def describe(self) -> str:
        """The URLs, the ready-made queries and the overrides, ready to print."""
        lines = ["", "Local stack (127.0.0.1, work directory %s):" % self.workdir]
        lines += [f"  {name:<17} {url}" for name, url in self.urls().items()]
        lines.append("Prometheus UI, one link per dashboard panel:")
        for title, exprs in panel_queries(self.config).items():
            lines.append(f"  {title:<38} {graph_link(self.prometheus.url, exprs)}")
        changed = changed_from_defaults(self.config)
        if changed:
            lines.append("Overrides of the shipped defaults:")
            for section, keys in changed.items():
                for key, change in keys.items():
                    lines.append(f"  {section}.{key}: {change['used']} (shipped {change['shipped']})")
        lines.append(f"Locust web UI: {sys.executable} -m locust -f scripts/locustfile.py "
                     f"--host {self.app.url} --web-host 127.0.0.1")
        return "\n".join(lines)


def _hostport(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


def _without_vigilante_vars(env: dict[str, str]) -> dict[str, str]:
    # The stack's own overrides are the only configuration its components see.
    return {k: v for k, v in env.items() if not k.startswith("VIGILANTE_")}


def _pick_ports(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, int]:
    ports = {}
    for name in COMPONENTS:
        port = getattr(args, f"{name}_port")
        if port is None:
            port = DEFAULT_PORTS[name]
            if not port_is_free(port):
                say(f"note: the usual port {port} for {name} is taken; using a free port instead")
                port = 0
        ports[name] = port
    return ports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out" / "stack",
                        help="throw-away work directory (emptied at start)")
    parser.add_argument("--interval", type=float, default=None,
                        help="scrape, evaluation and scorer tick interval in seconds (default: the shipped 15)")
    parser.add_argument("--load", default="none", help="Locust scenario to run headless (steady, spike, ...), or none")
    parser.add_argument("--load-minutes", type=float, default=60.0, help="bound of the Locust run")
    for name in COMPONENTS:
        parser.add_argument(f"--{name}-port", type=int, default=None,
                            help=f"port of the {name} (default {DEFAULT_PORTS[name]} when free; 0 = any free port)")
    args = parser.parse_args(argv)
    say = lambda text: print(text, flush=True)  # noqa: E731
    overrides = interval_overrides(args.interval) if args.interval else {}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with LocalStack(args.workdir, overrides, _pick_ports(args, say), say=say) as stack:
            say("Starting the local stack ...")
            # The scorer warms once Prometheus holds service.bootstrap_hours of history (or a saved state).
            stack.start(with_scorer=False)
            stack.start_scorer(wait_warm=False)
            if args.load != "none":
                stack.start_load(args.load, args.load_minutes * 60)
                say(f"Locust is running the '{args.load}' scenario headless (log: {stack.load.log_path})")
            say(stack.describe())
            say("\nRunning; Ctrl-C stops everything.")
            while not stop.wait(1.0):
                for part in (stack.app.process, stack.prometheus.process, stack.alertmanager.process, stack.scorer):
                    if not part.alive():
                        raise StackError(f"{part.name} exited\n{part.log_tail()}")
    except KeyboardInterrupt:
        say("\nStopping ...")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
