"""Create the schema and load demo data: ``python -m app_under_test.seed`` or ``flask --app app_under_test seed``.

The data are the same on every run (a seeded random generator): organizers, dozens of
events (a few already past), ticket types with limited stock, and demo users
``user1@example.com`` … ``user5@example.com``. Their password is ``TICKETS_DEMO_PASSWORD``
(the app's ``DEMO_PASSWORD``) when set, else a random one that the seed prints once: no
installation ever has a password anybody could look up.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from datetime import timedelta

import click
from flask import Flask

from app_under_test.models import Event, Organizer, TicketType, User, utcnow

ORGANIZERS = ("Sala Apolo", "Teatro Real", "Festival Norte", "Club de Jazz Azul", "Estadio Central", "Cine Lumière")
KINDS = ("Concert", "Play", "Festival day", "Jazz night", "Match", "Premiere", "Stand-up", "Opera")
TICKET_TYPES = (("General", 2500, (100, 400)), ("Reduced", 1500, (30, 120)), ("VIP", 9000, (5, 25)))


def demo_password(app: Flask) -> tuple[str, bool]:
    """The demo users' password, and whether it was generated (not configured)."""
    configured = app.config.get("DEMO_PASSWORD")
    if configured:
        return str(configured), False
    return secrets.token_urlsafe(12), True


def seed_demo_data(app: Flask, password: str, events: int = 36, users: int = 5, seed: int = 7) -> dict[str, int]:
    """Insert the demo data into an empty schema, users with ``password``; return how many rows of each kind."""
    from app_under_test.auth import hash_password
    from app_under_test.db import new_session

    rng = random.Random(seed)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    session = new_session(app)
    try:
        password_hash = hash_password(app.config, password)
        session.add_all(User(email=f"user{i}@example.com", name=f"Demo User {i}", password_hash=password_hash)
                        for i in range(1, users + 1))
        organizers = [Organizer(name=name, description=f"{name} presents live events all year.") for name in ORGANIZERS]
        session.add_all(organizers)
        ticket_types = 0
        for i in range(events):
            # A few events in the past: their pages exist but their sales are closed.
            days = rng.randint(-20, -1) if i % 9 == 0 else rng.randint(1, 120)
            organizer = organizers[i % len(organizers)]
            event = Event(organizer=organizer, title=f"{rng.choice(KINDS)} #{i + 1}", venue=organizer.name,
                          description="An evening to remember.", starts_at=today + timedelta(days=days, hours=rng.randint(17, 22)))
            session.add(event)
            for name, price, (low, high) in TICKET_TYPES[: rng.randint(2, 3)]:
                capacity = rng.randint(low, high)
                session.add(TicketType(event=event, name=name, price_cents=price, capacity=capacity, remaining=capacity))
                ticket_types += 1
        session.commit()
        return {"users": users, "organizers": len(organizers), "events": events, "ticket_types": ticket_types}
    finally:
        session.close()


def register_commands(app: Flask) -> None:
    """Add ``flask seed`` to the app's command line."""

    @app.cli.command("seed")
    @click.option("--reset", is_flag=True, help="drop every table first")
    @click.option("--events", default=36, show_default=True)
    def seed_command(reset: bool, events: int) -> None:
        """Create the schema and load demo data."""
        click.echo(create_and_seed(app, reset, events))


def create_and_seed(app: Flask, reset: bool = False, events: int = 36) -> str:
    """Create the schema and, when it holds no events yet, load the demo data; say what was done."""
    from sqlalchemy import func, select

    from app_under_test.db import create_schema, new_session

    create_schema(app, drop_first=reset)
    session = new_session(app)
    try:
        if session.scalar(select(func.count()).select_from(Event)):
            return "the database already holds events: nothing loaded (use --reset to start over)"
    finally:
        session.close()
    password, generated = demo_password(app)
    counts = seed_demo_data(app, password, events=events)
    said = (f"password {password} (generated: set TICKETS_DEMO_PASSWORD to choose it)" if generated
            else "password from TICKETS_DEMO_PASSWORD")
    return (f"loaded {', '.join(f'{n} {kind}' for kind, n in counts.items())}; demo users "
            f"user1@example.com … user{counts['users']}@example.com, {said}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app_under_test.seed", description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true", help="drop every table first")
    parser.add_argument("--events", type=int, default=36)
    args = parser.parse_args(argv)
    from app_under_test import create_app

    print(create_and_seed(create_app(), args.reset, args.events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
