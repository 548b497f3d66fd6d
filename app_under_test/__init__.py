"""The ticket-sales monolith Vigilante is attached to: a Flask app built by :func:`create_app`.

Configuration comes, in order, from defaults, ``TICKETS_*`` environment variables
(``TICKETS_SECRET_KEY``, ``TICKETS_MAX_TICKETS_PER_ORDER`` ...; values read as JSON when
they parse), ``DATABASE_URL``, the fault-injection variables (:mod:`app_under_test.faults`),
and finally the ``config`` mapping passed in (tests). ``config["VIGILANTE"]`` may hold an
:class:`vigilante.config.Config`; else it is loaded from ``$VIGILANTE_CONFIG``/``VIGILANTE_*``.

Run it::

    python -m app_under_test.seed            # create the schema and load demo data
    gunicorn 'app_under_test:create_app()'
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from vigilante import __version__ as VERSION
from vigilante.config import Config, load_config
from vigilante.attach.instrumentation import instrument

DEFAULTS: dict[str, Any] = {
    "VERSION": VERSION,
    "MAX_TICKETS_PER_ORDER": 10,
    "PASSWORD_HASH_METHOD": "scrypt",
    # Static files are versioned by URL (?v=VERSION), so a long max-age is safe.
    "SEND_FILE_MAX_AGE_DEFAULT": 7 * 24 * 3600,
    # The app's largest legitimate request is a small form: a bigger body is refused with
    # 413 before it is read, instead of being parsed into a worker's memory.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # Failed logins allowed per client address and per account in a sliding window, then 429
    # (per worker).
    "LOGIN_FAILURES_ALLOWED": 10,
    "LOGIN_FAILURE_WINDOW_SECONDS": 300,
    # Proxies in front of the app whose X-Forwarded-For/-Proto are believed (1 behind the
    # Kubernetes Ingress); with 0 those headers are ignored (app_under_test.security).
    "TRUSTED_PROXY_HOPS": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Secure on HTTPS requests anyway; True marks it Secure on every response (Kubernetes).
    "SESSION_COOKIE_SECURE": False,
    "FAULTS_ENABLED": False,
    "FAULTS_TOKEN": "",
    "FAULTS_REFRESH_SECONDS": 1.0,
    "UNSAFE_PURCHASE_FOR_TESTS": False,
    # Off only for the overhead benchmark's baseline: the same app without the exporter.
    "METRICS_ENABLED": True,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, database, CSRF, metrics, blueprints, fault injection."""
    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get("TICKETS_INSTANCE_PATH")
    app = Flask(__name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None,
                instance_relative_config=True)
    from app_under_test import security

    security.use_database_ids(app)
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("TICKETS")
    if os.environ.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    app.config["FAULTS_ENABLED"] = os.environ.get("VIGILANTE_FAULTS_ENABLED", "") in ("1", "true", "yes")
    app.config["FAULTS_TOKEN"] = os.environ.get("VIGILANTE_FAULTS_TOKEN", "")
    if os.environ.get("VIGILANTE_FAULTS_REFRESH_SECONDS"):
        app.config["FAULTS_REFRESH_SECONDS"] = float(os.environ["VIGILANTE_FAULTS_REFRESH_SECONDS"])
    app.config.update(config)
    if app.config["UNSAFE_PURCHASE_FOR_TESTS"] and not app.config.get("TESTING"):
        raise RuntimeError("UNSAFE_PURCHASE_FOR_TESTS is only allowed together with TESTING")

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{Path(app.instance_path) / 'tickets.sqlite'}")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))

    from app_under_test import db

    db.init_app(app)
    CSRFProtect(app)

    vigilante: Config = app.config.get("VIGILANTE") or load_config()
    registry = _fresh_registry()
    if app.config["METRICS_ENABLED"]:
        metrics = instrument(app, vigilante, version=app.config["VERSION"], registry=registry)
        registry = metrics.registry
        app.extensions["tickets_metrics"] = metrics
    from app_under_test.business_metrics import BusinessMetrics

    app.extensions["tickets_business_metrics"] = BusinessMetrics.register(registry)

    from app_under_test import api, auth, catalog, health, orders

    for blueprint in (health.bp, auth.bp, catalog.bp, orders.bp, api.bp):
        app.register_blueprint(blueprint)
    app.extensions["csrf"].exempt(api.bp)  # read-only GETs
    _register_error_pages(app)

    if app.config["FAULTS_ENABLED"]:
        from app_under_test import faults

        faults.init_app(app, registry, vigilante.app.route_label, vigilante.app.excluded_paths)

    @app.context_processor
    def asset_version() -> dict[str, str]:
        return {"asset_version": app.config["VERSION"]}

    from app_under_test.seed import register_commands

    register_commands(app)
    # Last, so the proxy fix wraps the metrics middleware too and every layer sees the client.
    security.init_app(app)
    return app


def _fresh_registry():
    """A registry per app (tests build many apps in one process), with the process metrics."""
    from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def _instance_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, shared by every worker of this installation.

    A per-process random key would break sessions and CSRF tokens as soon as a second
    worker answers; production sets ``TICKETS_SECRET_KEY`` from a Kubernetes Secret.
    """
    path = instance / "secret_key"
    if not path.exists():
        # Written aside, then linked into place: workers starting together all read one
        # complete key, whichever of them wins.
        candidate = instance / f".secret_key.{os.getpid()}"
        candidate.write_text(secrets.token_hex(32))
        os.chmod(candidate, 0o600)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text().strip()


def _register_error_pages(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(("/api/", "/_faults")) or request.accept_mimetypes.best == "application/json"

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = f"The form could not be accepted: {error.description} Reload the page and try again."
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if wants_json():
            return jsonify(error=error.name, message=error.description), error.code
        return render_template("error.html", code=error.code, message=error.description), error.code
