"""Locust users for the ticket app, and one load shape that plays a scenario of scripts/load_shapes.py.

Headless, bounded, against the local stack only::

    VIGILANTE_LOAD_SCENARIO=spike_with_errors VIGILANTE_FAULTS_TOKEN=... \\
      .venv/bin/locust -f scripts/locustfile.py --headless --host http://127.0.0.1:8000

The web UI (same users and shape, started from the browser)::

    .venv/bin/locust -f scripts/locustfile.py --host http://127.0.0.1:8000 --web-host 127.0.0.1

Environment: ``VIGILANTE_LOAD_SCENARIO`` (a name in ``SCENARIOS``, default ``steady``, or
``control``), ``VIGILANTE_LOAD_CONTROL`` (the control file of ``control``),
``VIGILANTE_FAULTS_TOKEN`` (for scenarios with faults), ``VIGILANTE_LOAD_MAX_SECONDS`` (a hard bound
on the run, default 1 h: Locust ignores ``--run-time`` when a shape is used). The host must be on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import time

import requests
from locust import HttpUser, LoadTestShape, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # locust imports this file by path

from scripts.load_shapes import (REQUESTS_PER_USER_PER_SECOND, SCENARIOS, STEADY_USERS, read_control,  # noqa: E402
                                 stage_at)

LOCAL_HOSTS = ("127.0.0.1", "localhost")
ORGANIZERS = range(1, 7)
EVENTS = range(1, 37)
DEMO_USERS = [f"user{i}@example.com" for i in range(1, 6)]
# The demo users' password: the local stack generates one per stack and passes it to the seed and here.
DEMO_PASSWORD = os.environ.get("TICKETS_DEMO_PASSWORD", "")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TICKET_TYPE_LINK = re.compile(r'href="/ticket-types/(\d+)"')


def poisson_throughput(rate: float):
    """A Locust ``wait_time``: task starts form a Poisson process of ``rate`` per second.

    The mean rate is fixed like ``constant_throughput``'s, but arrivals are irregular, as
    real visitors are: a metronome would give the scorer a baseline without any noise,
    against which the smallest wobble looks like an incident. A user that fell behind
    (a slow app) restarts its clock instead of sending a burst.
    """

    def wait_time(user) -> float:
        now = time.monotonic()
        start = max(getattr(user, "_poisson_next", now), now - 2.0)
        user._poisson_next = start + user.rng.expovariate(rate)
        return max(0.0, user._poisson_next - now)

    return wait_time


@events.test_start.add_listener
def refuse_remote_hosts(environment, **_) -> None:
    host = urlparse(environment.host or "").hostname
    if host not in LOCAL_HOSTS:
        sys.stderr.write(f"refusing to load {environment.host!r}: these scenarios only target 127.0.0.1\n")
        environment.runner.quit()


class Browser(HttpUser):
    """Browses home -> organizer -> event -> ticket type, one page per request, like the original's baseline."""

    weight = 4
    wait_time = poisson_throughput(REQUESTS_PER_USER_PER_SECOND)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.pages = itertools.cycle(("home", "organizer", "event", "ticket_type"))
        self.ticket_types: list[int] = []

    @task
    def next_page(self) -> None:
        page = next(self.pages)
        if page == "home":
            self.client.get("/", name="/")
        elif page == "organizer":
            self.client.get(f"/organizers/{self.rng.choice(ORGANIZERS)}", name="/organizers/<id>")
        elif page == "event":
            response = self.client.get(f"/events/{self.rng.choice(EVENTS)}", name="/events/<id>")
            self.ticket_types = [int(t) for t in _TICKET_TYPE_LINK.findall(response.text or "")]
        else:
            ticket_type = self.rng.choice(self.ticket_types) if self.ticket_types else 1
            self.client.get(f"/ticket-types/{ticket_type}", name="/ticket-types/<id>")


class Buyer(HttpUser):
    """Logs in once, then alternates looking at a ticket type and buying one ticket of it."""

    weight = 1
    wait_time = poisson_throughput(REQUESTS_PER_USER_PER_SECOND)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.token = ""
        self.ticket_type = 1
        page = self.client.get("/login", name="/login")
        match = _CSRF.search(page.text or "")
        self.client.post("/login", name="/login", allow_redirects=False,
                         data={"email": self.rng.choice(DEMO_USERS), "password": DEMO_PASSWORD,
                               "csrf_token": match.group(1) if match else ""})

    @task
    def look_then_buy(self) -> None:
        if not self.token:
            self.ticket_type = self.rng.randint(1, 80)
            page = self.client.get(f"/ticket-types/{self.ticket_type}", name="/ticket-types/<id>")
            match = _CSRF.search(page.text or "")
            self.token = match.group(1) if match else ""
            return
        with self.client.post(f"/ticket-types/{self.ticket_type}/purchase", name="/ticket-types/<id>/purchase",
                              data={"quantity": "1", "csrf_token": self.token}, allow_redirects=False,
                              catch_response=True) as response:
            # Sold out, sales closed, no such type: the app refusing a purchase is a correct answer.
            if response.status_code in (303, 404, 409, 422):
                response.success()
        self.token = ""


class ScenarioShape(LoadTestShape):
    """Plays ``$VIGILANTE_LOAD_SCENARIO``: its users per stage and, at each stage change, its fault."""

    def __init__(self) -> None:
        super().__init__()
        self.scenario = os.environ.get("VIGILANTE_LOAD_SCENARIO", "steady")
        if self.scenario != "control" and self.scenario not in SCENARIOS:
            raise SystemExit(f"VIGILANTE_LOAD_SCENARIO={self.scenario!r}: expected control or one of "
                             f"{', '.join(SCENARIOS)}")
        self.control = Path(os.environ.get("VIGILANTE_LOAD_CONTROL", "load-control.json"))
        self.stage_index = -1
        self.max_seconds = float(os.environ.get("VIGILANTE_LOAD_MAX_SECONDS", "3600"))

    def tick(self):
        if self.get_run_time() >= self.max_seconds:
            self._apply_fault(None)
            return None
        if self.scenario == "control":
            state = read_control(self.control, STEADY_USERS)
            return None if state.stop else (state.users, state.spawn_rate)
        now = stage_at(SCENARIOS[self.scenario], self.get_run_time())
        if now is None:
            self._apply_fault(None)
            return None
        if now.index != self.stage_index:
            self.stage_index = now.index
            self._apply_fault(now.stage.fault)
        return now.users, now.stage.spawn_rate

    def _apply_fault(self, fault) -> None:
        host = self.runner.environment.host if self.runner else None
        token = os.environ.get("VIGILANTE_FAULTS_TOKEN", "")
        if not host or not token or urlparse(host).hostname not in LOCAL_HOSTS:
            if fault is not None:
                sys.stderr.write("fault stage skipped: set VIGILANTE_FAULTS_TOKEN and a 127.0.0.1 host\n")
            return
        headers = {"Authorization": f"Bearer {token}"}
        if fault is None:
            requests.delete(f"{host}/_faults", headers=headers, timeout=5)
        else:
            requests.put(f"{host}/_faults", json=fault.as_request(), headers=headers, timeout=5).raise_for_status()
