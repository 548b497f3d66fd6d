"""Liveness (the process answers) and readiness (the database answers) probes."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text

from app_under_test.db import engine_of

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    # Liveness must not depend on the database: a database outage should take pods out of
    # the Service (readiness), not restart them all.
    return {"status": "ok"}


@bp.route("/readyz")
def readyz():
    try:
        with engine_of(current_app).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        current_app.logger.warning("readiness check failed: %s", exc)
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}
