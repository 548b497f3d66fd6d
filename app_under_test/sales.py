"""Selling tickets: one transaction creates the order, its tickets and the confirmation e-mail.

Stock is taken with one conditional statement,
``UPDATE ticket_types SET remaining = remaining - q WHERE id = ? AND remaining >= q``,
which is atomic on SQLite (one writer at a time) and on MySQL/MariaDB (InnoDB locks the row
and re-reads its latest committed value), so parallel buyers of the last tickets can never
sell more than there are. A purchase that took no stock rolls back whole.

``unsafe=True`` is the classic read-check-write bug (read ``remaining``, check it in Python,
write ``remaining = read - q``), kept only so the test suite can show that its
no-overselling test does catch overselling. The app enables it only under ``TESTING``.
"""

from __future__ import annotations

import io
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app_under_test.models import Order, OutboxEmail, Ticket, TicketType, User, utcnow

# Long enough that concurrent unsafe purchases overlap between their read and their write.
UNSAFE_RACE_WINDOW_SECONDS = 0.05

REFUSAL_REASONS = ("invalid_quantity", "unknown_ticket_type", "sales_closed", "sold_out")
"""Every reason a purchase is refused for; the ``reason`` label of the refusal counter."""


class PurchaseRefused(Exception):
    """A purchase that was not made; ``reason`` is one of :data:`REFUSAL_REASONS`."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PlannedTicket:
    code: str
    qr_svg: str


def parse_quantity(raw: object, maximum: int) -> int:
    """The quantity a buyer typed, or :class:`PurchaseRefused` saying what is wrong with it.

    >>> parse_quantity("3", 10)
    3
    >>> parse_quantity("-1", 10)
    Traceback (most recent call last):
    ...
    app_under_test.sales.PurchaseRefused: Quantity must be a whole number from 1 to 10, got '-1'.
    """
    text = str(raw if raw is not None else "").strip()
    message = f"Quantity must be a whole number from 1 to {maximum}, got {text[:20]!r}."
    # isdecimal() alone accepts other scripts' digits; ask for ASCII digits and a sane length.
    if not (text.isascii() and text.isdecimal()) or len(text) > 6:
        raise PurchaseRefused("invalid_quantity", message, 400)
    quantity = int(text)
    if not 1 <= quantity <= maximum:
        raise PurchaseRefused("invalid_quantity", message, 400)
    return quantity


def plan_tickets(quantity: int) -> list[PlannedTicket]:
    """Codes and QR images for ``quantity`` tickets, made before the transaction so it stays short."""
    planned = []
    for _ in range(quantity):
        code = secrets.token_hex(8).upper()
        qr = segno.make(f"TICKET:{code}", error="m")
        svg = io.BytesIO()
        # A standalone image (served as image/svg+xml) needs the SVG namespace, unlike inline SVG.
        qr.save(svg, kind="svg", scale=4, xmldecl=False, svgns=True, nl=False)
        planned.append(PlannedTicket(code, svg.getvalue().decode()))
    return planned


def purchase(session: Session, user: User, ticket_type_id: int, raw_quantity: object, *, max_per_order: int,
             now: datetime | None = None, unsafe: bool = False) -> Order:
    """Sell ``raw_quantity`` tickets of one type to ``user`` in one transaction; return the order.

    Raises :class:`PurchaseRefused` (nothing written) for a bad quantity, an unknown ticket
    type, an event that has started, or too few tickets left.
    """
    quantity = parse_quantity(raw_quantity, max_per_order)
    ticket_type = session.get(TicketType, ticket_type_id)
    if ticket_type is None:
        raise PurchaseRefused("unknown_ticket_type", f"There is no ticket type {ticket_type_id}.", 404)
    event = ticket_type.event
    if event.starts_at <= (now or utcnow()):
        raise PurchaseRefused("sales_closed", f"Sales for “{event.title}” have closed: the event has started.", 409)
    planned = plan_tickets(quantity)
    type_name, price_cents, event_title = ticket_type.name, ticket_type.price_cents, event.title
    user_id, user_email, user_name = user.id, user.email, user.name
    # Whatever the session read so far must not hold a transaction open across the sale.
    session.rollback()
    try:
        if unsafe:
            taken = _take_stock_unsafely(session, ticket_type_id, quantity)
        else:
            taken = _take_stock(session, ticket_type_id, quantity)
        if not taken:
            left = session.scalar(select(TicketType.remaining).where(TicketType.id == ticket_type_id))
            raise PurchaseRefused(
                "sold_out",
                f"Sold out: only {left} ticket(s) of “{type_name}” left, you asked for {quantity}."
                if left else f"Sold out: no “{type_name}” tickets left.",
                409,
            )
        order = Order(user_id=user_id, ticket_type_id=ticket_type_id, quantity=quantity,
                      total_cents=quantity * price_cents)
        session.add(order)
        session.flush()
        for planned_ticket in planned:
            session.add(Ticket(order_id=order.id, code=planned_ticket.code, qr_svg=planned_ticket.qr_svg))
        session.add(OutboxEmail(
            to_address=user_email,
            subject=f"Your tickets for {event_title}",
            body=_confirmation_body(user_name, event_title, type_name, planned, order.id),
            order_id=order.id,
        ))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return order


def _take_stock(session: Session, ticket_type_id: int, quantity: int) -> bool:
    result = session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id, TicketType.remaining >= quantity)
        .values(remaining=TicketType.remaining - quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _take_stock_unsafely(session: Session, ticket_type_id: int, quantity: int) -> bool:
    remaining = session.scalar(select(TicketType.remaining).where(TicketType.id == ticket_type_id))
    if remaining is None or remaining < quantity:
        return False
    time.sleep(UNSAFE_RACE_WINDOW_SECONDS)
    # A lost update: writes what it read minus its own quantity, so stock never goes below 0
    # and the CHECK constraint never trips, yet more tickets are sold than existed.
    session.execute(
        update(TicketType).where(TicketType.id == ticket_type_id).values(remaining=remaining - quantity)
        .execution_options(synchronize_session=False)
    )
    return True


def _confirmation_body(user_name: str, event_title: str, type_name: str, planned: list[PlannedTicket],
                       order_id: int) -> str:
    codes = "\n".join(f"  - {t.code}" for t in planned)
    return (f"Hello {user_name},\n\nthank you for order #{order_id}: {len(planned)} × {type_name} "
            f"for {event_title}.\nYour ticket codes:\n{codes}\n\nShow the QR code of each ticket at the door.\n")
