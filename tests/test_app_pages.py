"""Every page and flow of the ticket app through Flask's test client, bad input included."""

from __future__ import annotations

import re
from html import unescape
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from werkzeug.exceptions import NotFound

from app_under_test.db import new_session
from app_under_test.models import Event, Order, OutboxEmail, Ticket, TicketType, utcnow
from app_under_test.testing import DEMO_PASSWORD, csrf_token_in, login_with_test_client, seeded_app


@pytest.fixture
def app(tmp_path):
    return seeded_app(tmp_path / "instance")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def logged_in(client):
    login_with_test_client(client)
    return client


def counts(app) -> dict[str, int]:
    session = new_session(app)
    try:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Order, Ticket, OutboxEmail)}
    finally:
        session.close()


def on_sale_ticket_type(app, remaining: int | None = None) -> TicketType:
    """A ticket type of a future event (optionally with its stock set to ``remaining``)."""
    session = new_session(app)
    try:
        tt = session.scalars(select(TicketType).join(Event).where(Event.starts_at > utcnow() + timedelta(days=1))
                             .order_by(TicketType.id)).first()
        if remaining is not None:
            session.execute(update(TicketType).where(TicketType.id == tt.id).values(remaining=remaining))
            session.commit()
        return session.get(TicketType, tt.id)
    finally:
        session.close()


def remaining_of(app, ticket_type_id: int) -> int:
    session = new_session(app)
    try:
        return session.scalar(select(TicketType.remaining).where(TicketType.id == ticket_type_id))
    finally:
        session.close()


def buy(client, ticket_type_id: int, quantity, with_csrf: bool = True):
    page = client.get(f"/ticket-types/{ticket_type_id}").get_data(as_text=True)
    data = {"quantity": quantity}
    if with_csrf:
        data["csrf_token"] = csrf_token_in(page)
    return client.post(f"/ticket-types/{ticket_type_id}/purchase", data=data)


# --- browsing -----------------------------------------------------------------------------

def test_home_lists_only_upcoming_events_with_links(client, app):
    html = client.get("/").get_data(as_text=True)
    session = new_session(app)
    past = session.scalars(select(Event).where(Event.starts_at <= utcnow())).all()
    future = session.scalars(select(Event).where(Event.starts_at > utcnow()).order_by(Event.starts_at)).first()
    session.close()
    assert past, "the demo data must hold past events"
    assert f'href="/events/{future.id}"' in html
    for event in past:
        assert f'href="/events/{event.id}"' not in html


@pytest.mark.parametrize("path", ["/organizers/1", "/events/1", "/ticket-types/1", "/login"])
def test_each_page_renders(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<h1>" in response.get_data(as_text=True)


def error_paragraphs(html: str) -> list[str]:
    """The messages of the app's error page (templates/error.html), unescaped."""
    return [unescape(m) for m in re.findall(r'<p class="error">(.*?)</p>', html, re.S)]


@pytest.mark.parametrize("path, message", [
    ("/organizers/9999", "There is no organizer 9999."),
    ("/events/9999", "There is no event 9999."),
    ("/ticket-types/9999", "There is no ticket type 9999."),
    ("/events/abc", NotFound.description),  # no route matches: the generic answer, on our error page
])
def test_unknown_ids_are_404_with_a_clear_message(client, path, message):
    response = client.get(path)
    assert response.status_code == 404
    assert error_paragraphs(response.get_data(as_text=True)) == [message]


def test_ticket_page_asks_anonymous_visitors_to_log_in(client, app):
    html = client.get(f"/ticket-types/{on_sale_ticket_type(app).id}").get_data(as_text=True)
    assert "to buy tickets" in html and 'name="quantity"' not in html


def test_static_assets_have_cache_headers_and_revalidate(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "max-age=604800" in response.headers["Cache-Control"]
    again = client.get("/static/style.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert "style.css?v=" in client.get("/").get_data(as_text=True)


# --- JSON API -----------------------------------------------------------------------------

def test_api_events_pages_through_upcoming_events(client):
    first = client.get("/api/events?limit=5").get_json()
    second = client.get("/api/events?limit=5&offset=5").get_json()
    assert len(first["events"]) == 5 and len(second["events"]) == 5
    assert not {e["id"] for e in first["events"]} & {e["id"] for e in second["events"]}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "limit=1e3"])
def test_api_rejects_bad_paging_with_json_400(client, query):
    response = client.get(f"/api/events?{query}")
    assert response.status_code == 400
    assert "must be a whole number" in response.get_json()["message"]


def test_api_availability(client, app):
    tt = on_sale_ticket_type(app)
    data = client.get(f"/api/ticket-types/{tt.id}/availability").get_json()
    assert data == {"id": tt.id, "name": tt.name, "remaining": tt.remaining, "capacity": tt.capacity, "sold_out": False}
    by_event = client.get(f"/api/events/{tt.event_id}/availability").get_json()
    assert tt.id in [t["id"] for t in by_event["ticket_types"]]
    assert client.get("/api/ticket-types/9999/availability").status_code == 404
    assert client.get("/api/events/9999/availability").get_json()["message"] == "There is no event 9999."


# --- health -------------------------------------------------------------------------------

def test_liveness_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok"}


def test_readiness_fails_when_the_database_is_unreachable(tmp_path):
    from app_under_test import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "TESTING": True,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir/db.sqlite"})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


# --- login --------------------------------------------------------------------------------

def test_login_logout_round_trip(client):
    login_with_test_client(client)
    assert "Demo User 1" in client.get("/").get_data(as_text=True)
    token = csrf_token_in(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Log in" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("email, password", [("user1@example.com", "wrong"), ("nobody@example.com", DEMO_PASSWORD),
                                             ("", "")])
