"""The database schema as a numbered, append-only list of migrations.

Each migration is a function that takes an open connection and changes the schema one
step; ``_migrations`` records the name of every step a database has had. On start,
``migrate`` runs the missing ones in order, so a database written by any earlier Chat
Lab upgrades itself and a fresh one is built by the same code path (the same idea as
simonw/llm's ``migrations.py``). Rules that keep this safe:

* Never edit or reorder a migration that has shipped; add a new one at the end.
* Migrations define their own tables rather than import ``chatlab.storage.schema``, so
  each step stays frozen as it was written while the current schema moves on.
* Write Core or SQL that both SQLite and PostgreSQL accept. All steps run in one
  transaction (both databases have transactional DDL), so a failed upgrade leaves the
  database as it was.
* On SQLite the store runs them with foreign keys off: a step that rebuilds a table
  (copy, drop, rename; what SQLite needs to add a constraint) would otherwise
  cascade-delete the rows pointing at it. ``PRAGMA foreign_key_check`` then runs before
  the commit, so a step that leaves a dangling reference fails and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Migration = Callable[[Connection], None]

# Any fixed number will do: it names the lock that keeps two processes starting at the
# same moment from both creating the tables ("chatlab" in ASCII).
_POSTGRES_LOCK_KEY = 0x636861746C6162

_applied = sa.Table(
    "_migrations",
    sa.MetaData(),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("applied_at", sa.Text, nullable=False),
)


class SchemaTooNew(Exception):
    """The database has had migrations this version of Chat Lab does not know."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__(", ".join(unknown))
        self.unknown = unknown


