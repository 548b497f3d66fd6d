"""The database engine and the per-request session, as in Flask's tutorial app (``flaskr/db.py``).

SQLite is the default (a file in the instance folder); MySQL/MariaDB is used when
``DATABASE_URL`` says ``mysql+pymysql://...``. Tables are created by
:func:`create_schema` (the seed command), never on import.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from app_under_test.models import Base

# How long a SQLite writer waits for the write lock before "database is locked": parallel
# purchases queue on it, and a queue of a few hundred short transactions must not fail.
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str) -> Engine:
    """An engine tuned for ``url``'s database: WAL and a busy timeout on SQLite, pings on MySQL."""
    if url.startswith("sqlite"):
        create_private_file(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 3600}
    if url.startswith("mysql"):
        options["connect_args"] = {"charset": "utf8mb4"}
    return create_engine(url, **options)


def create_private_file(database: str | None) -> None:
    """Create the SQLite file ``database`` readable and writable by its owner only, if it is missing.

    SQLite would create it with the process umask (usually world-readable: password hashes
    and e-mail addresses for anyone on the host); its ``-wal`` and ``-shm`` files take the
    database file's mode. An existing file is left as it is, and in-memory databases are
    no file at all.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "db.sqlite")
    >>> create_private_file(path); oct(os.stat(path).st_mode & 0o777)
    '0o600'
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # it exists (kept as it is), or its folder does not: SQLite reports that when it connects


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets page reads go on while a purchase holds the write lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory and close each request's session."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["tickets_db"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine_of(app: Flask) -> Engine:
    """The engine of ``app``."""
    return app.extensions["tickets_db"].kw["bind"]


def get_session() -> Session:
    """The session of the current request (or app context), opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["tickets_db"]()
    return g.db_session


def new_session(app: Flask) -> Session:
    """A session outside any request (fault-rule refresh, seeding); the caller closes it."""
    return app.extensions["tickets_db"]()


def _close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def create_schema(app: Flask, drop_first: bool = False) -> None:
    """Create every table (dropping them first when asked)."""
    engine = engine_of(app)
    if drop_first:
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
