"""The migrations: they build the declared schema, and rebuilding a table loses no row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.attachments import check_file
from chatlab.grid import Grid, new_run
from chatlab.messages import ChatMessage, ChatSettings
from chatlab.presets import from_settings
from chatlab.storage import SideBySideSummary, StorageError, Store, StoredVote, migrations
from chatlab.storage.schema import metadata
from chatlab.testset import from_dicts
from chatlab.tools import ToolCall, make_tool

pytest_plugins = ["tests.postgres"]

OWNER = "alice"


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A separate engine, to look at the database behind the store's back."""
    found = sa.create_engine(database_url)
    yield found
    found.dispose()


@pytest.fixture
def declared_url(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A second empty database on the same backend, for the declared schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'declared.db'}"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    with cluster.database() as url:
        yield url


def _family(column_type: Any) -> str:
    for family in (sa.JSON, sa.DateTime, sa.Integer, sa.String):
        if isinstance(column_type, family):
            return family.__name__
    return repr(column_type)


def _shape(url: str) -> dict[str, Any]:
    """Tables, columns (type family, nullability, default), keys and indexes, as reflected."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            table: {
                "columns": {
                    c["name"]: (_family(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(table)
                },
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted(
                    (
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        (fk.get("options") or {}).get("ondelete"),
                    )
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (
                        ix["name"],
                        tuple(ix["column_names"]),
                        bool(ix["unique"]),
                        tuple(sorted((ix.get("column_sorting") or {}).items())),
                    )
                    for ix in inspector.get_indexes(table)
                ),
            }
            for table in sorted(metadata.tables)
        }
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_declared_schema(database_url: str, declared_url: str) -> None:
    Store.open(database_url).close()
    declared = sa.create_engine(declared_url)
    with declared.begin() as conn:
        metadata.create_all(conn)
    declared.dispose()

    built, wanted = _shape(database_url), _shape(declared_url)

    assert built == wanted
    assert set(wanted) == {
        "conversations",
        "messages",
        "compare_runs",
        "presets",
        "attachments",
        "message_attachments",
        "test_sets",
        "votes",
        "side_by_sides",
        "tools",
    }
    assert wanted["conversations"]["columns"]["version"][:2] == ("Integer", False)
    assert len(wanted["messages"]["indexes"]) == 2


def _seed(store: Store) -> tuple[str, list[ChatMessage]]:
    """A conversation with a branch: two replies under one question, and a follow-up."""
    conversation_id = store.create_conversation(OWNER)
    question = ChatMessage("user", "Pick a colour")
    first = ChatMessage("assistant", "Blue", parent_id=question.id)
    second = ChatMessage("assistant", "Green", parent_id=question.id)
    follow_up = ChatMessage("user", "Why green?", parent_id=second.id)
    for message in (question, first, second, follow_up):
        store.save_message(OWNER, conversation_id, message)
    return conversation_id, [question, first, second, follow_up]


_SQLITE_REBUILD = """
CREATE TABLE {table}_new ({columns});
INSERT INTO {table}_new SELECT * FROM {table};
DROP TABLE {table};
ALTER TABLE {table}_new RENAME TO {table};
"""
_CONVERSATION_COLUMNS = (
    "id TEXT PRIMARY KEY, owner TEXT NOT NULL DEFAULT 'local', title TEXT NOT NULL,"
    " created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, current_leaf_id TEXT,"
    " version INTEGER NOT NULL DEFAULT 0"
)
_MESSAGE_COLUMNS = (
    "id TEXT PRIMARY KEY,"
    " conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,"
    " parent_id TEXT REFERENCES messages (id) ON DELETE CASCADE,"
    " role TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL,"
    " created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,"
    " settings JSON, stats JSON, notices JSON NOT NULL, request JSON,"
    " reasoning TEXT NOT NULL DEFAULT '', token_logprobs JSON, tool_calls JSON"
)


def test_m007_gives_existing_messages_no_thinking_and_new_ones_theirs(
    database_url: str, engine: sa.Engine
) -> None:
    with Store.open(database_url) as store:
        conversation_id, seeded = _seed(store)
    with engine.begin() as conn:  # as a database from before m007 would be
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm007_message_reasoning'"))
        conn.execute(sa.text("ALTER TABLE messages DROP COLUMN reasoning"))
    with Store.open(database_url) as store:
        tree = store.load_tree(OWNER, conversation_id)
        assert tree is not None
        assert [(m.content, m.reasoning) for m in tree.messages] == [
            (m.content, "") for m in seeded
        ]
        thought = ChatMessage("assistant", "Because", parent_id=seeded[-1].id, reasoning="Hmm.")
        store.save_message(OWNER, conversation_id, thought)
        loaded = store.load_messages(OWNER, conversation_id)
    assert loaded is not None and loaded[-1].reasoning == "Hmm."


def m900_rebuild_both_tables(conn: Connection) -> None:
    """What a migration adding a constraint must do: SQLite's copy, drop, rename."""
    if conn.dialect.name != "sqlite":
        # PostgreSQL alters in place; changing a column's type rewrites the table.
        conn.exec_driver_sql("ALTER TABLE conversations ALTER COLUMN title TYPE varchar")
        conn.exec_driver_sql("ALTER TABLE messages ALTER COLUMN content TYPE varchar")
        conn.exec_driver_sql("ALTER TABLE conversations ALTER COLUMN title TYPE text")
        conn.exec_driver_sql("ALTER TABLE messages ALTER COLUMN content TYPE text")
        return
    for table, columns in (
        ("conversations", _CONVERSATION_COLUMNS),
        ("messages", _MESSAGE_COLUMNS),
    ):
        for statement in _SQLITE_REBUILD.format(table=table, columns=columns).split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    conn.exec_driver_sql(
        "CREATE INDEX ix_conversations_owner_updated"
        " ON conversations (owner, updated_at DESC, id DESC)"
    )
    conn.exec_driver_sql(
        "CREATE INDEX ix_messages_conversation ON messages (conversation_id, created_at)"
    )
    conn.exec_driver_sql("CREATE INDEX ix_messages_parent ON messages (parent_id)")


