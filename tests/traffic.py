"""Paced client traffic with what the client saw, to compare with what Prometheus recorded."""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass

import requests


@dataclass
class Sent:
    path: str
    status: int
    done: float  # wall-clock time the response arrived
    seconds: float  # client-side latency


def send(session: requests.Session, base: str, path: str, method: str = "GET") -> Sent:
    start = time.perf_counter()
    response = session.request(method, base + path, timeout=5)
    elapsed = time.perf_counter() - start
    return Sent(path, response.status_code, time.time(), elapsed)


def paced_traffic(base: str, rate: float, duration: float, pattern: list[str]) -> list[Sent]:
    """Send ``rate * duration`` requests on schedule (bounded in count and time).

    ``pattern`` is cycled through; an item is a path (GET) or ``"METHOD path"``.
    """
    total = int(rate * duration)
    sessions = [requests.Session() for _ in range(8)]
    t0 = time.monotonic()
    results: list[concurrent.futures.Future] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the schedule, not waiting for a condition
            method, _, path = pattern[i % len(pattern)].rpartition(" ")
            results.append(pool.submit(send, sessions[i % 8], base, path, method or "GET"))
            if time.monotonic() - t0 > duration + 10:
                break
    return [f.result() for f in results]
