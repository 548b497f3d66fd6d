"""Pages to browse: home (upcoming events), organizer, event and ticket type."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app_under_test.db import get_session
from app_under_test.models import Event, Organizer, TicketType, utcnow

bp = Blueprint("catalog", __name__)

HOME_EVENT_LIMIT = 30


@bp.route("/")
def home():
    events = get_session().scalars(
        select(Event).where(Event.starts_at > utcnow()).order_by(Event.starts_at).limit(HOME_EVENT_LIMIT)
        .options(selectinload(Event.organizer), selectinload(Event.ticket_types))
    ).all()
    return render_template("home.html", events=events)


@bp.route("/organizers/<int:organizer_id>")
def organizer(organizer_id: int):
    found = get_session().get(Organizer, organizer_id) or abort(404, description=f"There is no organizer {organizer_id}.")
    return render_template("organizer.html", organizer=found, now=utcnow())


@bp.route("/events/<int:event_id>")
def event(event_id: int):
    found = get_session().get(Event, event_id) or abort(404, description=f"There is no event {event_id}.")
    return render_template("event.html", event=found, now=utcnow())


@bp.route("/ticket-types/<int:ticket_type_id>")
def ticket_type(ticket_type_id: int):
    found = get_session().get(TicketType, ticket_type_id) or abort(
        404, description=f"There is no ticket type {ticket_type_id}.")
    return render_template("ticket_type.html", ticket_type=found, event=found.event, now=utcnow())
