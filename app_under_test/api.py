"""The small JSON API the pages use: upcoming events and live availability."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from app_under_test.db import get_session
from app_under_test.models import Event, TicketType, utcnow

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 100


@bp.route("/version")
def version():
    """The running release: the cheapest measured page, the benchmark's "trivial endpoint"."""
    return {"version": current_app.config["VERSION"]}


@bp.route("/events")
def events():
    limit = _int_arg("limit", 20, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, 10**6)
    rows = get_session().scalars(
        select(Event).where(Event.starts_at > utcnow()).order_by(Event.starts_at, Event.id).limit(limit).offset(offset)
    ).all()
    return jsonify(events=[{"id": e.id, "title": e.title, "venue": e.venue, "starts_at": e.starts_at.isoformat() + "Z",
                            "organizer_id": e.organizer_id} for e in rows], limit=limit, offset=offset)


@bp.route("/events/<int:event_id>/availability")
def event_availability(event_id: int):
    session = get_session()
    if session.get(Event, event_id) is None:
        abort(404, description=f"There is no event {event_id}.")
    rows = session.scalars(select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.id)).all()
    return jsonify(event_id=event_id, ticket_types=[_availability(t) for t in rows])


@bp.route("/ticket-types/<int:ticket_type_id>/availability")
def ticket_type_availability(ticket_type_id: int):
    found = get_session().get(TicketType, ticket_type_id)
    if found is None:
        abort(404, description=f"There is no ticket type {ticket_type_id}.")
    return jsonify(_availability(found))


def _availability(t: TicketType) -> dict:
    return {"id": t.id, "name": t.name, "remaining": t.remaining, "capacity": t.capacity, "sold_out": t.remaining == 0}


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdecimal()) or not low <= int(raw) <= high:
        abort(400, description=f"'{name}' must be a whole number from {low} to {high}, got {raw[:20]!r}.")
    return int(raw)