def test_wrong_credentials_are_refused_with_one_message(client, email, password):
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "user1@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.get_data(as_text=True)


def test_login_redirects_only_to_local_next(client):
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    form = {"email": "user1@example.com", "password": DEMO_PASSWORD, "csrf_token": token}
    response = client.post("/login?next=https://evil.example/", data=form)
    assert response.headers["Location"] == "/"
    client.get("/")  # new session after login: fetch a fresh token
    client2 = client.application.test_client()
    token = csrf_token_in(client2.get("/login").get_data(as_text=True))
    form["csrf_token"] = token
    assert client2.post("/login?next=/my-tickets", data=form).headers["Location"] == "/my-tickets"


def test_pages_for_users_redirect_anonymous_visitors_to_login(client):
    for path in ("/my-tickets", "/orders/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    assert client.post("/ticket-types/1/purchase", data={"quantity": 1}).status_code == 400  # CSRF first
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    response = client.post("/ticket-types/1/purchase", data={"quantity": 1, "csrf_token": token})
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


# --- purchase -----------------------------------------------------------------------------

def test_purchase_creates_order_tickets_qr_codes_and_email_in_one_go(logged_in, app):
    tt = on_sale_ticket_type(app)
    before = counts(app)
    response = buy(logged_in, tt.id, 3)
    assert response.status_code == 303
    order_page = logged_in.get(response.headers["Location"]).get_data(as_text=True)
    codes = re.findall(r"<code>([0-9A-F]{16})</code>", order_page)
    assert len(set(codes)) == 3
    after = counts(app)
    assert after == {"orders": before["orders"] + 1, "tickets": before["tickets"] + 3,
                     "email_outbox": before["email_outbox"] + 1}
    assert remaining_of(app, tt.id) == tt.remaining - 3
    qr = logged_in.get(f"/tickets/{codes[0]}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert all(code in logged_in.get("/my-tickets").get_data(as_text=True) for code in codes)
    session = new_session(app)
    email = session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    session.close()
    assert email.to_address == "user1@example.com" and all(code in email.body for code in codes)


def test_purchase_counts_business_metrics(logged_in, app):
    registry = app.extensions["tickets_metrics"].registry
    tt = on_sale_ticket_type(app, remaining=2)
    buy(logged_in, tt.id, 2)
    buy(logged_in, tt.id, 1)
    buy(logged_in, tt.id, "x")
    assert registry.get_sample_value("tickets_sold_total") == 2
    assert registry.get_sample_value("tickets_purchases_refused_total", {"reason": "sold_out"}) == 1
    assert registry.get_sample_value("tickets_purchases_refused_total", {"reason": "invalid_quantity"}) == 1
    assert registry.get_sample_value("tickets_purchases_refused_total", {"reason": "sales_closed"}) == 0


@pytest.mark.parametrize("quantity", ["0", "-1", "11", "99999999999999999999", "abc", "1.5", "", " ", "٣", "1e2"])
def test_bad_quantity_is_400_and_writes_nothing(logged_in, app, quantity):
    tt = on_sale_ticket_type(app)
    before = counts(app)
    response = buy(logged_in, tt.id, quantity)
    assert response.status_code == 400
    assert "Quantity must be a whole number from 1 to 10" in response.get_data(as_text=True)
    assert counts(app) == before and remaining_of(app, tt.id) == tt.remaining


def test_sold_out_is_409_and_writes_nothing(logged_in, app):
    tt = on_sale_ticket_type(app, remaining=2)
    before = counts(app)
    response = buy(logged_in, tt.id, 3)
    assert response.status_code == 409
    assert "only 2 ticket(s)" in response.get_data(as_text=True)
    assert counts(app) == before and remaining_of(app, tt.id) == 2
    assert buy(logged_in, tt.id, 2).status_code == 303
    response = buy(logged_in, tt.id, 1)
    assert response.status_code == 409 and "no “" in response.get_data(as_text=True)
    assert "Sold out." in logged_in.get(f"/ticket-types/{tt.id}").get_data(as_text=True)


def test_unknown_ticket_type_is_404(logged_in, app):
    token = csrf_token_in(logged_in.get("/").get_data(as_text=True))
    before = counts(app)
    response = logged_in.post("/ticket-types/9999/purchase", data={"quantity": "1", "csrf_token": token})
    assert response.status_code == 404 and "There is no ticket type 9999." in response.get_data(as_text=True)
    assert counts(app) == before


def test_past_event_sales_are_closed(logged_in, app):
    session = new_session(app)
    tt = session.scalars(select(TicketType).join(Event).where(Event.starts_at < utcnow())).first()
    session.close()
    token = csrf_token_in(logged_in.get("/").get_data(as_text=True))
    before = counts(app)
    response = logged_in.post(f"/ticket-types/{tt.id}/purchase", data={"quantity": "1", "csrf_token": token})
    assert response.status_code == 409 and "have closed" in response.get_data(as_text=True)
    assert counts(app) == before


def test_purchase_without_csrf_token_is_400_and_writes_nothing(logged_in, app):
    tt = on_sale_ticket_type(app)
    before = counts(app)
    response = buy(logged_in, tt.id, 1, with_csrf=False)
    assert response.status_code == 400
    assert "CSRF token is missing" in response.get_data(as_text=True)
    assert counts(app) == before


def test_other_users_orders_and_qr_codes_are_not_visible(app):
    alice, bob = app.test_client(), app.test_client()
    login_with_test_client(alice, "user1@example.com")
    login_with_test_client(bob, "user2@example.com")
    tt = on_sale_ticket_type(app)
    location = buy(alice, tt.id, 1).headers["Location"]
    code = re.search(r"<code>([0-9A-F]{16})</code>", alice.get(location).get_data(as_text=True)).group(1)
    assert bob.get(location).status_code == 404
    assert bob.get(f"/tickets/{code}/qr.svg").status_code == 404
    assert code not in bob.get("/my-tickets").get_data(as_text=True)


def test_unsafe_purchase_path_needs_testing_mode(tmp_path):
    from app_under_test import create_app

    with pytest.raises(RuntimeError, match="only allowed together with TESTING"):
        create_app({"INSTANCE_PATH": str(tmp_path), "UNSAFE_PURCHASE_FOR_TESTS": True})


def test_seed_command_is_idempotent(app):
    from app_under_test.seed import create_and_seed

    assert "nothing loaded" in create_and_seed(app)
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0 and "nothing loaded" in result.output


def test_version_endpoint_is_the_trivial_measured_page(client, app):
    assert client.get("/api/version").get_json() == {"version": app.config["VERSION"]}
    registry = app.extensions["tickets_metrics"].registry
    assert registry.get_sample_value("flask_http_request_duration_seconds_count",
                                     {"method": "GET", "url_rule": "/api/version", "status": "200"}) == 1


def test_without_the_exporter_the_app_serves_no_metrics(tmp_path):
    app = seeded_app(tmp_path / "instance", METRICS_ENABLED=False)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/metrics").status_code == 404
    assert "tickets_metrics" not in app.extensions
