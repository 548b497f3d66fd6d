"""Pytest fixtures that run the real components of scripts.harness, and always stop them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from scripts.harness import (AlertmanagerServer, GunicornServer, PrometheusServer, WebhookReceiver,
                             webhook_config)

from tests.support import REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def _per_user_state_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The scorer's default state directory, for this run only: no test writes into the user's home."""
    import os

    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before


def _factory(tmp_path: Path, server_class: type, name: str) -> Iterator[Callable[..., Any]]:
    """Start servers of one class, each in its own directory; stop them all afterwards."""
    started: list = []

    def start(**kwargs: Any):
        server = server_class(tmp_path / f"{name}-{len(started)}", **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Start real Prometheus servers: ``prometheus_factory(scrape_configs=..., rule_files=...)``."""
    yield from _factory(tmp_path, PrometheusServer, "prometheus")


@pytest.fixture
def gunicorn_factory(tmp_path: Path) -> Iterator[Callable[..., GunicornServer]]:
    """Start apps under real gunicorn: ``gunicorn_factory(app="pkg:create_app()", workers=2)``."""
    yield from _factory(tmp_path, GunicornServer, "gunicorn")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local webhook endpoint that records every notification."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def alertmanager(tmp_path: Path, webhook_receiver: WebhookReceiver) -> Iterator[AlertmanagerServer]:
    """A real Alertmanager that sends every alert to :func:`webhook_receiver` at once."""
    server = AlertmanagerServer(tmp_path / "alertmanager", webhook_config(webhook_receiver.url))
    server.start()
    yield server
    server.stop()


# --- running in parallel (pytest-xdist: `make test` runs `-n 4 --dist loadfile`) ---------
# A test module is one unit of work, so a module fixture (a Prometheus with its traffic
# window, a wheel) is built once, on one worker. (loadgroup would let a module's cheap tests
# spread out, but with pytest 9.2 it no longer groups: pytest-xdist issue 1386.)


# The longest modules in a parallel run (pytest --durations), each over a minute: started
# first, longest first. A module missing here only costs speed, never a result.
LONGEST_MODULES = ("test_demo_e2e.py", "test_victoria_dashboards.py", "test_victoria_e2e.py",
                   "test_readme_trial.py", "test_attach_foreign_app.py", "test_dashboards_queries.py",
                   "test_rules_prometheus.py", "test_bench_detection.py", "test_readme_attach.py",
                   "test_attach_two_apps.py", "test_generate.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the longest modules first: those of :data:`LONGEST_MODULES`, then those with slow tests.

    Workers take modules in collection order: long ones first, so the run does not end with
    one of them running alone while the other workers are idle. Whole modules move, and the
    sort is stable, so each module's own order is kept.
    """
    slow_modules = {item.path for item in items if item.get_closest_marker("slow") is not None}

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = item.path.name
        if name in LONGEST_MODULES:
            return 0, LONGEST_MODULES.index(name)
        return (1 if item.path in slow_modules else 2), 0

    items.sort(key=rank)
