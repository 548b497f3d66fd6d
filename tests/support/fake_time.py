"""A clock the scorer's loop runs on without waiting: its waits move the clock instead."""

from __future__ import annotations

from typing import Callable

START = 1_767_225_600.0
"""2026-01-01T00:00:00Z, a multiple of every tick interval the tests use."""


class FakeTime:
    """``clock`` for :class:`~vigilante.service.loop.ScorerService` and the ``stop`` event of its ``run``.

    ``wait(seconds)`` returns at once, the clock ``seconds`` later, so ``run`` ticks exactly on
    schedule however loaded the machine is; ``stall(seconds)`` is a process frozen that long.
    ``run`` returns after ``limit`` waits at most, so a loop that never stops still ends.

    >>> time = FakeTime(start=100.0)
    >>> time.wait(2.5), time.clock()
    (False, 102.5)
    >>> time.set(); time.wait(1.0), time.clock()
    (True, 102.5)
    """

    def __init__(self, start: float = START, limit: int = 1000) -> None:
        self.now = start
        self.stopped = False
        self.waits_left = limit

    def clock(self) -> float:
        return self.now

    def stall(self, seconds: float) -> None:
        self.now += seconds

    def set(self) -> None:
        self.stopped = True

    def is_set(self) -> bool:
        return self.stopped

    def wait(self, seconds: float) -> bool:
        if self.stopped:
            return True
        self.waits_left -= 1
        if self.waits_left < 0:
            raise AssertionError("the loop kept waiting: it never reached the stop condition")
        self.now += seconds
        return False
