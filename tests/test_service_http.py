"""The scorer's HTTP server: idle or slow connections cannot starve /healthz, scrapes or the state saves."""

from __future__ import annotations

import select
import socket
import sys

import pytest
import requests
from prometheus_client import CollectorRegistry

from vigilante.service import http
from vigilante.service.http import HttpServer, endpoints
from scripts.harness.process import ManagedProcess, free_port, wait_until

IDLE = 3 * http.MAX_CONNECTIONS  # well above the connection cap and the handler threads, still bounded


def closed_by_server(sockets: list[socket.socket], closed: set[socket.socket]) -> bool:
    """Add to ``closed`` each socket the server has closed (readable with nothing to read); all closed?"""
    readable, _, _ = select.select([s for s in sockets if s not in closed], [], [], 0)
    for s in readable:
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except OSError:  # reset: closed too
            closed.add(s)
    return len(closed) == len(sockets)


def test_idle_connections_do_not_starve_healthz_and_the_server_closes_them():
    app = endpoints(CollectorRegistry(), lambda: True, lambda: (True, "warm"))
    server = HttpServer(app, "127.0.0.1", 0).start()
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            try:
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break  # the listen queue is full: more would not add to the test
        assert len(idle) > http.WORKERS
        # Idle connections hold no handler thread, and the oldest give way to new ones.
        answer = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        assert answer.status_code == 200 and answer.text == "ticking\n"
        closed: set[socket.socket] = set()
        wait_until(lambda: closed_by_server(idle, closed), 10 * http.CONNECTION_TIMEOUT_SECONDS,
                   "the server to close every idle connection")
        assert requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10).status_code == 200
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_a_request_sent_slowly_is_answered_and_one_never_finished_is_closed():
    app = endpoints(CollectorRegistry(), lambda: True, lambda: (False, "model not warm yet"))
    server = HttpServer(app, "127.0.0.1", 0).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
            for part in (b"GET /rea", b"dyz HTTP/1.0\r\n", b"\r\n"):
                slow.sendall(part)
            answer = b"".join(iter(lambda: slow.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.0 503") and answer.endswith(b"not ready: model not warm yet\n")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as unfinished:
            unfinished.sendall(b"GET /healthz HTTP/1.0\r\n")  # and never the blank line
            closed: set[socket.socket] = set()
            wait_until(lambda: closed_by_server([unfinished], closed), 10 * http.CONNECTION_TIMEOUT_SECONDS,
                       "the server to close the unfinished request")
    finally:
        server.stop()


@pytest.mark.slow
def test_a_scorer_with_few_file_descriptors_answers_and_saves_through_a_flood_of_idle_connections(tmp_path):
    from tests.fixtures.fake_prometheus import FakePrometheus
    from tests.test_prometheus_answers import Script, gauge, readyz
    from tests.scorer_process import one_feature_config, train

    state = tmp_path / "state"
    train(one_feature_config(tmp_path / "train.yaml", "http://127.0.0.1:1", state), state)
    with FakePrometheus(Script()) as fake:
        config = one_feature_config(tmp_path / "vigilante.yaml", fake.url, state, service={"save_every_seconds": 1})
        port = free_port()
        # 200 file descriptors, as in the pod that starved: more idle connections than that are opened.
        scorer = ManagedProcess("scorer", ["prlimit", "--nofile=200:200", sys.executable, "-m", "vigilante.cli",
                                           "serve", "--config", str(config), "--port", str(port)],
                                tmp_path / "scorer.log").start()
        base = f"http://127.0.0.1:{port}"
        idle: list[socket.socket] = []
        try:
            scorer.wait_ready(lambda: readyz(base) == 200, 30, "ready")
            for _ in range(300):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    break
            saved = state.stat().st_mtime_ns
            scorer.wait_ready(lambda: requests.get(f"{base}/healthz", timeout=5).status_code == 200, 30,
                              "/healthz answering through the flood")
            scorer.wait_ready(lambda: state.stat().st_mtime_ns > saved, 30, "a state save after the flood")
            assert gauge(base, "vigilante_state_save_failures_total") == 0
        finally:
            for s in idle:
                s.close()
            scorer.stop()
    assert "could not save" not in scorer.log_path.read_text()
