"""What a bad-input probe tried against the demo app: huge bodies, account probing, password guessing, known passwords."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import sys

import pytest
import requests
from sqlalchemy import func, select

from app_under_test.db import new_session
from app_under_test.models import Event, Order, TicketType, utcnow
from app_under_test.testing import DEMO_PASSWORD, csrf_token_in, login_over_http, login_with_test_client, seeded_app
from scripts.harness.process import ManagedProcess, free_port, wait_until
from tests.conftest import REPO_ROOT


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
    # Another client logs in to another account; the guessed account waits, from any address.
    assert login(app.test_client(), "user2@example.com", DEMO_PASSWORD, address="10.0.0.2").status_code == 302
    assert login(app.test_client(), "user1@example.com", DEMO_PASSWORD, address="10.0.0.2").status_code == 429
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


# --- ids, redirects, proxies, headers, cookies, slow clients, the database file --------------

INT_ARGUMENT = re.compile(r"<int(?:\([^)]*\))?:(\w+)>")
# Past SQLite's and MySQL's signed 64-bit integers, and below zero: no row can have these ids.
OUT_OF_RANGE_IDS = ("10000000000000000000000", str(2**63), "-1")


def routes_taking_an_id(app):
    """(rule, methods) of every route with an ``<int:...>`` argument, from the app's own URL map."""
    return [(rule, sorted(rule.methods - {"HEAD", "OPTIONS"})) for rule in app.url_map.iter_rules()
            if INT_ARGUMENT.search(rule.rule)]


def test_ids_out_of_range_are_404_on_every_route_that_takes_an_id(tmp_path):
    app = seeded_app(tmp_path / "instance")
    routes = routes_taking_an_id(app)
    assert len(routes) >= 7, [r.rule for r, _ in routes]  # catalog, API, purchase, order pages
    anonymous, logged_in = app.test_client(), app.test_client()
    login_with_test_client(logged_in)
    token = csrf_token_in(logged_in.get("/").get_data(as_text=True))
    wrong = {}
    for rule, methods in routes:
        # The largest id that fits is no row either: a 404 too once logged in, never a 500.
        for value, client, expected in [*((v, c, 404) for v in OUT_OF_RANGE_IDS for c in (anonymous, logged_in)),
                                        (str(2**63 - 1), logged_in, 404), (str(2**63 - 1), anonymous, None)]:
            path = INT_ARGUMENT.sub(value, rule.rule)
            for method in methods:
                status = client.open(path, method=method, data={"csrf_token": token, "quantity": "1"}).status_code
                if status != expected and (expected is not None or status >= 500):
                    wrong[(method, path, "logged in" if client is logged_in else "anonymous")] = status
    assert not wrong, wrong


