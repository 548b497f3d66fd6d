"""Load scenarios for Locust: how many users, for how long, and which fault the app injects meanwhile.

Every user sends requests at a fixed mean pace (:data:`REQUESTS_PER_USER_PER_SECOND`, Poisson
arrivals: see ``poisson_throughput`` in the locustfile), so the request rate is ``users x pace``
as long as the app keeps up: a scenario sets a rate, not "as fast as possible". Every scenario is bounded in users (:data:`MAX_USERS`)
and in time (the sum of its stages).

A scenario is a tuple of :class:`Stage`; :func:`stage_at` says which one runs at a time::

    >>> shape = SCENARIOS["spike"]
    >>> [s.name for s in shape]
    ['steady', 'spike', 'recovery']
    >>> stage_at(shape, 0).users, stage_at(shape, 95).users, stage_at(shape, 10_000)
    (8, 24, None)

The ``control`` scenario has no schedule: its users come from a JSON file that a driver
(``scripts/demo.py``) rewrites, ``{"users": 8}``; ``{"users": 0, "stop": true}`` ends the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

REQUESTS_PER_USER_PER_SECOND = 1.0
"""The pace of every simulated user; the request rate is users times this."""

MAX_USERS = 60
"""No scenario runs more users than this (a guard against a typo in a control file)."""

STEADY_USERS = 8
"""Users of the steady baseline: about 8 requests per second, like a quiet afternoon."""


@dataclass(frozen=True)
class Fault:
    """A fault the app injects through ``/_faults`` (``route`` ``*`` = every route)."""

    error_ratio: float = 0.0
    added_latency_seconds: float = 0.0
    route: str = "*"

    def as_request(self) -> dict:
        return {"route": self.route, "error_ratio": self.error_ratio,
                "added_latency_seconds": self.added_latency_seconds}


@dataclass(frozen=True)
class Stage:
    """``seconds`` of ``users`` users (ramping linearly from ``ramp_from`` users when given), with ``fault``."""

    name: str
    seconds: float
    users: int
    fault: Fault | None = None
    ramp_from: int | None = None
    spawn_rate: float = field(default=4.0)

    def users_after(self, elapsed: float) -> int:
        """Users ``elapsed`` seconds into this stage."""
        if self.ramp_from is None or self.seconds <= 0:
            return self.users
        share = min(1.0, max(0.0, elapsed / self.seconds))
        return round(self.ramp_from + (self.users - self.ramp_from) * share)


@dataclass(frozen=True)
class StageAt:
    """What :func:`stage_at` returns: the stage, its index and the users to run now."""

    index: int
    stage: Stage
    users: int


def stage_at(stages: tuple[Stage, ...], elapsed: float) -> StageAt | None:
    """The stage running ``elapsed`` seconds into ``stages``; None once they are over."""
    start = 0.0
    for index, stage in enumerate(stages):
        if elapsed < start + stage.seconds:
            return StageAt(index, stage, min(MAX_USERS, stage.users_after(elapsed - start)))
        start += stage.seconds
    return None


def total_seconds(stages: tuple[Stage, ...]) -> float:
    return sum(stage.seconds for stage in stages)


_S = STEADY_USERS
SCENARIOS: dict[str, tuple[Stage, ...]] = {
    # The original's baseline: the same users browsing at the same pace.
    "steady": (Stage("steady", 600, _S),),
    # Three times the traffic for two minutes, no errors.
    "spike": (Stage("steady", 90, _S), Stage("spike", 120, 3 * _S, spawn_rate=8), Stage("recovery", 90, _S)),
    # The same traffic, 5 % of requests failing with a 500 (mild).
    "error_burst": (Stage("steady", 90, _S), Stage("error_burst", 120, _S, Fault(error_ratio=0.05)),
                    Stage("recovery", 90, _S)),
    # Every request 250 ms slower (a slow database, a noisy neighbour).
    "slowdown": (Stage("steady", 90, _S), Stage("slowdown", 120, _S, Fault(added_latency_seconds=0.25)),
                 Stage("recovery", 90, _S)),
    # A traffic spike with errors: the original's incident.
    "spike_with_errors": (Stage("steady", 90, _S), Stage("spike_with_errors", 120, 3 * _S, Fault(error_ratio=0.05),
                                                         spawn_rate=8), Stage("recovery", 90, _S)),
    # Twice the traffic reached over 20 minutes (queues before an on-sale): must NOT alert.
    "slow_ramp": (Stage("steady", 120, _S), Stage("slow_ramp", 1200, 2 * _S, ramp_from=_S), Stage("plateau", 180, 2 * _S)),
}
"""Named scenarios for ``VIGILANTE_LOAD_SCENARIO``; ``control`` (driven by a file) is the other choice."""


@dataclass(frozen=True)
class ControlState:
    """What a control file asks for."""

    users: int
    spawn_rate: float
    stop: bool


def read_control(path: Path, default_users: int = 0) -> ControlState:
    """Parse a control file; a missing or half-written file keeps ``default_users`` running.

    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "control.json"
    >>> _ = p.write_text('{"users": 500, "spawn_rate": 10}')
    >>> read_control(p)
    ControlState(users=60, spawn_rate=10.0, stop=False)
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return ControlState(default_users, 4.0, False)
    users = max(0, min(MAX_USERS, int(data.get("users", default_users))))
    return ControlState(users, float(data.get("spawn_rate", 4.0)), bool(data.get("stop", False)))


def write_control(path: Path, users: int, spawn_rate: float = 4.0, stop: bool = False) -> None:
    """Ask a ``control`` run for ``users`` users (written aside, then renamed: never read half-written)."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"users": users, "spawn_rate": spawn_rate, "stop": stop}))
    tmp.replace(path)
