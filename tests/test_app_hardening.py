"""What a bad-input probe tried against the demo app: huge bodies, account probing, password guessing, known passwords."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from app_under_test.db import new_session
from app_under_test.models import Event, Order, TicketType, utcnow
from app_under_test.testing import DEMO_PASSWORD, csrf_token_in, login_over_http, seeded_app
from scripts.harness.process import wait_until


def orders(app) -> int:
    session = new_session(app)
    try:
        return session.scalar(select(func.count()).select_from(Order))
    finally:
        session.close()


def on_sale(app) -> int:
    session = new_session(app)
    try:
        return session.scalar(select(TicketType.id).join(Event).where(Event.starts_at > utcnow()).limit(1))
    finally:
        session.close()


def test_a_huge_form_is_refused_with_413_before_the_purchase(tmp_path, gunicorn_factory):
    instance = tmp_path / "instance"
    app = seeded_app(instance)
    page, purchase = f"/ticket-types/{on_sale(app)}", f"/ticket-types/{on_sale(app)}/purchase"
    server = gunicorn_factory(app="app_under_test:create_app()", workers=1, threads=2,
                              env={"TICKETS_INSTANCE_PATH": str(instance)})
    http = requests.Session()
    login_over_http(http, server.url)
    token = csrf_token_in(http.get(f"{server.url}{page}", timeout=10).text)
    form = {"csrf_token": token, "quantity": "1", "note": "x" * (20 * 1024 * 1024)}
    try:
        answer = http.post(f"{server.url}{purchase}", data=form, allow_redirects=False, timeout=60)
        assert answer.status_code == 413, answer.status_code
    except requests.ConnectionError:
        pass  # the server may close the connection before the client has sent 20 MB: refused either way
    assert orders(app) == 0
    # The same purchase with a normal body goes through: the limit is not in the way.
    http = requests.Session()
    login_over_http(http, server.url)
    token = csrf_token_in(http.get(f"{server.url}{page}", timeout=10).text)
    answer = http.post(f"{server.url}{purchase}", data={"csrf_token": token, "quantity": "1"},
                       allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and orders(app) == 1


def login(client, email, password, address="127.0.0.1"):
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_an_unknown_email_costs_one_hash_check_of_the_same_method(tmp_path, monkeypatch):
    from app_under_test import auth

    app = seeded_app(tmp_path / "instance")
    checked = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda stored, password: checked.append(stored) or real(stored, password))
    client = app.test_client()
    assert login(client, "user1@example.com", "wrong").status_code == 401
    assert login(client, "nobody@example.com", "wrong").status_code == 401
    assert login(client, "", "").status_code == 401
    known, unknown, empty = checked
    method = known.split("$", 1)[0]
    assert unknown.split("$", 1)[0] == method and empty.split("$", 1)[0] == method, checked
    assert unknown != known


def test_failed_logins_are_limited_per_client_and_the_limit_ends(tmp_path):
    app = seeded_app(tmp_path / "instance", LOGIN_FAILURES_ALLOWED=3, LOGIN_FAILURE_WINDOW_SECONDS=1)
    client = app.test_client()
    for _ in range(3):
        assert login(client, "user1@example.com", "guess").status_code == 401
    refused = login(client, "user1@example.com", DEMO_PASSWORD)  # even the right password, while limited
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert login(app.test_client(), "user1@example.com", DEMO_PASSWORD, address="10.0.0.2").status_code == 302
    wait_until(lambda: login(app.test_client(), "user1@example.com", DEMO_PASSWORD).status_code == 302, 10,
               "the window of failed logins to pass")


def test_an_installation_seeded_without_a_password_gets_a_generated_one(tmp_path):
    from app_under_test import create_app
    from app_under_test.seed import create_and_seed

    said = []
    for name in ("a", "b"):
        app = create_app({"INSTANCE_PATH": str(tmp_path / name), "TESTING": True,
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        message = create_and_seed(app)
        assert "generated: set TICKETS_DEMO_PASSWORD" in message, message
        password = message.split("password ", 1)[1].split(" ", 1)[0]
        said.append(password)
        assert login(app.test_client(), "user1@example.com", password).status_code == 302
        for guess in ("demo-password", DEMO_PASSWORD):
            assert login(app.test_client(), "user2@example.com", guess).status_code == 401
    assert said[0] != said[1] and min(len(p) for p in said) >= 16


@pytest.mark.parametrize("configured", ["from-the-secret-0123"])
def test_a_configured_password_is_used_and_not_printed(tmp_path, monkeypatch, configured):
    from app_under_test import create_app
    from app_under_test.seed import create_and_seed

    monkeypatch.setenv("TICKETS_DEMO_PASSWORD", configured)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    message = create_and_seed(app)
    assert configured not in message and "TICKETS_DEMO_PASSWORD" in message
    assert login(app.test_client(), "user1@example.com", configured).status_code == 302