@pytest.mark.parametrize("target", [
    "/\r\nSet-Cookie: stolen=1", "/my-tickets\n", "/a\tb", "/a\x00b", "/a\x7fb", "/a\u2028b",
    "//evil.example/", "/\\evil.example", "\\\\evil.example", "https://evil.example/", "javascript:alert(1)",
    "evil.example", "",
])
def test_a_next_that_is_not_a_plain_local_path_falls_back_to_the_home_page(tmp_path, target):
    app = seeded_app(tmp_path / "instance")
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    token = csrf_token_in(page.get_data(as_text=True))
    response = client.post("/login", query_string={"next": target},
                           data={"email": "user1@example.com", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/", response.status_code


@pytest.mark.parametrize("target", ["/my-tickets", "/events/3?from=home", "/caf%C3%A9"])
def test_a_plain_local_next_is_followed(tmp_path, target):
    app = seeded_app(tmp_path / "instance")
    client = app.test_client()
    login_with_test_client(client)
    client2 = app.test_client()
    token = csrf_token_in(client2.get("/login").get_data(as_text=True))
    response = client2.post("/login", query_string={"next": target},
                            data={"email": "user1@example.com", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == target


INGRESS = "10.42.0.7"  # the address every request behind the Ingress controller comes from


def login_via(client, email, password, forwarded_for, remote=INGRESS, proto="http"):
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": remote},
                       headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": proto})


def test_behind_one_trusted_proxy_one_guesser_locks_out_only_itself_and_the_guessed_account(tmp_path):
    app = seeded_app(tmp_path / "instance", LOGIN_FAILURES_ALLOWED=3, TRUSTED_PROXY_HOPS=1)
    attacker, victim, bystander = "203.0.113.5", "198.51.100.7", "198.51.100.8"
    for _ in range(3):
        assert login_via(app.test_client(), "user1@example.com", "guess", attacker).status_code == 401
    # Every other user, all through the same Ingress address, still logs in.
    assert login_via(app.test_client(), "user2@example.com", DEMO_PASSWORD, victim).status_code == 302
    # The guesser is limited on any account, and the guessed account from any client.
    assert login_via(app.test_client(), "user3@example.com", DEMO_PASSWORD, attacker).status_code == 429
    assert login_via(app.test_client(), "user1@example.com", DEMO_PASSWORD, bystander).status_code == 429


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_escape_the_limit(tmp_path):
    app = seeded_app(tmp_path / "instance", LOGIN_FAILURES_ALLOWED=3)
    for i in range(3):
        assert login_via(app.test_client(), f"user{i + 1}@example.com", "guess", f"192.0.2.{i}",
                         remote="203.0.113.5").status_code == 401
    forged = login_via(app.test_client(), "user4@example.com", DEMO_PASSWORD, "192.0.2.99", remote="203.0.113.5")
    assert forged.status_code == 429


def test_trusted_proxy_hops_must_be_a_whole_number(tmp_path):
    from app_under_test import create_app

    for bad in (-1, "1", True, 1.5):
        with pytest.raises(ValueError, match="TRUSTED_PROXY_HOPS"):
            create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True, "TRUSTED_PROXY_HOPS": bad})


SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


def test_every_route_answers_with_the_security_headers(tmp_path):
    app = seeded_app(tmp_path / "instance")
    client = app.test_client()
    login_with_test_client(client)
    paths = {"/static/style.css", "/no/such/page"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            paths.add(re.sub(r"<[^>]+>", "1", INT_ARGUMENT.sub("1", rule.rule)))
    for path in sorted(paths):
        response = client.get(path)
        headers = response.headers
        assert all(name in headers for name in SECURITY_HEADERS), (path, dict(headers))
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"], path
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path


def test_pages_hold_no_inline_script_or_style_the_policy_would_block(tmp_path):
    app = seeded_app(tmp_path / "instance")
    client = app.test_client()
    login_with_test_client(client)
    order = client.post(f"/ticket-types/{on_sale(app)}/purchase",
                        data={"quantity": "1", "csrf_token": csrf_token_in(client.get("/").get_data(as_text=True))})
    pages = ["/", "/login", "/organizers/1", "/events/1", f"/ticket-types/{on_sale(app)}", "/my-tickets",
             order.headers["Location"], "/no/such/page"]
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.I)
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert "<h1>" in html and not inline.search(html), (path, inline.search(html))


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[0]


def test_the_session_cookie_is_secure_over_https_and_when_configured(tmp_path, monkeypatch):
    app = seeded_app(tmp_path / "a")
    plain = session_cookie(app.test_client().get("/login"))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    over_https = session_cookie(app.test_client().get("/login", base_url="https://localhost"))
    assert "Secure" in over_https and "HttpOnly" in over_https and "SameSite=Lax" in over_https
    behind = seeded_app(tmp_path / "b", TRUSTED_PROXY_HOPS=1).test_client()
    assert "Secure" in session_cookie(behind.get("/login", headers={"X-Forwarded-Proto": "https",
                                                                    "X-Forwarded-For": "198.51.100.7"}))
    monkeypatch.setenv("TICKETS_SESSION_COOKIE_SECURE", "true")
    assert "Secure" in session_cookie(seeded_app(tmp_path / "c").test_client().get("/login"))


@pytest.mark.parametrize("overlay", ["standalone", "kube-prometheus-stack"])
def test_in_kubernetes_the_app_trusts_the_ingress_hop_and_marks_its_cookie_secure_over_https(tmp_path, monkeypatch,
                                                                                              overlay):
    from app_under_test import create_app
    from tests.fixtures.kustomize import build_overlay, find

    deployment = find(build_overlay(overlay), "Deployment", "ticket-app")
    app_container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "app")
    env = {e["name"]: e.get("value") for e in app_container["env"] if e["name"].startswith("TICKETS_")}
    for name, value in env.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True})
    assert app.config["TRUSTED_PROXY_HOPS"] == 1
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    # Behind a TLS Ingress the cookie is Secure; a plain-HTTP trial Ingress still gets a cookie
    # the browser sends back (a forced Secure flag would fail every form's CSRF check there).
    assert "Secure" in session_cookie(app.test_client().get("/login", headers={**forwarded,
                                                                             "X-Forwarded-Proto": "https"}))
    assert "Secure" not in session_cookie(app.test_client().get("/login", headers={**forwarded, "X-Forwarded-Proto": "http"}))


SLOW_CLIENTS = 10


def image_command(port: int) -> list[str]:
    """The app image's gunicorn command line (Dockerfile.app's CMD), bound to 127.0.0.1:``port``."""
    cmd = json.loads(next(line.split("CMD", 1)[1] for line in (REPO_ROOT / "Dockerfile.app").read_text().splitlines()
                          if line.startswith("CMD ")))
    assert cmd[0] == "gunicorn" and "0.0.0.0:8000" in cmd, cmd
    return [sys.executable, "-m", "gunicorn", *[a.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for a in cmd[1:]]]


def test_slow_clients_do_not_stall_the_image_command(tmp_path):
    instance = tmp_path / "instance"
    seeded_app(instance)
    port = free_port()
    env = {**os.environ, "TICKETS_INSTANCE_PATH": str(instance), "TICKETS_PASSWORD_HASH_METHOD": '"pbkdf2:sha256:1000"',
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    server = ManagedProcess("app-image-command", image_command(port), tmp_path / "gunicorn.log", env=env,
                            cwd=tmp_path).start()
    slow: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        server.wait_ready(lambda: requests.get(f"{base}/healthz", timeout=2).status_code == 200, 60,
                          "the image command to serve /healthz")
        for _ in range(SLOW_CLIENTS):
            # A request line and half the headers, then nothing: each holds the thread that reads it.
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(client)
        answer = requests.get(f"{base}/api/version", timeout=15)
        assert answer.status_code == 200
        for client in slow:  # they were still connected, still holding their threads
            client.setblocking(False)
            with pytest.raises(BlockingIOError):
                client.recv(1)
    finally:
        for client in slow:
            client.close()
        server.stop()


def test_the_sqlite_database_file_is_created_readable_by_its_owner_only(tmp_path):
    previous = os.umask(0o022)  # the usual umask, under which files come out world-readable
    try:
        app = seeded_app(tmp_path / "instance")
        assert app.test_client().get("/").status_code == 200
    finally:
        os.umask(previous)
    files = sorted((tmp_path / "instance").glob("tickets.sqlite*"))
    assert files and files[0].name == "tickets.sqlite"
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: "0o600" for f in files}


def test_an_existing_database_file_keeps_its_mode(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    existing = instance / "tickets.sqlite"
    existing.touch()
    existing.chmod(0o640)
    seeded_app(instance)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
