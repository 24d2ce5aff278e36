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
* Times are UTC. SQLite keeps no zone, so they are stored as UTC and read back as UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, Row

from chatlab import migrations
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Role, Status, Usage, new_id

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60
MAX_TITLE_LENGTH = 200
EXPORT_FORMAT = "chatlab.conversation"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 50_000_000
MAX_IMPORT_MESSAGES = 10_000
MAX_IMPORT_CHARS = 20_000_000
MAX_TEXT_LENGTH = 1_000_000
MAX_ID_LENGTH = 100
BUSY_TIMEOUT_MS = 15_000

ROLES: tuple[str, ...] = get_args(Role)
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
                    title=_clean_title(title),
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
            .values(title=_clean_title(title))
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
        return _markdown(summary.title, path)

    def import_json(self, owner: str, data: object) -> str:
        """Add a conversation from an export (parsed, or its text/bytes); returns the new id.

        The whole document is checked before anything is written; on any problem
        ``InvalidImport`` says what is wrong and the database is unchanged.
        """
        document = _parse_document(data)
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
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(_messages).values(row)
        pg = pg.on_conflict_do_update(
            index_elements=[_messages.c.id],
            set_={name: pg.excluded[name] for name in _MUTABLE},
            where=_messages.c.conversation_id == pg.excluded.conversation_id,
        )
        return conn.execute(pg.execution_options(preserve_rowcount=True)).rowcount
    lite = sqlite.insert(_messages).values(row)
    lite = lite.on_conflict_do_update(
        index_elements=[_messages.c.id],
        set_={name: lite.excluded[name] for name in _MUTABLE},
        where=_messages.c.conversation_id == lite.excluded.conversation_id,
    )
    return conn.execute(lite.execution_options(preserve_rowcount=True)).rowcount


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
        settings=None if row.settings is None else _settings(row.settings),
        stats=None if row.stats is None else _stats(row.stats),
        notices=tuple(row.notices),
    )


def _settings(data: Mapping[str, Any]) -> ChatSettings:
    return ChatSettings(
        model=str(data["model"]),
        temperature=float(data["temperature"]),
        max_tokens=int(data["max_tokens"]),
        system_prompt=str(data["system_prompt"]),
    )


def _stats(data: Mapping[str, Any]) -> ReplyStats:
    usage = data["usage"]
    return ReplyStats(
        model=str(data["model"]),
        usage=Usage(
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            estimated=bool(usage.get("estimated", False)),
        ),
        finish_reason=data.get("finish_reason"),
        time_to_first_token=_optional_float(data.get("time_to_first_token")),
        total_time=float(data["total_time"]),
        cost_usd=_optional_float(data.get("cost_usd")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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


# -- titles and Markdown -----------------------------------------------------------------


def title_from(text: str) -> str:
    """A conversation title from its first question: one line, cut at a word boundary."""
    words = " ".join(text.split())
    if len(words) <= TITLE_LENGTH:
        return words
    head = words[: TITLE_LENGTH + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head[:TITLE_LENGTH]
    return cut.rstrip(" ,.;:-") + "…"


def _clean_title(title: str) -> str:
    return " ".join(title.split())[:MAX_TITLE_LENGTH] or DEFAULT_TITLE


_STATUS_NOTES = {
    Status.STREAMING: "unfinished",
    Status.STOPPED: "stopped before the end",
    Status.LENGTH: "cut off at the token limit",
    Status.CONTENT_FILTER: "stopped by the content filter",
    Status.FAILED: "interrupted by an error",
}


def _markdown(title: str, path: Sequence[ChatMessage]) -> str:
    lines = [f"# {title}", "", f"*Exported from Chat Lab, {_now():%Y-%m-%d %H:%M} UTC*"]
    for message in path:
        heading = message.role.capitalize()
        if message.stats is not None:
            heading += f" · {message.stats.model}"
        lines += ["", f"## {heading}", "", message.content or "*(empty)*"]
        note = _STATUS_NOTES.get(message.status)
        if note:
            lines += ["", f"*({note})*"]
        if message.notices:
            lines += ["", *(f"> {notice}" for notice in message.notices)]
    return "\n".join(lines) + "\n"


# -- import validation -------------------------------------------------------------------


@dataclass(frozen=True)
class _Document:
    title: str
    created_at: datetime | None
    leaf_id: str | None
    messages: list[tuple[ChatMessage, datetime]]


FieldKind = Literal["text", "number", "count", "flag"]
_KIND_CHECKS: dict[FieldKind, tuple[Callable[[object], bool], str]] = {
    "text": (lambda v: isinstance(v, str) and len(v) <= MAX_TEXT_LENGTH, "a string"),
    "number": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        "a number",
    ),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a count"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
}
# name -> (kind, may be null)
_SETTINGS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "temperature": ("number", False),
    "max_tokens": ("count", False),
    "system_prompt": ("text", False),
}
_STATS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "finish_reason": ("text", True),
    "time_to_first_token": ("number", True),
    "total_time": ("number", False),
    "cost_usd": ("number", True),
}
_USAGE_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "prompt_tokens": ("count", False),
    "completion_tokens": ("count", False),
    "estimated": ("flag", True),
}


