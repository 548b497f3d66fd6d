"""Fault injection for load scenarios: server errors at a ratio and added latency, per route or for all.

Off unless ``VIGILANTE_FAULTS_ENABLED=1``; then ``VIGILANTE_FAULTS_TOKEN`` must be set (there is
no default token: the app refuses to start without one) and ``/_faults`` changes the faults
for whoever presents ``Authorization: Bearer <token>``::

    curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
         -d '{"route": "*", "error_ratio": 0.2, "added_latency_seconds": 0.3}' http://app/_faults
    curl -X DELETE -H "Authorization: Bearer $TOKEN" http://app/_faults

Faults live in the database (table ``fault_rules``), so every gunicorn worker and every
replica sharing the database applies the same ones; each process re-reads them at most every
``VIGILANTE_FAULTS_REFRESH_SECONDS`` (1 s). ``route`` is the value of the configured route
label (``/event/<int:event_id>`` for ``url_rule``, ``catalog.event`` for ``endpoint``).

Errors are spread evenly, not drawn at random: with ratio r, each process fails exactly
floor(n·r) of n requests to a route, so a run's ground truth is known, not estimated. The
active faults are exported as ``vigilante_fault_error_ratio`` and
``vigilante_fault_added_latency_seconds`` (label ``route``).
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import delete, select

from app_under_test.db import get_session, new_session
from app_under_test.models import FaultRule

ALL_ROUTES = "*"
CONTROL_PATH = "/_faults"
MAX_ADDED_LATENCY_SECONDS = 30.0


@dataclass(frozen=True)
class Fault:
    error_ratio: float = 0.0
    added_latency_seconds: float = 0.0


class FaultInjector:
    """Applies the current faults to requests; reloads them from ``load`` every ``refresh_seconds``.

    >>> injector = FaultInjector(lambda: {"*": Fault(error_ratio=0.25)}, refresh_seconds=60)
    >>> [injector.decide("/x")[0] for _ in range(8)]
    [False, False, False, True, False, False, False, True]
    """

    def __init__(self, load: Callable[[], dict[str, Fault]], refresh_seconds: float = 1.0,
                 on_change: Callable[[dict[str, Fault]], None] | None = None):
        self._load = load
        self._refresh_seconds = refresh_seconds
        self._on_change = on_change
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._loaded_at = float("-inf")
        self._error_credit: dict[str, float] = {}

    def refresh(self) -> dict[str, Fault]:
        """Reload the faults now; return them."""
        faults = self._load()
        with self._lock:
            changed = faults != self._faults
            self._faults = faults
            self._loaded_at = time.monotonic()
            if changed:
                self._error_credit.clear()
        if changed and self._on_change:
            self._on_change(faults)
        return faults

    def current(self) -> dict[str, Fault]:
        if time.monotonic() - self._loaded_at >= self._refresh_seconds:
            return self.refresh()
        return self._faults

    def decide(self, route: str) -> tuple[bool, float]:
        """``(fail, added_latency_seconds)`` for one request to ``route``."""
        faults = self.current()
        key = route if route in faults else ALL_ROUTES
        fault = faults.get(key)
        if fault is None:
            return False, 0.0
        with self._lock:
            # Error diffusion: accumulate the ratio, fail when a whole error is owed. Owed per
            # fault, not per route: 1 % on every route fails 1 % of all requests, even when
            # no single route gets the 100 requests that owe it a whole error.
            credit = self._error_credit.get(key, 0.0) + fault.error_ratio
            fail = credit >= 1.0 - 1e-9
            self._error_credit[key] = credit - 1.0 if fail else credit
        return fail, fault.added_latency_seconds


def init_app(app: Flask, registry: CollectorRegistry, route_label: str, skipped_paths: tuple[str, ...]) -> None:
    """Enable fault injection on ``app`` (call only when enabled, after the metrics are wired)."""
    token = app.config.get("FAULTS_TOKEN") or ""
    if not token:
        raise RuntimeError("fault injection is enabled but VIGILANTE_FAULTS_TOKEN is empty: set a secret token")
    error_gauge = Gauge("vigilante_fault_error_ratio", "Injected server-error ratio, per route ('*' = all).",
                        ["route"], registry=registry, multiprocess_mode="mostrecent")
    latency_gauge = Gauge("vigilante_fault_added_latency_seconds", "Injected added latency, per route ('*' = all).",
                          ["route"], registry=registry, multiprocess_mode="mostrecent")
    exported: set[str] = set()

    def export(faults: dict[str, Fault]) -> None:
        # A route whose fault was removed reads 0, not its last value.
        for route in exported | set(faults) | {ALL_ROUTES}:
            fault = faults.get(route, Fault())
            error_gauge.labels(route=route).set(fault.error_ratio)
            latency_gauge.labels(route=route).set(fault.added_latency_seconds)
            exported.add(route)

    injector = FaultInjector(lambda: _load_rules(app), float(app.config.get("FAULTS_REFRESH_SECONDS", 1.0)), export)
    app.extensions["tickets_faults"] = injector
    export({})
    skipped = set(skipped_paths) | {CONTROL_PATH}

    @app.before_request
    def inject_fault() -> Response | None:
        if request.path in skipped:
            return None
        route = _route_of(route_label)
        fail, latency = injector.decide(route)
        if latency > 0:
            time.sleep(latency)
        if fail:
            response = jsonify(error="injected fault", route=route)
            response.status_code = 500
            response.headers["X-Vigilante-Fault"] = "error"
            return response
        return None

    control = Blueprint("faults", __name__)
    control.add_url_rule(CONTROL_PATH, "show", _show, methods=["GET"])
    control.add_url_rule(CONTROL_PATH, "set", _set, methods=["PUT", "POST"])
    control.add_url_rule(CONTROL_PATH, "clear", _clear, methods=["DELETE"])
    control.before_request(_require_token)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(control)  # a bearer token, not a browser session, authorises these calls
    app.register_blueprint(control)


def _route_of(route_label: str) -> str:
    if route_label == "endpoint":
        return str(request.endpoint)
    return str(request.url_rule)


def _load_rules(app: Flask) -> dict[str, Fault]:
    session = new_session(app)
    try:
        rows = session.scalars(select(FaultRule)).all()
        return {r.route: Fault(r.error_ratio, r.added_latency_seconds) for r in rows}
    finally:
        session.close()


def _require_token() -> None:
    expected = current_app.config["FAULTS_TOKEN"]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, description="Fault control needs 'Authorization: Bearer <token>'.")
    if not hmac.compare_digest(header[len("Bearer "):].encode(), expected.encode()):
        abort(403, description="Wrong fault-control token.")


def _faults_json(faults: dict[str, Fault]) -> Response:
    return jsonify(faults=[{"route": route, "error_ratio": f.error_ratio,
                            "added_latency_seconds": f.added_latency_seconds} for route, f in sorted(faults.items())])


def _show() -> Response:
    return _faults_json(current_app.extensions["tickets_faults"].refresh())


def _set() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="Send a JSON object: {\"route\": \"*\", \"error_ratio\": 0.1, \"added_latency_seconds\": 0}.")
    route = body.get("route", ALL_ROUTES)
    if not isinstance(route, str) or not route or len(route) > 200:
        abort(400, description="'route' must be a non-empty string of at most 200 characters ('*' = all routes).")
    error_ratio = _number(body, "error_ratio", 1.0)
    latency = _number(body, "added_latency_seconds", MAX_ADDED_LATENCY_SECONDS)
    session = get_session()
    rule = session.get(FaultRule, route)
    if error_ratio == 0 and latency == 0:
        if rule is not None:
            session.delete(rule)
    elif rule is None:
        session.add(FaultRule(route=route, error_ratio=error_ratio, added_latency_seconds=latency))
    else:
        rule.error_ratio, rule.added_latency_seconds = error_ratio, latency
    session.commit()
    return _faults_json(current_app.extensions["tickets_faults"].refresh())


def _clear() -> Response:
    session = get_session()
    session.execute(delete(FaultRule))
    session.commit()
    return _faults_json(current_app.extensions["tickets_faults"].refresh())


def _number(body: dict, key: str, maximum: float) -> float:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= maximum:
        abort(400, description=f"'{key}' must be a number from 0 to {maximum:g}, got {value!r}.")
    return float(value)
