"""Log in and out with an e-mail and a hashed password; the user id lives in the signed session cookie."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app_under_test.db import get_session
from app_under_test.models import User

bp = Blueprint("auth", __name__)

MAX_EMAIL_LENGTH = 254


def hash_password(app_config: dict, password: str) -> str:
    """A salted hash with the configured method (tests use a cheap one)."""
    return generate_password_hash(password, method=app_config.get("PASSWORD_HASH_METHOD", "scrypt"))


@bp.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = get_session().get(User, user_id) if user_id is not None else None


def login_required(view: Callable) -> Callable:
    """Send anonymous visitors to the login page, then back."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(**kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if request.method == "POST":
        failures = _failed_logins()
        email = (request.form.get("email") or "").strip().lower()
        keys = _limit_keys(request.remote_addr, email)
        wait = failures.wait_seconds(*keys)
        if wait:
            error = f"Too many failed logins: try again in {wait:.0f} s."
            response = render_template("login.html", error=error, email="", next=next_url), 429
            return (*response, {"Retry-After": str(int(wait) + 1)})
        password = request.form.get("password") or ""
        user = get_session().scalar(select(User).where(User.email == email)) if email else None
        # An unknown e-mail costs one hash check too, against a hash of the same method: the
        # answer takes as long as for a known one, so timing does not tell which accounts exist.
        stored = user.password_hash if user is not None else _dummy_hash()
        # Same message whether the e-mail or the password is wrong: no account probing.
        if not check_password_hash(stored, password) or user is None:
            failures.record(*keys)
            return render_template("login.html", error="Wrong e-mail or password.", email=email, next=next_url), 401
        session.clear()
        session["user_id"] = user.id
        flash(f"Welcome, {user.name}.")
        return redirect(next_url or url_for("catalog.home"))
    return render_template("login.html", error=None, email="", next=next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("catalog.home"))


def _dummy_hash() -> str:
    """A hash of a random password with this app's method, made once per app."""
    extensions = current_app.extensions
    if "tickets_dummy_password_hash" not in extensions:
        extensions["tickets_dummy_password_hash"] = hash_password(current_app.config, secrets.token_hex(16))
    return extensions["tickets_dummy_password_hash"]


def _failed_logins() -> "FailedLogins":
    extensions = current_app.extensions
    if "tickets_failed_logins" not in extensions:
        extensions["tickets_failed_logins"] = FailedLogins(current_app.config["LOGIN_FAILURES_ALLOWED"],
                                                           current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    return extensions["tickets_failed_logins"]


def _limit_keys(client: str | None, email: str) -> tuple[str, ...]:
    """What a failed login counts against: the client (as the trusted proxies report it) and the account.

    Per client, one guesser cannot try many accounts; per account, many addresses cannot
    share the guessing of one password. Unknown e-mails count alike, so the limit tells
    nothing about which accounts exist.

    >>> _limit_keys("203.0.113.5", "user1@example.com")
    ('client 203.0.113.5', 'account user1@example.com')
    """
    keys = [f"client {client or 'unknown'}"]
    if email:
        # No address is longer (RFC 5321); a longer one must not cost memory, however many are sent.
        keys.append(f"account {email[:MAX_EMAIL_LENGTH]}")
    return tuple(keys)


class FailedLogins:
    """Failed logins per key (a client, an account) in a sliding window; bounded in memory however many try.

    >>> limit = FailedLogins(allowed=2, window_seconds=60, clock=lambda: 1000.0)
    >>> limit.record("client 10.0.0.1", "account a@x"); limit.record("client 10.0.0.1", "account b@x")
    >>> limit.wait_seconds("client 10.0.0.1"), limit.wait_seconds("client 10.0.0.2", "account a@x")
    (60.0, 0.0)
    """

    MAX_KEYS = 20_000

    def __init__(self, allowed: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.allowed = allowed
        self.window = window_seconds
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, *keys: str) -> None:
        """Count one failed login against each of ``keys``."""
        with self._lock:
            now = self.clock()
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self.allowed)
                times.append(now)
                self._failures[key] = times  # most recent last
            while len(self._failures) > self.MAX_KEYS:
                self._failures.popitem(last=False)

    def wait_seconds(self, *keys: str) -> float:
        """0 when none of ``keys`` is limited, else the seconds until all of them may try again."""
        with self._lock:
            return max((self._wait(key) for key in keys), default=0.0)

    def _wait(self, key: str) -> float:
        times = self._failures.get(key)
        if not times or len(times) < self.allowed:
            return 0.0
        return max(0.0, times[0] + self.window - self.clock())


def _safe_next(target: str | None) -> str | None:
    r"""``target`` if it is a plain path on this site, else ``None`` (the caller's default page).

    A ``next`` pointing elsewhere would make the login an open redirect; one with control
    characters would break the ``Location`` header. Browsers read a backslash as a slash,
    so ``/\evil.example`` names another host too.

    >>> _safe_next("/my-tickets?page=2"), _safe_next("//evil.example"), _safe_next("/\\evil.example")
    ('/my-tickets?page=2', None, None)
    >>> _safe_next("/\r\nSet-Cookie: x=1"), _safe_next("https://evil.example/")
    (None, None)
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
