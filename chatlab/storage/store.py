"""The ``Store``: every read and write of conversations, each in one short transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from chatlab.attachments import Attachment
from chatlab.grid import Run
from chatlab.logprobs import TokenLogprob, logprobs_from
from chatlab.messages import ChatMessage, new_id
from chatlab.presets import Preset, parse_presets
from chatlab.storage import (
    attached,
    errors,
    migrations,
    presets,
    rows,
    runs,
    side_by_sides,
    testsets,
    tools,
    tree,
    votes,
)
from chatlab.storage import engine as engines
from chatlab.storage.engine import upsert_into
from chatlab.storage.errors import InvalidImport, StorageError
from chatlab.storage.runs import RunSummary
from chatlab.storage.schema import MUTABLE, conversations, messages
from chatlab.storage.side_by_sides import SideBySideSummary
from chatlab.storage.testsets import TestSetSummary
from chatlab.storage.votes import StoredVote
from chatlab.testset import TestSet
from chatlab.tools import Tool
from chatlab.transfer import (
    DEFAULT_TITLE,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ROLES,
    InvalidDocument,
    clean_title,
    parse_document,
    title_from,
)
from chatlab.usage import StoredUsage, UsageRecords, records_from

# Search looks at this much of what was typed: enough for any phrase worth finding.
MAX_SEARCH_LENGTH = 200
# A PostgreSQL collation whose lower() knows all of Unicode (the database's own may be C).
_ICU = "und-x-icu"


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the conversation list."""

    id: str
    title: str


@dataclass(frozen=True)
class StoredTree:
    """A whole conversation: every message of every branch, and where the user is in it."""

    messages: list[ChatMessage]  # parents before children, siblings oldest first
    leaf_id: str | None
    version: int
    title: str


@dataclass(frozen=True)
class StoredPath:
    """A conversation's title and the messages shown: its current leaf and ancestors."""

    title: str
    messages: list[ChatMessage]  # oldest first