class BrokenReferences(Exception):
    """A migration left rows pointing at rows that do not exist (SQLite's foreign_key_check)."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(", ".join(tables))
        self.tables = tables


def m001_conversations(conn: Connection) -> None:
    sa.Table(
        "conversations",
        sa.MetaData(),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False, server_default="local"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # No foreign key: messages does not exist yet, and a cycle between the two tables
        # would complicate every later table rebuild. the store keeps it pointing at a row.
        sa.Column("current_leaf_id", sa.Text),
    ).create(conn)


def m002_messages(conn: Connection) -> None:
    metadata = sa.MetaData()
    # A stub, only so the foreign key below can name its target.
    sa.Table("conversations", metadata, sa.Column("id", sa.Text, primary_key=True))
    sa.Table(
        "messages",
        metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Text,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # Deleting a message deletes the replies below it: they have no context without it.
        sa.Column("parent_id", sa.Text, sa.ForeignKey("messages.id", ondelete="CASCADE")),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON),
        sa.Column("stats", sa.JSON),
        sa.Column("notices", sa.JSON, nullable=False),
    ).create(conn)


def m003_indexes(conn: Connection) -> None:
    # The sidebar lists one owner's conversations newest first, a page at a time.
    conn.exec_driver_sql(
        "CREATE INDEX ix_conversations_owner_updated"
        " ON conversations (owner, updated_at DESC, id DESC)"
    )
    # Loading, counting and searching the messages of one conversation.
    conn.exec_driver_sql(
        "CREATE INDEX ix_messages_conversation ON messages (conversation_id, created_at)"
    )
    # Neither database indexes a referencing column by itself; without this, deleting a
    # message scans the whole table for its replies, once per deleted row.
    conn.exec_driver_sql("CREATE INDEX ix_messages_parent ON messages (parent_id)")


def m004_conversation_version(conn: Connection) -> None:
    # Lets a tab tell cheaply whether the conversation changed since it read it. A plain
    # column with a constant default: both databases add it without rebuilding the table.
    conn.exec_driver_sql("ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0")


def m005_message_request(conn: Connection) -> None:
    # The exact request body each reply came from (the viewer under a reply). Nullable with
    # no default: both databases add it without rebuilding the table, and messages from
    # before it (and questions, which send nothing) simply have none. JSON, not JSONB, on
    # PostgreSQL: JSONB reorders keys, and the body is shown as it was sent.
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN request JSON")


def m006_compare_runs(conn: Connection) -> None:
    # A compare page run, written and read whole as one JSON document (grid, messages sent,
    # results and telemetry; ``chatlab.storage.runs``). Its own owner column: a run
    # belongs to no conversation.
    sa.Table(
        "compare_runs",
        sa.MetaData(),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("run", sa.JSON, nullable=False),
    ).create(conn)
    # The list of one owner's runs, newest first.
    conn.exec_driver_sql(
        "CREATE INDEX ix_compare_runs_owner_created"
        " ON compare_runs (owner, created_at DESC, id DESC)"
    )


def m007_message_reasoning(conn: Connection) -> None:
    # A reasoning model's thinking, shown apart from its answer and never sent back. A
    # constant default: both databases add the column without rebuilding the table.
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT ''")


def m008_presets(conn: Connection) -> None:
    # A user's own presets (``chatlab.presets``): a name and settings, written and read
    # whole. One name per owner: saving under a name that exists replaces its settings.
    sa.Table(
        "presets",
        sa.MetaData(),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
    ).create(conn)
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_presets_owner_name ON presets (owner, name)")


def m009_attachments(conn: Connection) -> None:
    # Attached files' bytes, once per owner and content (sha256): the same image sent in
    # ten messages, or imported twice, is stored once; another owner's copy is their own.
    metadata = sa.MetaData()
    sa.Table("messages", metadata, sa.Column("id", sa.Text, primary_key=True))  # a stub
    sa.Table(
        "attachments",
        metadata,
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("mime", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Which files a message carries, in order, under the names they were sent with.
    # Deleting a message deletes its links; bytes no link points at are then deleted.
    sa.Table(
        "message_attachments",
        metadata,
        sa.Column(
            "message_id",
            sa.Text,
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["owner", "sha256"], ["attachments.owner", "attachments.sha256"]),
        sa.Index("ix_message_attachments_blob", "owner", "sha256"),
    )
    metadata.create_all(
        conn, tables=[metadata.tables["attachments"], metadata.tables["message_attachments"]]
    )


def m010_message_token_logprobs(conn: Connection) -> None:
    # A reply's tokens and their probabilities (the Probabilities view), when they were
    # asked for. Nullable, no default, as m005: no table rebuild, older replies have none.
    # Read only when the view opens: a long reply holds thousands of tokens.
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN token_logprobs JSON")


def m011_test_sets(conn: Connection) -> None:
    # An owner's evaluation test sets (``chatlab.testset``), by name: the rows written and
    # read whole as one JSON document, as compare runs are. One name per owner: saving
    # under a name that exists replaces its rows. The row count and the column names are
    # kept beside the document, so the list of sets never reads the rows. A new table:
    # no existing row is touched.
    sa.Table(
        "test_sets",
        sa.MetaData(),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("column_names", sa.JSON, nullable=False),
        sa.Column("tests", sa.JSON, nullable=False),
    ).create(conn)
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_test_sets_owner_name ON test_sets (owner, name)")


def m012_votes(conn: Connection) -> None:
    # An owner's arena votes (``chatlab.arena``): each written and read whole as one JSON
    # document, as test sets are; storage never reads into it. The owner and the vote's id
    # are its key (saving under an id that exists replaces the vote: a changed verdict);
    # when it was cast is kept beside it, so a date range is a query. A new table: no
    # existing row is touched.
    sa.Table(
        "votes",
        sa.MetaData(),
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vote", sa.JSON, nullable=False),
    ).create(conn)
    conn.exec_driver_sql("CREATE INDEX ix_votes_owner_cast ON votes (owner, cast_at)")


def m013_side_by_side(conn: Connection) -> None:
    # An owner's side-by-side sessions (``chatlab.arena``): each written and read whole as
    # one JSON document, as votes are; storage never reads into it. The owner and the
    # session's id are its key (saving under an id that exists replaces the session, as it
    # grows turn by turn); the title and times are kept beside it, so the list of sessions
    # never reads the documents. A new table: no existing row is touched.
    sa.Table(
        "side_by_sides",
        sa.MetaData(),
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session", sa.JSON, nullable=False),
    ).create(conn)
    # The list of one owner's sessions, the most recently changed first.
    conn.exec_driver_sql(
        "CREATE INDEX ix_side_by_sides_owner_updated"
        " ON side_by_sides (owner, updated_at DESC, id DESC)"
    )


def m014_tools(conn: Connection) -> None:
    # Tools (function calling, ``chatlab.tools``). A reply's tool calls, each with the
    # result the user gave it, as one JSON list on the reply: nullable, no default, as
    # m005 (no table rebuild; older replies made none). And an owner's tool definitions,
    # by name, each one JSON document (as votes): saving under a name that exists
    # replaces it. A new table: no existing row is touched.
    conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN tool_calls JSON")
    sa.Table(
        "tools",
        sa.MetaData(),
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool", sa.JSON, nullable=False),
    ).create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    m001_conversations,
    m002_messages,
    m003_indexes,
    m004_conversation_version,
    m005_message_request,
    m006_compare_runs,
    m007_message_reasoning,
    m008_presets,
    m009_attachments,
    m010_message_token_logprobs,
    m011_test_sets,
    m012_votes,
    m013_side_by_side,
    m014_tools,
)


def migrate(conn: Connection, *, upto: int | None = None) -> list[str]:
    """Run the migrations this database has not had (the first ``upto`` only, if given)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_POSTGRES_LOCK_KEY)))
    _applied.create(conn, checkfirst=True)
    done = _known(set(conn.scalars(sa.select(_applied.c.name))))
    ran: list[str] = []
    for migration in MIGRATIONS[:upto]:
        if migration.__name__ in done:
            continue
        migration(conn)
        applied_at = datetime.now(UTC).isoformat()
        conn.execute(sa.insert(_applied).values(name=migration.__name__, applied_at=applied_at))
        ran.append(migration.__name__)
    if conn.dialect.name == "sqlite":
        _check_references(conn)
    return ran


def missing(conn: Connection) -> list[str]:
    """Names of the migrations this database has not had yet, in order; reads only.

    A start finds the schema current almost always, and then takes no write lock: a
    database another program holds locked (SQLite) still opens. Raises ``SchemaTooNew``
    as ``migrate`` does.
    """
    if not sa.inspect(conn).has_table(_applied.name):
        return [m.__name__ for m in MIGRATIONS]
    done = _known(set(conn.scalars(sa.select(_applied.c.name))))
    return [m.__name__ for m in MIGRATIONS if m.__name__ not in done]


def _known(done: set[str]) -> set[str]:
    """``done``, or ``SchemaTooNew`` if it names a migration this version does not know."""
    unknown = sorted(done - {migration.__name__ for migration in MIGRATIONS})
    if unknown:
        raise SchemaTooNew(unknown)
    return done


def _check_references(conn: Connection) -> None:
    broken = sorted({row[0] for row in conn.exec_driver_sql("PRAGMA foreign_key_check")})
    if broken:
        raise BrokenReferences(broken)


def applied(conn: Connection) -> list[str]:
    """Names of the migrations this database has had, in the order they were defined."""
    if not sa.inspect(conn).has_table(_applied.name):
        return []
    done = set(conn.scalars(sa.select(_applied.c.name)))
    return [m.__name__ for m in MIGRATIONS if m.__name__ in done]