def test_a_table_rebuild_keeps_every_conversation_and_message(
    database_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(database_url) as store:
        conversation_id, saved = _seed(store)
        empty = store.create_conversation(OWNER, title="Nothing yet")
        before = store.load_tree(OWNER, conversation_id)

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS, m900_rebuild_both_tables)
    )
    with Store.open(database_url) as store:
        after = store.load_tree(OWNER, conversation_id)
        assert after == before
        assert after is not None and [m.id for m in after.messages] == [m.id for m in saved]
        assert {c.id for c in store.list_conversations(OWNER)} == {conversation_id, empty}
        with engine.connect() as conn:
            assert "m900_rebuild_both_tables" in migrations.applied(conn)
        # The connections the migration used cascade again: deleting takes the messages.
        assert store.delete_conversation(OWNER, conversation_id)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar_one() == 0


def m901_orphan_a_reply(conn: Connection) -> None:
    """A faulty migration: deletes a question and leaves its replies pointing at nothing."""
    conn.exec_driver_sql("DELETE FROM messages WHERE parent_id IS NULL")


def test_a_migration_leaving_dangling_references_fails_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'chatlab.db'}"
    with Store.open(url) as store:
        conversation_id, saved = _seed(store)

    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, m901_orphan_a_reply))
    with pytest.raises(StorageError) as raised:
        Store.open(url)
    assert "pointing at rows that do not exist" in raised.value.message
    assert "messages" in raised.value.message

    monkeypatch.undo()
    with Store.open(url) as store:
        tree = store.load_tree(OWNER, conversation_id)
        assert tree is not None and [m.id for m in tree.messages] == [m.id for m in saved]


