"""Conversations and their messages in SQLite or PostgreSQL, behind one small ``Store``.

Design decisions:

* **A message records its parent.** A conversation is a tree, not a list: regenerating a
  reply or editing a question adds a sibling under the same parent instead of overwriting
  anything. The conversation row points at its current leaf, and what the UI shows (the
  "current path") is that leaf and its ancestors. Switching branches later needs no
  schema change, only a new current leaf.
* **Settings, stats and notices are JSON columns.** They are written and read whole with
  their message and never searched into; a column per knob would need a migration each
  time the reply telemetry grows a field. Their keys are the dataclass field names.
* **A numbered, append-only migration list** (``chatlab.migrations``) so a database made by
  any earlier version upgrades itself on start, on both backends, with no extra tool.
* **Every call names its owner.** Messages are only reached through a conversation owned
  by the caller; someone else's id behaves exactly like an id that does not exist.
  Imported conversations get fresh ids, so a file can never touch rows it names.
* **Short transactions; SQLite writers take the lock first.** One ``Store`` (one engine and
  pool) serves every session of the process. SQLite allows one writer at a time, and a
  transaction that reads and then writes cannot wait for the lock, it fails at once. So
  write transactions start with ``BEGIN IMMEDIATE`` and wait up to the busy timeout;
  WAL lets readers go on meanwhile. With ``synchronous=NORMAL`` in WAL mode a committed
  save survives the process being killed; only an OS crash can lose the last commits.
* What goes in and out as files (titles, the Markdown export, checking a JSON import)
  lives in ``chatlab.transfer``; this module only stores.
* Times are UTC. SQLite keeps no zone, so they are stored as UTC and read back as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, Row

from chatlab import migrations
from chatlab.messages import ChatMessage, Status, new_id
from chatlab.transfer import (
    DEFAULT_TITLE,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ROLES,
    InvalidDocument,
    clean_title,
    markdown_document,
    parse_document,
    settings_from,
    stats_from,
    title_from,
)

BUSY_TIMEOUT_MS = 15_000

_WRITE = "chatlab_write"  # execution option: this transaction will write


class StorageError(Exception):
    """A storage failure explained: ``message`` says what happened, ``action`` what to do."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(f"{message} {action}")
        self.message = message
        self.action = action


class ConversationNotFound(StorageError):
    """The conversation does not exist, or belongs to someone else."""


