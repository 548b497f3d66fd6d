"""No overselling: many parallel buyers of the last N tickets, over real HTTP, on SQLite and MariaDB.

The same test runs against the deliberately unsafe purchase path (read, check, write) and
must fail there: that is the proof the test can see overselling at all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from app_under_test.db import new_session
from app_under_test.models import Event, Order, OutboxEmail, Ticket, TicketType, utcnow
from app_under_test.testing import FAST_PASSWORD_HASH, csrf_token_in, login_over_http, seeded_app
from scripts.harness.mariadb import MariaDBServer

LAST_TICKETS = 10
BUYERS = 24          # threads, each with its own logged-in session
ATTEMPTS_EACH = 2    # purchases of one ticket per buyer: 48 attempts for 10 tickets


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb")).start()
    yield server
    server.stop()


def database_url(backend: str, tmp_path: Path, request) -> str | None:
    if backend == "sqlite":
        return None  # the default: a file in the instance folder
    return request.getfixturevalue("mariadb").create_database(f"tickets_{abs(hash(tmp_path)) % 10**8}")


def sell_last_tickets(tmp_path: Path, gunicorn_factory, url: str | None, unsafe: bool) -> dict[str, int]:
    instance = tmp_path / "instance"
    app = seeded_app(instance, database_url=url)
    session = new_session(app)
    tt = session.scalars(select(TicketType).join(Event).where(Event.starts_at > utcnow() + timedelta(days=1))
                         .order_by(TicketType.id)).first()
    session.execute(update(TicketType).where(TicketType.id == tt.id).values(remaining=LAST_TICKETS))
    session.commit()
    ticket_type_id = tt.id
    session.close()

    env = {"TICKETS_INSTANCE_PATH": str(instance), "TICKETS_TESTING": "true",
           "TICKETS_PASSWORD_HASH_METHOD": f'"{FAST_PASSWORD_HASH}"',
           "TICKETS_UNSAFE_PURCHASE_FOR_TESTS": "true" if unsafe else "false"}
    if url:
        env["DATABASE_URL"] = url
    server = gunicorn_factory(app="app_under_test:create_app()", workers=2, threads=8, env=env)

    sessions = []
    for i in range(BUYERS):
        http = requests.Session()
        login_over_http(http, server.url, email=f"user{i % 5 + 1}@example.com")
        token = csrf_token_in(http.get(f"{server.url}/ticket-types/{ticket_type_id}", timeout=10).text)
        sessions.append((http, token))
    start = threading.Barrier(BUYERS, timeout=30)

    def buyer(index: int) -> list[int]:
        http, token = sessions[index]
        start.wait()  # every buyer fires at once
        return [http.post(f"{server.url}/ticket-types/{ticket_type_id}/purchase",
                          data={"quantity": "1", "csrf_token": token}, allow_redirects=False, timeout=60).status_code
                for _ in range(ATTEMPTS_EACH)]

    with ThreadPoolExecutor(BUYERS) as pool:
        statuses = [s for result in pool.map(buyer, range(BUYERS)) for s in result]
    for http, _ in sessions:
        http.close()

    session = new_session(app)
    try:
        return {
            "accepted": statuses.count(303),
            "refused_sold_out": statuses.count(409),
            "other": len(statuses) - statuses.count(303) - statuses.count(409),
            "tickets": session.scalar(select(func.count()).select_from(Ticket).join(Order)
                                      .where(Order.ticket_type_id == ticket_type_id)),
            "orders": session.scalar(select(func.count()).select_from(Order).where(Order.ticket_type_id == ticket_type_id)),
            "emails": session.scalar(select(func.count()).select_from(OutboxEmail).join(Order)
                                     .where(Order.ticket_type_id == ticket_type_id)),
            "remaining": session.scalar(select(TicketType.remaining).where(TicketType.id == ticket_type_id)),
        }
    finally:
        session.close()


@pytest.mark.slow
@pytest.mark.parametrize("unsafe", [
    False,
    pytest.param(True, marks=pytest.mark.xfail(
        strict=True, reason="the read-check-write purchase path oversells: this proves the test detects it")),
], ids=["safe", "unsafe-path-must-fail"])
@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_parallel_buyers_get_exactly_the_last_tickets(tmp_path, gunicorn_factory, request, backend, unsafe):
    url = database_url(backend, tmp_path, request)
    outcome = sell_last_tickets(tmp_path, gunicorn_factory, url, unsafe)
    assert outcome == {
        "accepted": LAST_TICKETS,
        "refused_sold_out": BUYERS * ATTEMPTS_EACH - LAST_TICKETS,
        "other": 0,
        "tickets": LAST_TICKETS,
        "orders": LAST_TICKETS,
        "emails": LAST_TICKETS,
        "remaining": 0,
    }
