"""Buying tickets (CSRF-protected form), the order page, "my tickets" and each ticket's QR code."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app_under_test.db import get_session
from app_under_test.models import Order, Ticket, TicketType
from app_under_test.auth import login_required
from app_under_test.sales import PurchaseRefused, purchase

bp = Blueprint("orders", __name__)


@bp.route("/ticket-types/<int:ticket_type_id>/purchase", methods=["POST"])
@login_required
def buy(ticket_type_id: int):
    session = get_session()
    business = current_app.extensions["tickets_business_metrics"]
    try:
        order = purchase(session, g.user, ticket_type_id, request.form.get("quantity"),
                         max_per_order=current_app.config["MAX_TICKETS_PER_ORDER"],
                         unsafe=current_app.config.get("UNSAFE_PURCHASE_FOR_TESTS", False))
    except PurchaseRefused as refused:
        business.purchases_refused.labels(reason=refused.reason).inc()
        ticket_type = session.get(TicketType, ticket_type_id)
        return render_template("purchase_refused.html", message=refused.message, ticket_type=ticket_type), refused.status
    business.orders.inc()
    business.tickets_sold.inc(order.quantity)
    # 303: the browser follows with a GET, so a reload never buys twice.
    return redirect(url_for("orders.order", order_id=order.id), code=303)


@bp.route("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    found = get_session().scalar(
        select(Order).where(Order.id == order_id, Order.user_id == g.user.id).options(selectinload(Order.tickets)))
    if found is None:
        abort(404, description=f"You have no order {order_id}.")
    return render_template("order.html", order=found)


@bp.route("/my-tickets")
@login_required
def my_tickets():
    orders = get_session().scalars(
        select(Order).where(Order.user_id == g.user.id).order_by(Order.created_at.desc(), Order.id.desc())
        .options(selectinload(Order.tickets))
    ).all()
    return render_template("my_tickets.html", orders=orders)


@bp.route("/tickets/<code>/qr.svg")
@login_required
def ticket_qr(code: str):
    ticket = get_session().scalar(select(Ticket).join(Order).where(Ticket.code == code, Order.user_id == g.user.id))
    if ticket is None:
        abort(404, description="You have no ticket with that code.")
    response = Response(ticket.qr_svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