def _invalid(problem: str) -> InvalidImport:
    return InvalidImport(
        f"This file cannot be imported: {problem}.",
        "Nothing was imported. Choose a JSON file exported by Chat Lab, or fix the file.",
    )


def _parse_document(data: object) -> _Document:
    doc = _object(_decoded(data), "the file")
    if doc.get("format") != EXPORT_FORMAT:
        raise _invalid(f'it is not a Chat Lab conversation ("format" is not "{EXPORT_FORMAT}")')
    version = doc.get("version")
    if not _KIND_CHECKS["count"][0](version):
        raise _invalid('"version" must be a whole number')
    if version != EXPORT_VERSION:
        raise _invalid(f"it has format version {version}; this Chat Lab reads {EXPORT_VERSION}")
    title = doc.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH:
        raise _invalid(f'"title" must be a string of at most {MAX_TITLE_LENGTH} characters')
    raw_messages = doc.get("messages")
    if not isinstance(raw_messages, list) or len(raw_messages) > MAX_IMPORT_MESSAGES:
        raise _invalid(f'"messages" must be a list of at most {MAX_IMPORT_MESSAGES} messages')
    messages = _parse_messages(raw_messages)
    leaf_id = doc.get("current_leaf_id") or (messages[-1][0].id if messages else None)
    if leaf_id is not None and leaf_id not in {m.id for m, _ in messages}:
        raise _invalid('"current_leaf_id" must be the id of one of the messages')
    created_at = _time(doc.get("created_at"), "created_at")
    return _Document(_clean_title(title), created_at, leaf_id, messages)


def _decoded(data: object) -> object:
    if not isinstance(data, str | bytes):
        return data
    if len(data) > MAX_IMPORT_BYTES:
        raise _invalid(f"it is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _invalid(f"it is not valid JSON ({exc})") from exc


def _parse_messages(raw_messages: list[object]) -> list[tuple[ChatMessage, datetime]]:
    parsed: list[tuple[ChatMessage, datetime]] = []
    seen: set[str] = set()
    total = 0
    for index, raw in enumerate(raw_messages):
        message, created_at = _parse_message(raw, f"messages[{index}]", seen)
        seen.add(message.id)
        total += len(message.content)
        if total > MAX_IMPORT_CHARS:
            raise _invalid(f"its messages hold more than {MAX_IMPORT_CHARS:,} characters")
        parsed.append((message, created_at))
    return parsed


def _parse_message(raw: object, where: str, seen: set[str]) -> tuple[ChatMessage, datetime]:
    item = _object(raw, where)
    message_id = item.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_LENGTH:
        raise _invalid(f"{where}.id must be a non-empty string of at most {MAX_ID_LENGTH}")
    if message_id in seen:
        raise _invalid(f"{where}.id repeats an earlier message's id")
    parent_id = item.get("parent_id")
    if parent_id is not None and parent_id not in seen:
        raise _invalid(f"{where}.parent_id must be null or the id of an earlier message")
    role = item.get("role")
    if role not in ROLES:
        raise _invalid(f"{where}.role must be one of {', '.join(ROLES)}")
    _check_fields(item, {"content": ("text", False)}, where)
    status = item.get("status", Status.COMPLETE.value)
    if status not in {s.value for s in Status}:
        raise _invalid(f"{where}.status must be one of {', '.join(s.value for s in Status)}")
    message = ChatMessage(
        role=role,
        content=item["content"],
        status=Status(status),
        id=message_id,
        parent_id=parent_id,
        settings=_parse_settings(item.get("settings"), f"{where}.settings"),
        stats=_parse_stats(item.get("stats"), f"{where}.stats"),
        notices=_parse_notices(item.get("notices", []), f"{where}.notices"),
    )
    return message, _time(item.get("created_at"), f"{where}.created_at") or _now()


def _parse_settings(raw: object, where: str) -> ChatSettings | None:
    if raw is None:
        return None
    return _settings(_check_fields(_object(raw, where), _SETTINGS_FIELDS, where))


def _parse_stats(raw: object, where: str) -> ReplyStats | None:
    if raw is None:
        return None
    stats = _check_fields(_object(raw, where), _STATS_FIELDS, where)
    _check_fields(_object(stats.get("usage"), f"{where}.usage"), _USAGE_FIELDS, f"{where}.usage")
    return _stats(stats)


def _parse_notices(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > 100:
        raise _invalid(f"{where} must be a list of at most 100 strings")
    if not all(isinstance(n, str) and len(n) <= 10_000 for n in raw):
        raise _invalid(f"{where} must hold only strings of at most 10,000 characters")
    return tuple(raw)


def _object(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise _invalid(f"{where} must be a JSON object")
    return raw


def _check_fields(
    item: Mapping[str, Any], fields: Mapping[str, tuple[FieldKind, bool]], where: str
) -> Mapping[str, Any]:
    for name, (kind, nullable) in fields.items():
        value = item.get(name)
        check, words = _KIND_CHECKS[kind]
        if not (value is None and nullable) and not check(value):
            raise _invalid(f"{where}.{name} must be {words}" + (" or null" if nullable else ""))
    return item


def _time(raw: object, where: str) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _invalid(f"{where} must be a date and time like 2025-01-31T12:00:00+00:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
