"""Helpers for tests and benchmarks that drive the ticket app: a seeded app, logging in, CSRF tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask

# Seeding hashes passwords; scrypt's cost is right for production and wasted in tests.
FAST_PASSWORD_HASH = "pbkdf2:sha256:1000"
# The demo users' password in tests (installations get a generated one: app_under_test.seed).
DEMO_PASSWORD = "test-only-password"
DEMO_EMAIL = "user1@example.com"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def seeded_app(instance: Path, database_url: str | None = None, reset: bool = False, **config: Any) -> Flask:
    """A ``TESTING`` app whose database holds the demo data (created when missing)."""
    from app_under_test import create_app
    from app_under_test.seed import create_and_seed

    settings = {"INSTANCE_PATH": str(instance), "TESTING": True, "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
                "DEMO_PASSWORD": DEMO_PASSWORD, **config}
    if database_url:
        settings["DATABASE_URL"] = database_url
    app = create_app(settings)
    create_and_seed(app, reset=reset, events=36)
    return app


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = _CSRF_INPUT.search(html)
    if not match:
        raise AssertionError("no csrf_token input in the page")
    return match.group(1)


def login_with_test_client(client: Any, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> None:
    """Log ``client`` (a Flask test client) in, going through the real form and its CSRF token."""
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def login_over_http(http: Any, base_url: str, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> None:
    """Log a ``requests.Session`` in against a running server."""
    token = csrf_token_in(http.get(f"{base_url}/login", timeout=10).text)
    response = http.post(f"{base_url}/login", data={"email": email, "password": password, "csrf_token": token},
                         allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
