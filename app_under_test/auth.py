"""Log in and out with an e-mail and a hashed password; the user id lives in the signed session cookie."""

from __future__ import annotations

import functools
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
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
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        user = get_session().scalar(select(User).where(User.email == email)) if email else None
        # Same message whether the e-mail or the password is wrong: no account probing.
        if user is None or not check_password_hash(user.password_hash, password):
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


def _safe_next(target: str | None) -> str | None:
    """Only a local path: a ``next`` pointing elsewhere would make the login an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