def test_m004_adds_the_version_to_existing_conversations(
    database_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        migrations.migrate(conn, upto=3)
        conn.execute(
            sa.text(
                "INSERT INTO conversations (id, owner, title, created_at, updated_at,"
                " current_leaf_id) VALUES ('old', 'alice', 'From before', :at, :at, 'a1')"
            ),
            {"at": "2024-01-02 03:04:05.000000"},
        )
        for id_, parent, role, text in (
            ("q1", None, "user", "Hi"),
            ("a1", "q1", "assistant", "Hello"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, conversation_id, parent_id, role, content, status,"
                    " created_at, updated_at, notices)"
                    " VALUES (:id, 'old', :parent, :role, :text, 'complete', :at, :at, '[]')"
                ),
                {
                    "id": id_,
                    "parent": parent,
                    "role": role,
                    "text": text,
                    "at": f"2024-01-02 03:04:0{len(id_) + (parent is not None)}.000000",
                },
            )

    with Store.open(database_url) as store:
        assert store.conversation_version(OWNER, "old") == 0
        tree = store.load_tree(OWNER, "old")
        assert tree is not None
        assert [(m.role, m.content) for m in tree.messages] == [
            ("user", "Hi"),
            ("assistant", "Hello"),
        ]
        assert tree.leaf_id == "a1" and tree.version == 0 and tree.title == "From before"
        store.save_message(OWNER, "old", ChatMessage("user", "Still here?", parent_id="a1"))
        assert store.conversation_version(OWNER, "old") == 1


def test_m005_gives_existing_messages_no_request_and_new_ones_theirs(
    database_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        migrations.migrate(conn, upto=4)
        conn.execute(
            sa.text(
                "INSERT INTO conversations (id, owner, title, created_at, updated_at,"
                " current_leaf_id, version) VALUES ('old', 'alice', 'Before', :at, :at, 'a1', 2)"
            ),
            {"at": "2024-01-02 03:04:05.000000"},
        )
        for id_, parent, role, text, second in (
            ("q1", None, "user", "Hi", 6),
            ("a1", "q1", "assistant", "Hello", 7),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, conversation_id, parent_id, role, content, status,"
                    " created_at, updated_at, settings, notices)"
                    " VALUES (:id, 'old', :parent, :role, :text, 'complete', :at, :at,"
                    " NULL, '[]')"
                ),
                {
                    "id": id_,
                    "parent": parent,
                    "role": role,
                    "text": text,
                    "at": f"2024-01-02 03:04:0{second}",
                },
            )

    sent = {"model": "m", "messages": [{"role": "user", "content": "Again?"}], "stream": True}
    with Store.open(database_url) as store:
        tree = store.load_tree(OWNER, "old")
        assert tree is not None
        assert [(m.content, m.request, m.status.value) for m in tree.messages] == [
            ("Hi", None, "complete"),
            ("Hello", None, "complete"),
        ]
        question = ChatMessage("user", "Again?", parent_id="a1")
        answer = ChatMessage("assistant", "Yes", parent_id=question.id, request=sent)
        store.save_message(OWNER, "old", question)
        store.save_message(OWNER, "old", answer)

    with Store.open(database_url) as reopened:
        loaded = reopened.load_messages(OWNER, "old")
        assert loaded is not None
        requests = [reopened.load_request(OWNER, "old", m.id) for m in loaded]
    assert requests == [None, None, None, sent]
    with engine.connect() as conn:
        assert "m005_message_request" in migrations.applied(conn)


def test_m011_adds_test_sets_and_keeps_every_row_from_before(
    database_url: str, engine: sa.Engine
) -> None:
    settings = ChatSettings(model="gpt-4o-mini", temperature=0.3)
    run = new_run(Grid(settings), "Name a colour.", [{"role": "user", "content": "Hi"}])
    with Store.open(database_url) as store:
        conversation_id, _ = _seed(store)
        store.save_run(OWNER, run)
        preset = store.save_preset(OWNER, from_settings("", "Cool", settings))
        before = (
            store.load_tree(OWNER, conversation_id),
            store.list_runs(OWNER),
            store.load_run(OWNER, run.id),
            store.list_presets(OWNER),
        )
    with engine.begin() as conn:  # as a database from before m011 would be
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm011_test_sets'"))
        conn.execute(sa.text("DROP TABLE test_sets"))

    with Store.open(database_url) as store:
        after = (
            store.load_tree(OWNER, conversation_id),
            store.list_runs(OWNER),
            store.load_run(OWNER, run.id),
            store.list_presets(OWNER),
        )
        assert after == before
        assert before[3] == [preset] and before[2] is not None
        assert store.list_test_sets(OWNER) == []
        tests = from_dicts([{"text": "good morning"}])
        store.save_test_set(OWNER, "Greetings", tests)
        assert store.load_test_set(OWNER, "Greetings") == tests
    with engine.connect() as conn:
        assert migrations.applied(conn) == [m.__name__ for m in migrations.MIGRATIONS]


def test_m012_adds_votes_and_keeps_every_row_from_before(
    database_url: str, engine: sa.Engine
) -> None:
    settings = ChatSettings(model="gpt-4o-mini", temperature=0.3)
    run = new_run(Grid(settings), "Name a colour.", [{"role": "user", "content": "Hi"}])
    tests = from_dicts([{"text": "good morning"}])
    with Store.open(database_url) as store:
        conversation_id, _ = _seed(store)
        store.save_run(OWNER, run)
        preset = store.save_preset(OWNER, from_settings("", "Cool", settings))
        store.save_test_set(OWNER, "Greetings", tests)
        before = (
            store.load_tree(OWNER, conversation_id),
            store.list_runs(OWNER),
            store.load_run(OWNER, run.id),
            store.list_presets(OWNER),
            store.list_test_sets(OWNER),
            store.load_test_set(OWNER, "Greetings"),
        )
    with engine.begin() as conn:  # as a database from before m012 would be
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm012_votes'"))
        conn.execute(sa.text("DROP TABLE votes"))

    with Store.open(database_url) as store:
        after = (
            store.load_tree(OWNER, conversation_id),
            store.list_runs(OWNER),
            store.load_run(OWNER, run.id),
            store.list_presets(OWNER),
            store.list_test_sets(OWNER),
            store.load_test_set(OWNER, "Greetings"),
        )
        assert after == before
        assert before[3] == [preset] and before[5] == tests
        assert store.list_votes(OWNER) == []
        cast_at = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
        store.save_vote(OWNER, "vote-1", cast_at, {"verdict": "a"})
        assert store.list_votes(OWNER) == [StoredVote("vote-1", cast_at, {"verdict": "a"})]
    with engine.connect() as conn:
        assert sorted(migrations.applied(conn)) == sorted(m.__name__ for m in migrations.MIGRATIONS)


def test_m013_adds_side_by_sides_and_keeps_every_row_from_before(
    database_url: str, engine: sa.Engine
) -> None:
    settings = ChatSettings(model="gpt-4o-mini", temperature=0.3)
    run = new_run(Grid(settings), "Name a colour.", [{"role": "user", "content": "Hi"}])
    tests = from_dicts([{"text": "good morning"}])
    cast_at = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
    with Store.open(database_url) as store:
        conversation_id, seeded = _seed(store)
        attached = ChatMessage(
            "user",
            "Read this",
            parent_id=seeded[-1].id,
            attachments=(check_file("notes.txt", b"a file's text"),),
        )
        store.save_message(OWNER, conversation_id, attached)
        store.save_run(OWNER, run)
        store.save_preset(OWNER, from_settings("", "Cool", settings))
        store.save_test_set(OWNER, "Greetings", tests)
        store.save_vote(OWNER, "vote-1", cast_at, {"verdict": "a"})
        before = _everything(store, conversation_id, run.id)
    with engine.begin() as conn:  # as a database from before m013 would be
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm013_side_by_side'"))
        conn.execute(sa.text("DROP TABLE side_by_sides"))

    with Store.open(database_url) as store:
        after = _everything(store, conversation_id, run.id)
        assert after == before
        tree = after[0]
        assert tree is not None and len(tree.messages) == len(seeded) + 1
        assert tree.messages[-1].attachments == attached.attachments
        assert after[2] is not None and [r.id for r in after[1]] == [run.id]
        assert [p.name for p in after[3]] == ["Cool"] and after[4] == tests
        assert after[5] == [StoredVote("vote-1", cast_at, {"verdict": "a"})]
        assert store.list_side_by_sides(OWNER) == []
        store.save_side_by_side(OWNER, "s1", "Hello", cast_at, cast_at, {"prompts": ["Hi"]})
        assert store.list_side_by_sides(OWNER) == [SideBySideSummary("s1", "Hello", cast_at)]
        assert store.load_side_by_side(OWNER, "s1") == {"prompts": ["Hi"]}
    with engine.connect() as conn:
        assert sorted(migrations.applied(conn)) == sorted(m.__name__ for m in migrations.MIGRATIONS)


def _everything(store: Store, conversation_id: str, run_id: str) -> tuple[Any, ...]:
    """What every table holds, as the store reads it back."""
    return (
        store.load_tree(OWNER, conversation_id),
        store.list_runs(OWNER),
        store.load_run(OWNER, run_id),
        store.list_presets(OWNER),
        store.load_test_set(OWNER, "Greetings"),
        store.list_votes(OWNER),
    )


def test_m014_adds_tool_calls_and_tools_and_keeps_every_row_from_before(
    database_url: str, engine: sa.Engine
) -> None:
    settings = ChatSettings(model="gpt-4o-mini", temperature=0.3)
    with Store.open(database_url) as store:
        conversation_id, seeded = _seed(store)
        preset = store.save_preset(OWNER, from_settings("", "Cool", settings))
        store.save_vote(OWNER, "vote-1", datetime(2026, 12, 4, tzinfo=UTC), {"verdict": "a"})
        before = (
            store.load_tree(OWNER, conversation_id),
            store.list_presets(OWNER),
            store.list_votes(OWNER),
        )
    with engine.begin() as conn:  # as a database from before m014 would be
        conn.execute(sa.text("DELETE FROM _migrations WHERE name = 'm014_tools'"))
        conn.execute(sa.text("DROP TABLE tools"))
        conn.execute(sa.text("ALTER TABLE messages DROP COLUMN tool_calls"))

    tool = make_tool("get_weather", "The forecast.", '{"type": "object"}', "sunny")
    calls = (ToolCall("call_a", "get_weather", '{"city": "Oslo"}', "21 C"),)
    with Store.open(database_url) as store:
        after = (
            store.load_tree(OWNER, conversation_id),
            store.list_presets(OWNER),
            store.list_votes(OWNER),
        )
        assert after == before and before[1] == [preset]
        assert before[0] is not None
        assert [m.tool_calls for m in before[0].messages] == [()] * len(seeded)
        assert store.list_tools(OWNER) == []
        reply = ChatMessage("assistant", "", parent_id=seeded[-1].id, tool_calls=calls)
        store.save_message(OWNER, conversation_id, reply)
        store.save_tool(OWNER, tool)
    with Store.open(database_url) as reopened:
        loaded = reopened.load_messages(OWNER, conversation_id)
        assert loaded is not None and loaded[-1].tool_calls == calls
        assert reopened.list_tools(OWNER) == [tool]
        assert reopened.list_tools("bob") == []
    with engine.connect() as conn:
        assert migrations.applied(conn) == [m.__name__ for m in migrations.MIGRATIONS]
