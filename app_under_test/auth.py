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
        client = request.remote_addr or "unknown"
        wait = failures.wait_seconds(client)
        if wait:
            error = f"Too many failed logins from your address: try again in {wait:.0f} s."
            response = render_template("login.html", error=error, email="", next=next_url), 429
            return (*response, {"Retry-After": str(int(wait) + 1)})
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        user = get_session().scalar(select(User).where(User.email == email)) if email else None
        # An unknown e-mail costs one hash check too, against a hash of the same method: the
        # answer takes as long as for a known one, so timing does not tell which accounts exist.
        stored = user.password_hash if user is not None else _dummy_hash()
        # Same message whether the e-mail or the password is wrong: no account probing.
        if not check_password_hash(stored, password) or user is None:
            failures.record(client)
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


class FailedLogins:
    """Failed logins per client in a sliding window; bounded in memory however many clients try.

    >>> limit = FailedLogins(allowed=2, window_seconds=60, clock=lambda: 1000.0)
    >>> limit.record("10.0.0.1"); limit.record("10.0.0.1"); limit.wait_seconds("10.0.0.1")
    60.0
    >>> limit.wait_seconds("10.0.0.2")
    0.0
    """

    MAX_CLIENTS = 10_000

    def __init__(self, allowed: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.allowed = allowed
        self.window = window_seconds
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, client: str) -> None:
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self.allowed)
            times.append(self.clock())
            self._failures[client] = times  # most recent last
            while len(self._failures) > self.MAX_CLIENTS:
                self._failures.popitem(last=False)

    def wait_seconds(self, client: str) -> float:
        """0 when ``client`` may try again, else the seconds until its oldest counted failure expires."""
        with self._lock:
            times = self._failures.get(client)
            if not times or len(times) < self.allowed:
                return 0.0
            return max(0.0, times[0] + self.window - self.clock())


def _safe_next(target: str | None) -> str | None:
    """Only a local path: a ``next`` pointing elsewhere would make the login an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


