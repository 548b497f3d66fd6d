"""What every response and request of the ticket app gets: bounded ids, trusted proxies, headers, cookies.

- ``<int:...>`` in a route is a database id: 0 to 2**63-1 (what SQLite's and MySQL's signed
  64-bit integers hold), ASCII digits only; anything else is a 404 before a query is made.
- ``TRUSTED_PROXY_HOPS`` (0 by default) says how many proxies in front of the app append
  ``X-Forwarded-For``/``X-Forwarded-Proto``: the client address and scheme are read that many
  hops back (Werkzeug's ``ProxyFix``). With 0 the headers are ignored, so nobody can forge them.
- Every response carries a Content-Security-Policy (the templates have no inline script or
  style), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and a Referrer-Policy.
- The session cookie is ``Secure`` on any request that arrived over HTTPS, and always when
  ``SESSION_COOKIE_SECURE`` is set (the Kubernetes manifests set it).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

MAX_DATABASE_ID = 2**63 - 1

SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join((
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'")),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Paths can hold ids and ``next`` targets: other sites get no referrer at all.
    "Referrer-Policy": "same-origin",
}


class DatabaseIdConverter(IntegerConverter):
    """``<int:name>`` as a database id: at most 19 ASCII digits and no larger than :data:`MAX_DATABASE_ID`.

    >>> converter = DatabaseIdConverter(Map())
    >>> converter.to_python("42")
    42
    >>> converter.to_python(str(2**63))
    Traceback (most recent call last):
    ...
    werkzeug.routing.converters.ValidationError
    """

    # [0-9], not \\d: other scripts' digits are not ids. 19 digits cover 2**63-1; a longer
    # number is no row, and refusing it here spares the database driver an overflow.
    regex = r"[0-9]{1,19}"

    # Werkzeug's argument names (``<int(max=99):n>``); a route can narrow the range, never widen it.
    def __init__(self, map: Map, fixed_digits: int = 0, min: int = 0, max: int = MAX_DATABASE_ID) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=_at_least_zero(min), max=_at_most_max_id(max))


def _at_least_zero(value: int) -> int:
    return value if value > 0 else 0


def _at_most_max_id(value: int) -> int:
    return value if value < MAX_DATABASE_ID else MAX_DATABASE_ID


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` also on every request that came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def trusted_proxy_hops(config: dict[str, Any]) -> int:
    """``TRUSTED_PROXY_HOPS`` from ``config``, checked: a whole number from 0.

    >>> trusted_proxy_hops({"TRUSTED_PROXY_HOPS": 1})
    1
    >>> trusted_proxy_hops({"TRUSTED_PROXY_HOPS": "1"})
    Traceback (most recent call last):
    ...
    ValueError: TRUSTED_PROXY_HOPS must be a whole number from 0 (the proxies in front of the app), got '1'.
    """
    hops = config.get("TRUSTED_PROXY_HOPS", 0)
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ValueError(f"TRUSTED_PROXY_HOPS must be a whole number from 0 (the proxies in front of the app), "
                         f"got {hops!r}.")
    return hops


def use_database_ids(app: Flask) -> None:
    """Make ``<int:...>`` a :class:`DatabaseIdConverter`; call before any route is registered."""
    app.url_map.converters["int"] = DatabaseIdConverter


def init_app(app: Flask) -> None:
    """Trust the configured proxy hops, sign sessions with Secure-over-HTTPS cookies, add the headers."""
    hops = trusted_proxy_hops(app.config)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.session_interface = HttpsAwareSessionInterface()

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