class InvalidImport(StorageError):
    """An import file was refused; nothing was written."""


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the conversation list."""

    id: str
    title: str
    updated_at: datetime
    message_count: int  # stored messages, every branch included


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The schema as the migrations leave it, for building queries (never for creating tables).
_schema = sa.MetaData()
_conversations = sa.Table(
    "conversations",
    _schema,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("current_leaf_id", sa.Text),
)
_messages = sa.Table(
    "messages",
    _schema,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("conversation_id", sa.Text, sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("parent_id", sa.Text, sa.ForeignKey("messages.id")),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("settings", sa.JSON(none_as_null=True)),
    sa.Column("stats", sa.JSON(none_as_null=True)),
    sa.Column("notices", sa.JSON, nullable=False),
)
# What a later save of the same message id may change; role and parent are fixed at birth.
_MUTABLE = ("content", "status", "settings", "stats", "notices", "updated_at")


class Store:
    """Conversations of many owners in one database; safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, create the data folder if needed, and bring the schema up to date."""
        parsed = _parse_url(url)
        if parsed.get_backend_name() == "sqlite" and not parsed.query.get("uri"):
            _make_folder(parsed)  # a "file:" URI names its path its own way; leave it be
        store = cls(_create_engine(parsed))
        try:
            store._migrate()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def location(self) -> str:
        """Where the data lives, fit to show (no password)."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- conversations -----------------------------------------------------------------

    def create_conversation(self, owner: str, title: str = DEFAULT_TITLE) -> str:
        """Start an empty conversation; returns its id."""
        conversation_id, now = new_id(), _now()
        with self._transaction(write=True) as conn:
            conn.execute(
                sa.insert(_conversations).values(
                    id=conversation_id,
                    owner=owner,
                    title=clean_title(title),
                    created_at=now,
                    updated_at=now,
                )
            )
        return conversation_id

    def get_conversation(self, owner: str, conversation_id: str) -> ConversationSummary | None:
        """One conversation's summary, or None if the owner has no such conversation."""
        query = _summaries(owner).where(_conversations.c.id == conversation_id)
        with self._transaction(write=False) as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _summary(row)

    def list_conversations(
        self, owner: str, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """The owner's conversations, most recently updated first, optionally searched."""
        c = _conversations.c
        query = _summaries(owner)
        if search and search.strip():
            pattern = "%" + _escape_like(search.strip()) + "%"
            in_messages = sa.exists().where(
                _messages.c.conversation_id == c.id,
                _messages.c.content.ilike(pattern, escape="\\"),
            )
            query = query.where(sa.or_(c.title.ilike(pattern, escape="\\"), in_messages))
        query = query.order_by(c.updated_at.desc(), c.id.desc())
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._transaction(write=False) as conn:
            return [_summary(row) for row in conn.execute(query)]

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        """Set the title (blank means the default); False if there is no such conversation."""
        # updated_at stays: renaming should not move a conversation to the top of the list.
        query = (
            sa.update(_conversations)
            .where(_conversations.c.id == conversation_id, _conversations.c.owner == owner)
            .values(title=clean_title(title))
        )
        with self._transaction(write=True) as conn:
            return conn.execute(query).rowcount > 0

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Delete a conversation and all its messages; False if there is no such conversation."""
        query = sa.delete(_conversations).where(
            _conversations.c.id == conversation_id, _conversations.c.owner == owner
        )
        with self._transaction(write=True) as conn:
            return conn.execute(query).rowcount > 0

    # -- messages ----------------------------------------------------------------------

    def load_messages(self, owner: str, conversation_id: str) -> list[ChatMessage] | None:
        """The current path, oldest first; None if the owner has no such conversation."""
        with self._transaction(write=False) as conn:
            head = _owned(conn, owner, conversation_id)
            if head is None:
                return None
            rows = conn.execute(_messages_of(conversation_id)).all()
        return [_message(row) for row in _path(rows, head.current_leaf_id)]

    def save_message(self, owner: str, conversation_id: str, message: ChatMessage) -> None:
        """Insert or update a message by id; a new one becomes the current leaf.

        Cheap enough to call every second or so while a reply streams: one short write
        transaction of three or four statements. The first user message of a conversation
        still called ``DEFAULT_TITLE`` gives it its title.
        """
        if message.role not in ROLES:
            raise ValueError(f"unknown role {message.role!r}")
        now = _now()
        with self._transaction(write=True) as conn:
            is_new = _check_placement(conn, conversation_id, message)
            touched = conn.execute(_touch(owner, conversation_id, message, now, is_new))
            if touched.rowcount == 0:
                raise _not_found()
            if _upsert(conn, _message_row(conversation_id, message, now)) == 0:
                raise _id_taken()

    def delete_message(self, owner: str, conversation_id: str, message_id: str) -> bool:
        """Delete a message and the replies below it; False if there is no such message."""
        c, m = _conversations.c, _messages.c
        with self._transaction(write=True) as conn:
            owned = _owned(conn, owner, conversation_id, lock=True)
            if owned is None:
                return False
            here = (m.id == message_id, m.conversation_id == conversation_id)
            target = conn.execute(sa.select(m.parent_id).where(*here)).one_or_none()
            if target is None:
                return False
            conn.execute(sa.delete(_messages).where(*here))
            leaf = owned.current_leaf_id
            if leaf is not None and not _exists(conn, m.id == leaf):
                leaf = target.parent_id or _newest_message(conn, conversation_id)
            conn.execute(
                sa.update(_conversations)
                .where(c.id == conversation_id)
                .values(current_leaf_id=leaf, updated_at=_now())
            )
        return True

    # -- export and import -------------------------------------------------------------

    def export_json(self, owner: str, conversation_id: str) -> dict[str, Any] | None:
        """The whole conversation, every branch, as JSON-ready data (re-importable)."""
        with self._transaction(write=False) as conn:
            head = conn.execute(
                sa.select(_conversations).where(
                    _conversations.c.id == conversation_id, _conversations.c.owner == owner
                )
            ).one_or_none()
            if head is None:
                return None
            rows = conn.execute(_messages_of(conversation_id)).all()
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "title": head.title,
            "created_at": head.created_at.isoformat(),
            "updated_at": head.updated_at.isoformat(),
            "current_leaf_id": head.current_leaf_id,
            "messages": [_message_json(row) for row in _parents_first(rows)],
        }

    def export_markdown(self, owner: str, conversation_id: str) -> str | None:
        """The current path as a Markdown document."""
        summary = self.get_conversation(owner, conversation_id)
        path = self.load_messages(owner, conversation_id)
        if summary is None or path is None:
            return None
        return markdown_document(summary.title, path)

    def import_json(self, owner: str, data: object) -> str:
        """Add a conversation from an export (parsed, or its text/bytes); returns the new id.

        The whole document is checked before anything is written; on any problem
        ``InvalidImport`` says what is wrong and the database is unchanged.
        """
        try:
            document = parse_document(data)
        except InvalidDocument as exc:
            raise InvalidImport(
                f"This file cannot be imported: {exc.problem}.",
                "Nothing was imported. Choose a JSON file exported by Chat Lab, or fix the file.",
            ) from exc
        conversation_id, now = new_id(), _now()
        fresh = {message.id: new_id() for message, _ in document.messages}
        rows = [
            _message_row(conversation_id, _renamed(message, fresh), created_at)
            for message, created_at in document.messages
        ]
        with self._transaction(write=True) as conn:
            conn.execute(
                sa.insert(_conversations).values(
                    id=conversation_id,
                    owner=owner,
                    title=document.title,
                    created_at=document.created_at or now,
                    updated_at=now,
                    current_leaf_id=fresh[document.leaf_id] if document.leaf_id else None,
                )
            )
            if rows:
                conn.execute(sa.insert(_messages), rows)
        return conversation_id

    # -- plumbing ----------------------------------------------------------------------

    def _migrate(self) -> None:
        try:
            with self._transaction(write=True) as conn:
                migrations.migrate(conn)
                if conn.dialect.name == "sqlite":
                    # A write on every start: a read-only file fails here, not when the
                    # first reply is saved. The migration count is a fair schema version.
                    conn.exec_driver_sql(f"PRAGMA user_version = {len(migrations.MIGRATIONS)}")
        except migrations.SchemaTooNew as exc:
            raise StorageError(
                f"The database at {self.location} was written by a newer version of Chat Lab "
                f"(it has had migrations {', '.join(exc.unknown)}).",
                "Update Chat Lab, or set DATABASE_URL to another database.",
            ) from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        """One short transaction; database errors come out as ``StorageError``."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{_WRITE: write})
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise _explain(exc, self._engine.url) from exc


# -- engine ------------------------------------------------------------------------------


def _parse_url(url: str) -> URL:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StorageError(
            "DATABASE_URL is not a database URL.",
            "Use sqlite:///path/to/chatlab.db or postgresql+psycopg://user@host/dbname.",
        ) from exc
    if parsed.drivername in ("postgres", "postgresql"):
        # "postgres://" is what many hosting providers hand out.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"Chat Lab cannot store conversations in {parsed.get_backend_name()}.",
            "Set DATABASE_URL to a SQLite file (sqlite:///…) or a PostgreSQL database "
            "(postgresql+psycopg://…).",
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Each pooled connection would get its own empty in-memory database.
        raise StorageError(
            "An in-memory SQLite database cannot be shared between sessions.",
            "Use a file, e.g. sqlite:///data/chatlab.db (a temporary folder works for tests).",
        )
    return parsed


def _make_folder(url: URL) -> None:
    folder = Path(url.database or "").parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(str(folder)) from exc


def _create_engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "postgresql":
            return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StorageError(
            f"Chat Lab cannot use the database driver named in DATABASE_URL ({exc}).",
            "Install the requirements (make run), or fix DATABASE_URL.",
        ) from exc
    sa.event.listen(engine, "connect", _sqlite_connected)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: it would BEGIN lazily and
    # DEFERRED, which cannot wait for the write lock (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",  # first: the pragmas below may wait
            "PRAGMA journal_mode = WAL",  # readers do not block the writer, nor it them
            "PRAGMA synchronous = NORMAL",  # durable against a killed process in WAL mode
            "PRAGMA foreign_keys = ON",  # off by default; the cascades depend on it
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


# -- errors ------------------------------------------------------------------------------


def _explain(exc: sa.exc.SQLAlchemyError, url: URL) -> StorageError:
    """Turn a database error into words and a next step."""
    cause = getattr(exc, "orig", None) or exc
    if url.get_backend_name() == "sqlite":
        return _explain_sqlite(cause, url.database or "")
    return _explain_postgres(cause, url)


def _explain_sqlite(cause: BaseException, path: str) -> StorageError:
    code = str(getattr(cause, "sqlite_errorname", ""))
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StorageError(
            f"The chat history file {path} is damaged or is not a Chat Lab database.",
            f"Move it aside (for example rename it to {Path(path).name}.broken) and restart "
            "Chat Lab to begin a fresh history, or set CHATLAB_DATA_DIR to another folder.",
        )
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR")):
        return _unwritable(path)
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(
            f"The chat history file {path} stayed locked by another program.",
            "Try again in a moment; if it keeps happening, close other programs using it.",
        )
    if code.startswith("SQLITE_FULL"):
        return StorageError(f"The disk holding {path} is full.", "Free some space, then try again.")
    return StorageError(
        f"The chat history file {path} could not be used: {_first_line(cause)}.",
        "Try again; if it keeps happening, move the file aside and restart Chat Lab.",
    )


def _explain_postgres(cause: BaseException, url: URL) -> StorageError:
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    state = str(getattr(cause, "sqlstate", None) or "")
    if state.startswith("28"):
        return StorageError(
            f"The PostgreSQL server at {where} refused the login.",
            "Check the user name and password in DATABASE_URL.",
        )
    if state == "3D000":
        return StorageError(
            f"The database {url.database} does not exist on {where}.",
            "Create it (createdb), or fix the database name in DATABASE_URL.",
        )
    if state.startswith("53"):
        return StorageError(
            f"The PostgreSQL server at {where} is out of resources ({_first_line(cause)}).",
            "Free disk space or connections on the server, then try again.",
        )
    if not state or state.startswith("08"):
        return StorageError(
            f"Chat Lab cannot reach the PostgreSQL server at {where}.",
            "Check that the server is running and that DATABASE_URL names the right host and port.",
        )
    return StorageError(
        f"The PostgreSQL server at {where} reported an error: {_first_line(cause)}.",
        "Try again; if it keeps happening, check the server's log.",
    )


def _unwritable(path: str) -> StorageError:
    return StorageError(
        f"Chat Lab cannot create or write its chat history at {path}.",
        "Make sure the folder exists and the user running Chat Lab may write to it, or set "
        "CHATLAB_DATA_DIR (or DATABASE_URL) to a writable place.",
    )


def _not_found() -> ConversationNotFound:
    return ConversationNotFound(
        "This conversation no longer exists (it may have been deleted in another tab).",
        "Start a new chat; the current reply was not saved.",
    )


def _id_taken() -> StorageError:
    return StorageError(
        "The message could not be saved: its id belongs to another conversation.",
        "Start a new chat; this looks like a bug worth reporting.",
    )


def _first_line(cause: BaseException) -> str:
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


# -- queries -----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _summaries(owner: str) -> sa.Select[Any]:
    c = _conversations.c
    count = (
        sa.select(sa.func.count())
        .where(_messages.c.conversation_id == c.id)
        .scalar_subquery()
        .label("message_count")
    )
    return sa.select(c.id, c.title, c.updated_at, count).where(c.owner == owner)


def _summary(row: Row[Any]) -> ConversationSummary:
    return ConversationSummary(
        id=row.id, title=row.title, updated_at=row.updated_at, message_count=row.message_count
    )


def _messages_of(conversation_id: str) -> sa.Select[Any]:
    m = _messages.c
    return sa.select(_messages).where(m.conversation_id == conversation_id).order_by(m.created_at)


def _owned(
    conn: Connection, owner: str, conversation_id: str, *, lock: bool = False
) -> Row[Any] | None:
    """The conversation's row if the owner has it (locked for the transaction if asked)."""
    c = _conversations.c
    query = sa.select(c.current_leaf_id).where(c.id == conversation_id, c.owner == owner)
    return conn.execute(query.with_for_update() if lock else query).one_or_none()


def _exists(conn: Connection, *where: sa.ColumnElement[bool]) -> bool:
    return conn.execute(sa.select(sa.exists().where(*where))).scalar_one()


def _newest_message(conn: Connection, conversation_id: str) -> str | None:
    m = _messages.c
    query = (
        sa.select(m.id)
        .where(m.conversation_id == conversation_id)
        .order_by(m.created_at.desc())
        .limit(1)
    )
    return conn.execute(query).scalar_one_or_none()


def _check_placement(conn: Connection, conversation_id: str, message: ChatMessage) -> bool:
    """Whether the message is new; refuse an id or a parent from another conversation."""
    m = _messages.c
    home = conn.execute(sa.select(m.conversation_id).where(m.id == message.id)).scalar()
    if home is not None and home != conversation_id:
        raise _id_taken()
    if home is None and message.parent_id is not None:
        here = (m.id == message.parent_id, m.conversation_id == conversation_id)
        if not _exists(conn, *here):
            raise StorageError(
                "The message could not be saved: the message it answers is not in this "
                "conversation any more.",
                "Reload the conversation and send it again.",
            )
    return home is None


def _touch(
    owner: str, conversation_id: str, message: ChatMessage, now: datetime, is_new: bool
) -> sa.Update:
    """Bump updated_at; a new message becomes the leaf; a first question names the chat."""
    c = _conversations.c
    values: dict[str, Any] = {"updated_at": now}
    if is_new:
        values["current_leaf_id"] = message.id
    title = title_from(message.content) if message.role == "user" else ""
    if title:
        values["title"] = sa.case((c.title == DEFAULT_TITLE, title), else_=c.title)
    where = (c.id == conversation_id, c.owner == owner)
    return sa.update(_conversations).where(*where).values(values)


def _upsert(conn: Connection, row: dict[str, Any]) -> int:
    """Insert, or update the mutable columns if the id exists in the same conversation.

    Returns the rows written: 0 means the id belongs to another conversation. (SQLAlchemy
    must be told to keep an INSERT's rowcount; the driver drops it with the cursor.)
    """
    # Both dialects spell "INSERT ... ON CONFLICT DO UPDATE" alike; only the import differs.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    new = insert(_messages).values(row)
    upsert = new.on_conflict_do_update(
        index_elements=[_messages.c.id],
        set_={name: new.excluded[name] for name in _MUTABLE},
        where=_messages.c.conversation_id == new.excluded.conversation_id,
    )
    return conn.execute(upsert.execution_options(preserve_rowcount=True)).rowcount


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _path(rows: Sequence[Row[Any]], leaf_id: str | None) -> list[Row[Any]]:
    """The leaf and its ancestors, root first."""
    by_id = {row.id: row for row in rows}
    path: list[Row[Any]] = []
    node = by_id.get(leaf_id) if leaf_id else None
    while node is not None and len(path) <= len(rows):  # the bound guards against a cycle
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def _parents_first(rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """Every message after its parent (depth first, older siblings first)."""
    children: dict[str | None, list[Row[Any]]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[Row[Any]] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        row = stack.pop()
        ordered.append(row)
        stack.extend(reversed(children.get(row.id, [])))
    return ordered


# -- messages <-> rows -------------------------------------------------------------------


def _message_row(conversation_id: str, message: ChatMessage, now: datetime) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": conversation_id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "status": Status(message.status).value,
        "created_at": now,
        "updated_at": now,
        "settings": None if message.settings is None else asdict(message.settings),
        "stats": None if message.stats is None else asdict(message.stats),
        "notices": list(message.notices),
    }


def _message(row: Row[Any]) -> ChatMessage:
    return ChatMessage(
        role=row.role,
        content=row.content,
        status=Status(row.status),
        id=row.id,
        parent_id=row.parent_id,
        settings=None if row.settings is None else settings_from(row.settings),
        stats=None if row.stats is None else stats_from(row.stats),
        notices=tuple(row.notices),
    )


def _message_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "parent_id": row.parent_id,
        "role": row.role,
        "content": row.content,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "settings": row.settings,
        "stats": row.stats,
        "notices": list(row.notices),
    }


def _renamed(message: ChatMessage, fresh: Mapping[str, str]) -> ChatMessage:
    parent = None if message.parent_id is None else fresh[message.parent_id]
    return ChatMessage(
        role=message.role,
        content=message.content,
        status=message.status,
        id=fresh[message.id],
        parent_id=parent,
        settings=message.settings,
        stats=message.stats,
        notices=message.notices,
    )