class Store:
    """Conversations of many owners in one database; safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._fold_collation: str | None = None

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, create the data folder if needed, and bring the schema up to date."""
        parsed = engines.parse_url(url)
        if parsed.get_backend_name() == "sqlite" and not parsed.query.get("uri"):
            engines.make_folder(parsed)  # a "file:" URI names its path its own way
        store = cls(engines.create_engine(parsed))
        try:
            store._migrate()
            store._fold_collation = store._find_fold_collation()
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
                sa.insert(conversations).values(
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
        query = _summaries(owner).where(conversations.c.id == conversation_id)
        with self._transaction(write=False) as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _summary(row)

    def list_conversations(
        self, owner: str, *, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ConversationSummary]:
        """The owner's conversations, most recently updated first, optionally searched.

        Search ignores case in every script and looks at the first ``MAX_SEARCH_LENGTH``
        characters of what was typed.
        """
        c = conversations.c
        query = _summaries(owner)
        wanted = (search or "").strip()[:MAX_SEARCH_LENGTH].strip()
        if wanted:
            # Fold the words as the database folds the column: PostgreSQL's lower() keeps
            # "ß" where str.casefold() makes "ss".
            sqlite_db = self._engine.dialect.name == "sqlite"
            folded = wanted.casefold() if sqlite_db else wanted.lower()
            pattern = "%" + _escape_like(folded) + "%"
            in_messages = sa.exists().where(
                messages.c.conversation_id == c.id,
                self._folded(messages.c.content).like(pattern, escape="\\"),
            )
            query = query.where(
                sa.or_(self._folded(c.title).like(pattern, escape="\\"), in_messages)
            )
        query = query.order_by(c.updated_at.desc(), c.id.desc())
        query = query.limit(max(0, limit)).offset(max(0, offset))
        with self._transaction(write=False) as conn:
            return [_summary(row) for row in conn.execute(query)]

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        """Set the title (blank means the default); False if there is no such conversation."""
        # updated_at stays: renaming should not move a conversation to the top of the list.
        query = (
            sa.update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
            .values(title=clean_title(title))
        )
        with self._transaction(write=True) as conn:
            return conn.execute(query).rowcount > 0

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Delete a conversation and all its messages; False if there is no such conversation."""
        query = sa.delete(conversations).where(
            conversations.c.id == conversation_id, conversations.c.owner == owner
        )
        with self._transaction(write=True) as conn:
            deleted = conn.execute(query).rowcount > 0
            attached.prune(conn, owner)
            return deleted

    def conversation_version(self, owner: str, conversation_id: str) -> int | None:
        """How many times its messages or current leaf changed; None if there is none."""
        c = conversations.c
        query = sa.select(c.version).where(c.id == conversation_id, c.owner == owner)
        with self._transaction(write=False) as conn:
            version: int | None = conn.execute(query).scalar_one_or_none()
        return version

    # -- messages ----------------------------------------------------------------------

    def load_messages(self, owner: str, conversation_id: str) -> list[ChatMessage] | None:
        """The current path, oldest first; None if the owner has no such conversation."""
        loaded = self._load(owner, conversation_id)
        if loaded is None:
            return None
        head, found, files = loaded
        path = tree.path_to(found, head.current_leaf_id)
        return [rows.message_from(row, files) for row in path]

    def load_tree(self, owner: str, conversation_id: str) -> StoredTree | None:
        """Every message of every branch, the current leaf and the version; None if none."""
        loaded = self._load(owner, conversation_id)
        if loaded is None:
            return None
        head, found, files = loaded
        return StoredTree(
            messages=[rows.message_from(row, files) for row in tree.parents_first(found)],
            leaf_id=head.current_leaf_id,
            version=head.version,
            title=head.title,
        )

    def set_current_leaf(self, owner: str, conversation_id: str, leaf_id: str) -> int:
        """Show another branch: ``leaf_id`` becomes the current leaf; returns the new version.

        Raises ``ValueError`` if ``leaf_id`` is not a message of that conversation.
        """
        c, m = conversations.c, messages.c
        with self._transaction(write=True) as conn:
            if _owned(conn, owner, conversation_id, lock=True) is None:
                raise errors.not_found()
            if not _exists(conn, m.id == leaf_id, m.conversation_id == conversation_id):
                raise ValueError(f"{leaf_id!r} is not a message of this conversation")
            query = (
                sa.update(conversations)
                .where(c.id == conversation_id)
                .values(current_leaf_id=leaf_id, version=c.version + 1)
                .returning(c.version)
            )
            version: int = conn.execute(query).scalar_one()
        return version

    def save_message(
        self,
        owner: str,
        conversation_id: str,
        message: ChatMessage,
        *,
        create: bool = False,
    ) -> int:
        """Insert or update a message by id; a new one becomes the current leaf.

        Returns the conversation's new version. Cheap enough to call every second
        while a reply streams. The first user message of a conversation still
        called ``DEFAULT_TITLE`` gives it its title. With ``create`` a conversation
        of that id that does not exist yet is made in the same transaction (so a
        retried first save is one conversation, and a failed one leaves none).
        """
        if message.role not in ROLES:
            raise ValueError(f"unknown role {message.role!r}")
        now = _now()
        with self._transaction(write=True) as conn:
            if create:
                _create_if_missing(conn, owner, conversation_id, now)
            head = _owned(conn, owner, conversation_id, lock=True)
            if head is None:
                raise errors.not_found()
            is_new = _check_placement(conn, conversation_id, message)
            conn.execute(_touch(conversation_id, message, now, is_new))
            if _upsert(conn, rows.message_row(conversation_id, message, now)) == 0:
                raise errors.id_taken()
            if is_new:
                attached.link(conn, owner, message, now)
        return int(head.version) + 1  # _touch bumped it, under the row lock

    def delete_message(self, owner: str, conversation_id: str, message_id: str) -> bool:
        """Delete a message and the replies below it; False if there is no such message."""
        c, m = conversations.c, messages.c
        with self._transaction(write=True) as conn:
            owned = _owned(conn, owner, conversation_id, lock=True)
            if owned is None:
                return False
            here = (m.id == message_id, m.conversation_id == conversation_id)
            target = conn.execute(sa.select(m.parent_id).where(*here)).one_or_none()
            if target is None:
                return False
            conn.execute(sa.delete(messages).where(*here))
            attached.prune(conn, owner)
            leaf = owned.current_leaf_id
            if leaf is not None and not _exists(conn, m.id == leaf):
                leaf = target.parent_id or _newest_message(conn, conversation_id)
            conn.execute(
                sa.update(conversations)
                .where(c.id == conversation_id)
                .values(current_leaf_id=leaf, updated_at=_now(), version=c.version + 1)
            )
        return True

    # -- export and import -------------------------------------------------------------

    def export_json(self, owner: str, conversation_id: str) -> dict[str, Any] | None:
        """The whole conversation, every branch, as JSON-ready data (re-importable)."""
        loaded = self._load(owner, conversation_id, with_requests=True)
        if loaded is None:
            return None
        head, found, files = loaded
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "title": head.title,
            "created_at": head.created_at.isoformat(),
            "updated_at": head.updated_at.isoformat(),
            "current_leaf_id": head.current_leaf_id,
            "messages": rows.messages_json(tree.parents_first(found), files),
        }

    def load_path(self, owner: str, conversation_id: str) -> StoredPath | None:
        """The title and the current path, read together (what an export of what is shown
        needs; ``chatlab.chat.export`` renders it); None if the owner has no such one."""
        loaded = self._load(owner, conversation_id)
        if loaded is None:
            return None
        head, found, files = loaded
        path = tree.path_to(found, head.current_leaf_id)
        return StoredPath(head.title, [rows.message_from(row, files) for row in path])

    def import_json(self, owner: str, data: object) -> str:
        """Add a conversation from an export (parsed, or its text/bytes); returns the new id.

        The whole document is checked before anything is written; on any problem
        ``InvalidImport`` says what is wrong and the database is unchanged.
        """
        try:
            document = parse_document(data)
        except InvalidDocument as exc:
            raise InvalidImport(exc.message, exc.action, retryable=False) from exc
        conversation_id, now = new_id(), _now()
        fresh = {message.id: new_id() for message, _ in document.messages}
        renamed = [rows.renamed(message, fresh) for message, _ in document.messages]
        written = [
            rows.message_row(conversation_id, message, created_at)
            for message, (_, created_at) in zip(renamed, document.messages, strict=True)
        ]
        with self._transaction(write=True) as conn:
            conn.execute(
                sa.insert(conversations).values(
                    id=conversation_id,
                    owner=owner,
                    title=document.title,
                    created_at=document.created_at or now,
                    updated_at=now,
                    current_leaf_id=fresh[document.leaf_id] if document.leaf_id else None,
                )
            )
            if written:
                conn.execute(sa.insert(messages), written)
            attached.link_all(conn, owner, renamed, now)
        return conversation_id

    # -- usage -------------------------------------------------------------------------

    def usage_records(
        self, owner: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> UsageRecords:
        """Every reply of the owner's with telemetry, started in [since, until), oldest first:
        the chat's, every request of the owner's compare runs started then, and every
        answer of the side-by-side sessions started then.

        One query of four columns, stats as text: a row that fails the field rules is
        skipped and counted (``UsageRecords.skipped``), never an error.
        """
        c, m = conversations.c, messages.c
        query = (
            sa.select(m.conversation_id, c.title, m.created_at, sa.cast(m.stats, sa.Text))
            .join(conversations, c.id == m.conversation_id)
            .where(c.owner == owner, m.role == "assistant", m.stats.is_not(None))
            .order_by(m.created_at, m.id)
        )
        if since is not None:
            query = query.where(m.created_at >= since)
        if until is not None:
            query = query.where(m.created_at < until)
        with self._transaction(write=False) as conn:
            found = [StoredUsage(*row) for row in conn.execute(query)]
            found += runs.usage_rows(conn, owner, since, until)
            found += side_by_sides.usage_rows(conn, owner, since, until)
        found.sort(key=lambda row: row.created_at)
        return records_from(found)

    # -- compare runs (chatlab.storage.runs) -------------------------------------------

    def save_run(self, owner: str, run: Run) -> None:
        """Insert or update a compare run; cheap enough to call as each cell ends."""
        with self._transaction(write=True) as conn:
            runs.save(conn, owner, run)

    def list_runs(self, owner: str, *, limit: int = 50) -> list[RunSummary]:
        """The owner's compare runs, newest first."""
        with self._transaction(write=False) as conn:
            return runs.summaries(conn, owner, limit=limit)

    def load_run(self, owner: str, run_id: str) -> Run | None:
        """One compare run, or None if the owner has none by that id."""
        with self._transaction(write=False) as conn:
            return runs.load(conn, owner, run_id)

    def delete_run(self, owner: str, run_id: str) -> bool:
        """Delete a compare run; False if the owner has none by that id."""
        with self._transaction(write=True) as conn:
            return runs.delete(conn, owner, run_id)

    # -- presets (chatlab.storage.presets) ---------------------------------------------

    def save_preset(self, owner: str, preset: Preset) -> Preset:
        """Store a preset under its name (replacing one called that); returns it with its id."""
        with self._transaction(write=True) as conn:
            return presets.save(conn, owner, preset)

    def list_presets(self, owner: str) -> list[Preset]:
        """The owner's own presets, by name."""
        with self._transaction(write=False) as conn:
            return presets.listing(conn, owner)

    def rename_preset(self, owner: str, preset_id: str, name: str) -> bool:
        """Rename a preset; False if the owner has none by that id (``PresetError`` if taken)."""
        with self._transaction(write=True) as conn:
            return presets.rename(conn, owner, preset_id, name)

    def delete_preset(self, owner: str, preset_id: str) -> bool:
        """Delete a preset; False if the owner has none by that id."""
        with self._transaction(write=True) as conn:
            return presets.delete(conn, owner, preset_id)

    def import_presets(self, owner: str, data: object) -> list[Preset]:
        """Add the presets of a presets file (parsed, or its text/bytes); returns them stored.

        The whole file is checked first; on any problem ``InvalidImport`` says what is
        wrong and nothing is written. A name the owner has already gets the file's settings.
        """
        try:
            parsed = parse_presets(data)
        except InvalidDocument as exc:
            raise InvalidImport(exc.message, exc.action, retryable=False) from exc
        with self._transaction(write=True) as conn:
            return [presets.save(conn, owner, preset) for preset in parsed]

    # -- test sets (chatlab.storage.testsets) ------------------------------------------

    def save_test_set(self, owner: str, name: str, tests: TestSet) -> None:
        """Store a test set under a name, replacing the rows of one called that.

        ``InvalidTestSet`` if the name is blank or too long, or the set has no rows or is
        over the limits an upload has; nothing is written then.
        """
        with self._transaction(write=True) as conn:
            testsets.save(conn, owner, name, tests)

    def list_test_sets(self, owner: str) -> list[TestSetSummary]:
        """The owner's test sets (name, rows, columns), the most recently saved first."""
        with self._transaction(write=False) as conn:
            return testsets.summaries(conn, owner)

    def load_test_set(self, owner: str, name: str) -> TestSet | None:
        """The owner's test set called ``name``, or None if there is none.

        Checked as an upload is; ``InvalidTestSet`` says what is wrong with one that fails.
        """
        with self._transaction(write=False) as conn:
            return testsets.load(conn, owner, name)

    def delete_test_set(self, owner: str, name: str) -> bool:
        """Delete the owner's test set called ``name``; False if there is none."""
        with self._transaction(write=True) as conn:
            return testsets.delete(conn, owner, name)

    # -- votes (chatlab.storage.votes) --------------------------------------------------

    def save_vote(
        self, owner: str, vote_id: str, cast_at: datetime, document: Mapping[str, Any]
    ) -> None:
        """Store a vote's JSON document (``chatlab.arena.vote_json``) under its id,
        replacing the owner's vote with that id (a changed verdict).

        ``InvalidVote`` if the id is blank or too long, the time has no zone, or the
        document is not plain JSON or is too large; nothing is written then.
        """
        with self._transaction(write=True) as conn:
            votes.save(conn, owner, vote_id, cast_at, document)

    def list_votes(
        self, owner: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[StoredVote]:
        """The owner's votes cast from ``since`` (included) until ``until`` (excluded),
        oldest first, as documents (``chatlab.arena.vote_from`` reads each)."""
        with self._transaction(write=False) as conn:
            return votes.listed(conn, owner, since, until)

    def delete_vote(self, owner: str, vote_id: str) -> bool:
        """Withdraw the owner's vote ``vote_id``; False if there is none."""
        with self._transaction(write=True) as conn:
            return votes.delete(conn, owner, vote_id)

    # -- side-by-side sessions (chatlab.storage.side_by_sides) --------------------------

    def save_side_by_side(
        self,
        owner: str,
        session_id: str,
        title: str,
        created_at: datetime,
        updated_at: datetime,
        document: Mapping[str, Any],
    ) -> None:
        """Store a session's JSON document (``chatlab.arena.session_json``) under its id,
        replacing the owner's session with that id (it is saved again as it grows).

        ``InvalidSideBySide`` if the id is blank or too long, a time has no zone, or the
        document is not plain JSON or is too large; nothing is written then.
        """
        with self._transaction(write=True) as conn:
            side_by_sides.save(conn, owner, session_id, title, created_at, updated_at, document)

    def list_side_by_sides(self, owner: str, *, limit: int = 50) -> list[SideBySideSummary]:
        """The owner's sessions (id, title, last change), the most recently changed first."""
        with self._transaction(write=False) as conn:
            return side_by_sides.summaries(conn, owner, limit=limit)

    def load_side_by_side(self, owner: str, session_id: str) -> dict[str, Any] | None:
        """The owner's session ``session_id`` as its document (``chatlab.arena.session_from``
        reads it); None if there is none, ``InvalidSideBySide`` if what is stored is not a
        JSON object."""
        with self._transaction(write=False) as conn:
            return side_by_sides.load(conn, owner, session_id)

    def delete_side_by_side(self, owner: str, session_id: str) -> bool:
        """Delete the owner's session ``session_id``; False if there is none."""
        with self._transaction(write=True) as conn:
            return side_by_sides.delete(conn, owner, session_id)

    # -- tools (chatlab.storage.tools) --------------------------------------------------

    def save_tool(self, owner: str, tool: Tool) -> None:
        """Keep the owner's tool definition, replacing one of the same name (``ToolError``
        when they already keep ``chatlab.tools.MAX_TOOLS`` others)."""
        with self._transaction(write=True) as conn:
            tools.save(conn, owner, tool)

    def list_tools(self, owner: str) -> list[Tool]:
        """The owner's tool definitions, oldest first (a damaged one is left out)."""
        with self._transaction(write=False) as conn:
            return tools.listed(conn, owner)

    def delete_tool(self, owner: str, name: str) -> bool:
        """Delete the owner's tool ``name``; False if there is none."""
        with self._transaction(write=True) as conn:
            return tools.delete(conn, owner, name)

    # -- plumbing ----------------------------------------------------------------------

    def _load(
        self, owner: str, conversation_id: str, *, with_requests: bool = False
    ) -> tuple[Row[Any], list[Row[Any]], dict[str, tuple[Attachment, ...]]] | None:
        """The conversation's row, its message rows (oldest first) and their files, or None."""
        c = conversations.c
        head_query = sa.select(conversations).where(c.id == conversation_id, c.owner == owner)
        query = _messages_of(conversation_id, with_request=with_requests)
        with self._transaction(write=False) as conn:
            head = conn.execute(head_query).one_or_none()
            if head is None:
                return None
            found = conn.execute(query).all()
            files = attached.of_conversation(conn, conversation_id)
        return head, list(found), files

    def load_request(
        self, owner: str, conversation_id: str, message_id: str
    ) -> dict[str, Any] | None:
        """The request a stored reply came from; None when none was kept (or no such reply)."""
        m = messages.c
        query = (
            sa.select(*rows.readable_columns(with_request=True))
            .join(conversations, conversations.c.id == m.conversation_id)
            .where(
                m.id == message_id,
                m.conversation_id == conversation_id,
                conversations.c.owner == owner,
            )
        )
        with self._transaction(write=False) as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else rows.message_from(row).request

    def load_token_logprobs(
        self, owner: str, conversation_id: str, message_id: str
    ) -> tuple[TokenLogprob, ...]:
        """A stored reply's tokens with their probabilities; () when none were kept."""
        m = messages.c
        query = (
            sa.select(sa.cast(m.token_logprobs, sa.Text))  # text: bad JSON cannot fail the query
            .join(conversations, conversations.c.id == m.conversation_id)
            .where(
                m.id == message_id,
                m.conversation_id == conversation_id,
                conversations.c.owner == owner,
            )
        )
        with self._transaction(write=False) as conn:
            raw = conn.execute(query).scalar_one_or_none()
        try:
            return logprobs_from(json.loads(raw)) if isinstance(raw, str) else ()
        except (ValueError, RecursionError):
            return ()

    def _folded(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """``column`` case-folded for all of Unicode, as the backend best can."""
        if self._engine.dialect.name == "sqlite":
            return sa.func.chatlab_casefold(column)
        if self._fold_collation:
            return sa.func.lower(column.collate(self._fold_collation))
        return sa.func.lower(column)

    def _find_fold_collation(self) -> str | None:
        if self._engine.dialect.name != "postgresql":
            return None
        query = sa.text("SELECT collname FROM pg_collation WHERE collname = :name")
        with self._transaction(write=False) as conn:
            found: str | None = conn.execute(query, {"name": _ICU}).scalar_one_or_none()
        return found

    def _migrate(self) -> None:
        """Bring the schema up to date; a current one is only read, under no write lock.

        This runs on a process's first page, on the script thread, so it never spends
        the busy timeout there: a SQLite file another program holds locked opens at once
        when its schema is current (saves wait in the outbox until it is free), and a
        migration that finds it locked gives up after ``SETUP_BUSY_TIMEOUT_MS``
        saying so; the app opens the store again on a later run.
        """
        try:
            with self._transaction(write=False) as conn:
                pending = migrations.missing(conn)
            if pending:
                self._run_migrations()
            elif self._engine.dialect.name == "sqlite":
                self._check_writable()
        except sa.exc.SQLAlchemyError as exc:
            raise errors.explain(exc, self._engine.url) from exc
        except migrations.SchemaTooNew as exc:
            raise StorageError(
                f"The database at {self.location} was written by a newer version of Chat Lab "
                f"(it has had migrations {', '.join(exc.unknown)}).",
                "Update Chat Lab, or set DATABASE_URL to another database.",
                retryable=False,
            ) from exc
        except migrations.BrokenReferences as exc:
            raise StorageError(
                f"Upgrading the database at {self.location} would leave rows in "
                f"{', '.join(exc.tables)} pointing at rows that do not exist; "
                "nothing was changed.",
                "Keep using the previous version of Chat Lab and report this as a bug.",
                retryable=False,
            ) from exc

    def _run_migrations(self) -> None:
        with self._engine.connect() as conn:
            sqlite_db = conn.dialect.name == "sqlite"
            conn.execution_options(**{engines.WRITE: True, engines.FOREIGN_KEYS_OFF: sqlite_db})
            with engines.busy_timeout(conn, engines.SETUP_BUSY_TIMEOUT_MS):
                try:
                    with conn.begin():
                        if not sqlite_db:
                            # A step may rebuild an index on a big table; waiting for a
                            # lock is still limited (lock_timeout).
                            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                        migrations.migrate(conn)
                        if sqlite_db:  # the migration count is its version
                            count = len(migrations.MIGRATIONS)
                            conn.exec_driver_sql(f"PRAGMA user_version = {count}")
                finally:
                    if sqlite_db:
                        _foreign_keys_on(conn)

    def _check_writable(self) -> None:
        """Write the SQLite file's version again: a read-only file fails at start, not
        when the first reply is saved. A file locked by another program passes at once
        (no busy wait): its schema is current, and nothing needs writing now."""
        with self._engine.connect() as conn:
            conn.execution_options(**{engines.WRITE: True})
            with engines.busy_timeout(conn, 0):
                try:
                    with conn.begin():
                        count = len(migrations.MIGRATIONS)
                        conn.exec_driver_sql(f"PRAGMA user_version = {count}")
                except sa.exc.OperationalError as exc:
                    if not errors.locked(exc):
                        raise

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        """One short transaction; database errors come out as ``StorageError``."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{engines.WRITE: write})
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise errors.explain(exc, self._engine.url) from exc


def _foreign_keys_on(conn: Connection) -> None:
    """Turn SQLite's foreign keys back on, outside any transaction (they only change there)."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        return
    dbapi.execute("PRAGMA foreign_keys = ON")
    if dbapi.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        conn.invalidate()  # never hand a connection without its cascades back to the pool


# -- queries -----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _summaries(owner: str) -> sa.Select[Any]:
    c = conversations.c
    return sa.select(c.id, c.title).where(c.owner == owner)


def _summary(row: Row[Any]) -> ConversationSummary:
    return ConversationSummary(id=row.id, title=row.title)


def _messages_of(conversation_id: str, *, with_request: bool = False) -> sa.Select[Any]:
    m = messages.c
    return (
        sa.select(*rows.readable_columns(with_request=with_request))
        .where(m.conversation_id == conversation_id)
        .order_by(m.created_at, m.id)
    )


def _owned(
    conn: Connection, owner: str, conversation_id: str, *, lock: bool = False
) -> Row[Any, Any] | None:
    """The conversation's leaf and version if the owner has it (locked, if asked)."""
    c = conversations.c
    query = sa.select(c.current_leaf_id, c.version).where(c.id == conversation_id, c.owner == owner)
    return conn.execute(query.with_for_update() if lock else query).one_or_none()


def _create_if_missing(conn: Connection, owner: str, conversation_id: str, now: datetime) -> None:
    """Make an empty conversation with this id unless one exists (whoever owns it)."""
    row = {"id": conversation_id, "owner": owner, "title": DEFAULT_TITLE}
    insert = upsert_into(conn, conversations).values(**row, created_at=now, updated_at=now)
    conn.execute(insert.on_conflict_do_nothing(index_elements=[conversations.c.id]))


def _exists(conn: Connection, *where: sa.ColumnElement[bool]) -> bool:
    found: bool = conn.execute(sa.select(sa.exists().where(*where))).scalar_one()
    return found


def _newest_message(conn: Connection, conversation_id: str) -> str | None:
    m = messages.c
    query = (
        sa.select(m.id)
        .where(m.conversation_id == conversation_id)
        .order_by(m.created_at.desc())
        .limit(1)
    )
    newest: str | None = conn.execute(query).scalar_one_or_none()
    return newest


def _check_placement(conn: Connection, conversation_id: str, message: ChatMessage) -> bool:
    """Whether the message is new; refuse an id or a parent from another conversation."""
    m = messages.c
    home = conn.execute(sa.select(m.conversation_id).where(m.id == message.id)).scalar()
    if home is not None and home != conversation_id:
        raise errors.id_taken()
    if home is None and message.parent_id is not None:
        here = (m.id == message.parent_id, m.conversation_id == conversation_id)
        if not _exists(conn, *here):
            raise errors.parent_missing()
    return home is None


def _touch(conversation_id: str, message: ChatMessage, now: datetime, is_new: bool) -> sa.Update:
    """Bump updated_at and the version; a new message becomes the leaf; a first question
    names the chat."""
    c = conversations.c
    values: dict[str, Any] = {"updated_at": now, "version": c.version + 1}
    if is_new:
        values["current_leaf_id"] = message.id
    title = clean_title(title_from(message.content)) if message.role == "user" else ""
    if title and title != DEFAULT_TITLE:
        values["title"] = sa.case((c.title == DEFAULT_TITLE, title), else_=c.title)
    return sa.update(conversations).where(c.id == conversation_id).values(values)


def _upsert(conn: Connection, row: dict[str, Any]) -> int:
    """Insert, or update the mutable columns if the id exists in the same conversation.

    Returns the rows written: 0 means the id belongs to another conversation. (SQLAlchemy
    must be told to keep an INSERT's rowcount; the driver drops it with the cursor.)
    """
    statement = _message_upserts.get(conn.dialect.name)
    if statement is None:
        statement = _message_upserts[conn.dialect.name] = _message_upsert(conn)
    written: int = conn.execute(statement, row).rowcount
    return written


# One statement per database, its row passed as parameters: built for each save, the
# statement and its cache key cost more than the save's own SQL (a reply saves every second).
_message_upserts: dict[str, Any] = {}


def _message_upsert(conn: Connection) -> Any:
    new = upsert_into(conn, messages)
    return new.on_conflict_do_update(
        index_elements=[messages.c.id],
        set_={
            name: (
                # A message loaded without its request or tokens (see
                # rows.readable_columns) and saved again keeps the stored ones.
                sa.func.coalesce(new.excluded[name], messages.c[name])
                if name in ("request", "token_logprobs")
                else new.excluded[name]
            )
            for name in MUTABLE
        },
        where=messages.c.conversation_id == new.excluded.conversation_id,
    ).execution_options(preserve_rowcount=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
