"""The engine: which databases Chat Lab accepts, and how SQLite connections are set up.

A SQLite connection waits up to ``BUSY_TIMEOUT_MS`` for another writer's lock: long
enough for any save of Chat Lab's own, and spent on the writer thread (``outbox``). The
URL's ``timeout`` (seconds, as for Python's ``sqlite3.connect``: ``sqlite:///x.db?timeout=60``)
sets it instead. The
start of a process runs on the page instead, so it waits less: a new connection's setup
(turning a file to WAL) and a migration (``busy_timeout``) that find the file locked
give up after ``SETUP_BUSY_TIMEOUT_MS`` saying so, and the app tries again on a later run.

PostgreSQL waits for a lock without limit by default: another session holding a table
(``LOCK TABLE``, a long migration) would hang a page's read and the writer for ever,
with no outage to show. Every connection is therefore started with ``lock_timeout``
and ``statement_timeout`` (``LOCK_TIMEOUT_MS``, ``STATEMENT_TIMEOUT_MS``), so such a
wait ends as a retryable error ("locked by another program") that the outbox reports
and retries. They are libpq startup options; ``options`` in ``DATABASE_URL`` come after
them, so they can override them (behind PgBouncer, list ``options`` in its
``ignore_startup_parameters``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from chatlab.storage.errors import StorageError, unwritable

BUSY_TIMEOUT_MS = 15_000
# Two processes setting up one fresh file take turns within this; a lock held longer is
# another program's, and the page should not wait for it.
SETUP_BUSY_TIMEOUT_MS = 2_000
WRITE = "chatlab_write"  # execution option: this transaction will write
FOREIGN_KEYS_OFF = "chatlab_foreign_keys_off"  # execution option: a migration runs
LOCK_TIMEOUT_MS = 5_000  # PostgreSQL: how long a statement may wait for a lock
STATEMENT_TIMEOUT_MS = 10_000  # PostgreSQL: how long a statement may take in all
CASEFOLD = "chatlab_casefold"  # SQL function name: Python's str.casefold, on SQLite


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it, or a ``StorageError`` saying why it cannot be used."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StorageError(
            "DATABASE_URL is not a database URL.",
            "Use sqlite:///path/to/chatlab.db or postgresql+psycopg://user@host/dbname.",
            retryable=False,
        ) from exc
    if parsed.drivername in ("postgres", "postgresql"):
        # "postgres://" is what many hosting providers hand out.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"Chat Lab cannot store conversations in {parsed.get_backend_name()}.",
            "Set DATABASE_URL to a SQLite file (sqlite:///…) or a PostgreSQL database "
            "(postgresql+psycopg://…).",
            retryable=False,
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Each pooled connection would get its own empty in-memory database.
        raise StorageError(
            "An in-memory SQLite database cannot be shared between sessions.",
            "Use a file, e.g. sqlite:///data/chatlab.db (a temporary folder works for tests).",
            retryable=False,
        )
    return parsed


def make_folder(url: URL) -> None:
    """Create the folder a SQLite file will live in."""
    folder = Path(url.database or "").parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable(str(folder)) from exc


def create_engine(url: URL) -> Engine:
    """An engine for the URL; SQLite connections get the pragmas and locking below."""
    try:
        if url.get_backend_name() == "postgresql":
            connect_args = {"connect_timeout": 10, "options": _postgres_options(url)}
            return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        busy_ms = _busy_ms(url)  # before the driver reads it (and fails its own way)
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StorageError(
            f"Chat Lab cannot use the database driver named in DATABASE_URL ({exc}).",
            "Install the requirements (make run), or fix DATABASE_URL.",
            retryable=False,
        ) from exc
    sa.event.listen(engine, "connect", functools.partial(_sqlite_connected, busy_ms))
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _busy_ms(url: URL) -> int:
    """How long a SQLite connection waits for a lock: the URL's ``timeout`` (seconds), if
    it names one."""
    given = url.query.get("timeout")
    if given is None:
        return BUSY_TIMEOUT_MS
    try:
        seconds = float(given if isinstance(given, str) else given[-1])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 10**6:
        raise StorageError(
            f"The timeout in DATABASE_URL ({given}) is not a number of seconds.",
            "Write it as seconds, e.g. sqlite:///data/chatlab.db?timeout=60, or leave it out.",
            retryable=False,
        )
    return round(seconds * 1000)


def _postgres_options(url: URL) -> str:
    """The timeouts every PostgreSQL connection starts with, then the URL's own options."""
    given = url.query.get("options", "")
    own = " ".join(given) if isinstance(given, tuple) else given
    timeouts = f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    return f"{timeouts} {own}".strip()


def _sqlite_connected(busy_ms: int, dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: it would BEGIN lazily and
    # DEFERRED, which cannot wait for the write lock (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    # A byte sequence that is not UTF-8 (written by another program) must not make a
    # whole conversation unreadable: it reads with U+FFFD in place of the bad bytes.
    dbapi_connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    # SQLite's own lower() and LIKE fold ASCII only; search folds all of Unicode.
    dbapi_connection.create_function(CASEFOLD, 1, _casefold, deterministic=True)
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            f"PRAGMA busy_timeout = {SETUP_BUSY_TIMEOUT_MS}",  # first: the next may wait
            "PRAGMA journal_mode = WAL",  # readers do not block the writer, nor it them
            f"PRAGMA busy_timeout = {busy_ms}",
            "PRAGMA synchronous = NORMAL",  # durable against a killed process in WAL mode
            "PRAGMA foreign_keys = ON",  # off by default; the cascades depend on it
            # Never map the database file itself (a build may default to it): a failing
            # read is then an error Chat Lab explains, not a SIGBUS that ends the process
            # (sqlite.org/mmap.html). WAL's -shm index is always mapped (README).
            "PRAGMA mmap_size = 0",
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


def _casefold(text: object) -> object:
    return text.casefold() if isinstance(text, str) else text


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get(FOREIGN_KEYS_OFF):
        # Only outside a transaction does this pragma take effect (sqlite.org/foreignkeys.html
        # §5): a migration that rebuilds a table (copy, drop, rename) would otherwise
        # cascade-delete every row that points at the dropped table.
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    if options.get(WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def busy_timeout(conn: Connection, milliseconds: int) -> Iterator[None]:
    """On SQLite, wait at most ``milliseconds`` for a lock in this block (then the
    connection's own wait again, before it goes back to the pool)."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name != "sqlite" or dbapi is None:
        yield
        return
    (usual,) = dbapi.execute("PRAGMA busy_timeout").fetchone()
    dbapi.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        if not conn.invalidated:  # an invalidated one is dropped, not pooled
            dbapi.execute(f"PRAGMA busy_timeout = {int(usual)}")


def upsert_into(conn: Connection, table: sa.Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for the connection's database.

    The dialect loads on first use: PostgreSQL's (with its drivers' modules) took about
    25 ms of a SQLite user's first page.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
