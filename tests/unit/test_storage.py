"""The conversation store, on a SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from chatlab import config, transfer
from chatlab.chat.export import markdown_document
from chatlab.errors import ChatLabError
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Status, Usage
from chatlab.storage import (
    DEFAULT_TITLE,
    ConversationNotFound,
    InvalidImport,
    StorageError,
    Store,
    migrations,
    title_from,
)
from chatlab.storage import engine as engines
from chatlab.testset import TestSet
from testing.sqlite_lock import ForeignLock

if TYPE_CHECKING:
    from tests.postgres import PostgresCluster

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
SETTINGS = ChatSettings(
    model="gpt-4o-mini", temperature=0.3, max_tokens=256, system_prompt="Be brief."
)
STATS = ReplyStats(
    model="gpt-4o-mini",
    usage=Usage(prompt_tokens=12, completion_tokens=34, estimated=True),
    finish_reason="length",
    time_to_first_token=0.25,
    total_time=1.5,
    cost_usd=0.000123,
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A separate engine, to look at the database behind the store's back."""
    found = sa.create_engine(database_url)
    yield found
    found.dispose()


def user(text: str, parent: ChatMessage | None = None) -> ChatMessage:
    return ChatMessage("user", text, parent_id=parent.id if parent else None, settings=SETTINGS)


def reply(text: str, parent: ChatMessage, **fields: Any) -> ChatMessage:
    return ChatMessage("assistant", text, parent_id=parent.id, settings=SETTINGS, **fields)


def exported_markdown(store: Store, owner: str, conversation_id: str) -> str | None:
    """What the Markdown download holds: the stored path, rendered."""
    shown = store.load_path(owner, conversation_id)
    return markdown_document(shown.title, shown.messages) if shown is not None else None


def chat(store: Store, owner: str, *texts: str) -> tuple[str, list[ChatMessage]]:
    """A conversation of alternating user and assistant turns."""
    conversation_id = store.create_conversation(owner)
    saved: list[ChatMessage] = []
    for index, text in enumerate(texts):
        parent = saved[-1] if saved else None
        message = user(text, parent) if index % 2 == 0 else reply(text, saved[-1])
        store.save_message(owner, conversation_id, message)
        saved.append(message)
    return conversation_id, saved


# The columns a test writes behind the store's back, typed as the migrations made them.
CONVERSATIONS = sa.table(
    "conversations",
    sa.column("id"),
    sa.column("owner"),
    sa.column("title"),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def count_rows(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


# -- configuration and opening ---------------------------------------------------------


def test_database_url_defaults_to_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    assert config.database_url({"CHATLAB_DATA_DIR": str(tmp_path)}) == (
        f"sqlite:///{tmp_path.resolve()}/chatlab.db"
    )
    assert config.database_url({}) == f"sqlite:///{Path('data').resolve()}/chatlab.db"
    url = "postgresql+psycopg://chat@db/chatlab"
    assert config.database_url({"DATABASE_URL": url, "CHATLAB_DATA_DIR": "x"}) == url


def test_first_open_creates_the_data_folder_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "data" / "chatlab.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.create_conversation(ALICE)
    assert path.exists()
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


# -- migrations ------------------------------------------------------------------------


def test_fresh_database_gets_every_migration(database_url: str, engine: sa.Engine) -> None:
    Store.open(database_url).close()
    Store.open(database_url).close()  # a second start finds nothing to do
    with engine.connect() as conn:
        assert migrations.applied(conn) == [m.__name__ for m in migrations.MIGRATIONS]
        assert count_rows(engine, "_migrations") == len(migrations.MIGRATIONS)


def test_database_from_migration_1_upgrades_to_latest(database_url: str, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert migrations.migrate(conn, upto=1) == ["m001_conversations"]
        # A conversation written by that first version; owner comes from the default.
        conn.execute(
            sa.text(
                "INSERT INTO conversations (id, title, created_at, updated_at)"
                " VALUES ('old', 'From before', :at, :at)"
            ),
            {"at": "2024-01-02 03:04:05.000000"},
        )

    with Store.open(database_url) as store:
        assert [c.title for c in store.list_conversations("local")] == ["From before"]
        question = user("Still here?")
        store.save_message("local", "old", question)
        assert store.load_messages("local", "old") == [question]
        tests = TestSet(("q",), (("Hi",),))  # the tables of m011 and m012 are there too
        store.save_test_set("local", "Upgraded", tests)
        assert store.load_test_set("local", "Upgraded") == tests
        store.save_vote("local", "v1", datetime(2026, 12, 4, tzinfo=UTC), {"verdict": "tie"})
        assert [vote.document for vote in store.list_votes("local")] == [{"verdict": "tie"}]

    with engine.connect() as conn:
        assert migrations.applied(conn) == [m.__name__ for m in migrations.MIGRATIONS]
        assert "ix_conversations_owner_updated" in {
            index["name"] for index in sa.inspect(conn).get_indexes("conversations")
        }


def test_database_from_a_newer_version_is_refused(database_url: str, engine: sa.Engine) -> None:
    Store.open(database_url).close()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO _migrations (name, applied_at) VALUES ('m999_future', 'later')"
        )
    with pytest.raises(StorageError) as raised:
        Store.open(database_url)
    assert "newer version of Chat Lab" in raised.value.message
    assert "Update Chat Lab" in raised.value.action


def test_a_current_database_opens_while_another_program_holds_it_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatlab.db'}"
    with Store.open(url) as store:
        conversation_id, _ = chat(store, ALICE, "Saved before the lock")
    # Opened and read while the lock is held: the start wrote nothing (it used to wait
    # the whole busy timeout for the write lock, then fail).
    with ForeignLock(tmp_path / "chatlab.db") as holder, Store.open(url) as store:
        assert [c.id for c in store.list_conversations(ALICE)] == [conversation_id]
        assert holder.held, "the lock ended before the store opened"


@pytest.mark.parametrize("journal", ["wal", "delete"])  # as Chat Lab leaves it; or not
def test_a_migration_on_a_locked_file_fails_fast_and_says_why(tmp_path: Path, journal: str) -> None:
    path = tmp_path / "chatlab.db"
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        conn.exec_driver_sql(f"PRAGMA journal_mode = {journal}")
        conn.commit()
        migrations.migrate(conn, upto=1)  # an old database: opening it must write
        conn.commit()
    with ForeignLock(path) as holder:
        # Connections that would wait an hour for the lock: the open gives up while the
        # lock is held only if it waits the short migration timeout, not theirs (a wait of
        # theirs ends the test at its timeout instead). A state, not a time, decides.
        with pytest.raises(StorageError) as raised:
            Store.open(f"sqlite:///{path}?timeout=3600")
        assert holder.held, "the lock ended before the open gave up"
    assert "is locked by another program" in raised.value.message
    assert raised.value.retryable  # the app opens it again on a later run
    with (
        Store.open(f"sqlite:///{path}") as store,
        sa.create_engine(f"sqlite:///{path}").connect() as conn,
    ):
        assert migrations.missing(conn) == []
        assert store.list_conversations(ALICE) == []


@pytest.mark.parametrize(
    ("query", "waits"), [("", engines.BUSY_TIMEOUT_MS), ("?timeout=2.5", 2500)]
)
def test_the_urls_timeout_is_how_long_a_connection_waits_for_a_lock(
    tmp_path: Path, query: str, waits: int
) -> None:
    url = f"sqlite:///{tmp_path / 'chatlab.db'}{query}"
    with Store.open(url) as store, store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == waits
        with engines.busy_timeout(conn, 10):  # a migration's short wait, then theirs
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == waits


@pytest.mark.parametrize("bad", ["soon", "-1", "nan"])
def test_a_timeout_that_is_not_seconds_is_refused_with_words(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StorageError) as raised:
        Store.open(f"sqlite:///{tmp_path / 'chatlab.db'}?timeout={bad}")
    assert "not a number of seconds" in raised.value.message
    assert not raised.value.retryable


def test_after_a_migration_saves_wait_the_full_busy_timeout_again(tmp_path: Path) -> None:
    path = tmp_path / "chatlab.db"
    with Store.open(f"sqlite:///{path}") as store:  # a fresh file: every migration ran
        with ForeignLock(path) as holder:
            # Held longer than a migration waits: a save still waits it out.
            held = engines.SETUP_BUSY_TIMEOUT_MS / 1000 + 1
            threading.Timer(held, holder.release).start()
            conversation_id = store.create_conversation(ALICE)
        assert [c.id for c in store.list_conversations(ALICE)] == [conversation_id]


# -- saving and loading ----------------------------------------------------------------


def test_messages_round_trip_with_settings_stats_status_and_notices(database_url: str) -> None:
    system = ChatMessage("system", "You are terse.")
    question = user("Tell me a long story", system)
    answer = reply(
        "Once upon a time",
        question,
        status=Status.LENGTH,
        stats=STATS,
        notices=("Trimmed the oldest turn to fit.", "Estimated tokens."),
    )
    with Store.open(database_url) as store:
        conversation_id = store.create_conversation(ALICE)
        for message in (system, question, answer):
            store.save_message(ALICE, conversation_id, message)

    with Store.open(database_url) as reopened:
        assert reopened.load_messages(ALICE, conversation_id) == [system, question, answer]


def test_partial_save_then_final_save_keep_one_message(store: Store) -> None:
    conversation_id, (question,) = chat(store, ALICE, "Hello?")
    partial = reply("Hel", question, status=Status.STREAMING)
    store.save_message(ALICE, conversation_id, partial)
    assert store.load_messages(ALICE, conversation_id) == [question, partial]

    final = replace(partial, content="Hello!", status=Status.COMPLETE, stats=STATS)
    store.save_message(ALICE, conversation_id, final)

    assert store.load_messages(ALICE, conversation_id) == [question, final]
    tree = store.load_tree(ALICE, conversation_id)
    assert tree is not None and len(tree.messages) == 2


def test_regenerated_reply_is_a_branch_and_the_path_follows_the_leaf(store: Store) -> None:
    conversation_id, (question, first) = chat(store, ALICE, "Pick a colour", "Blue")
    second = reply("Green", question)
    store.save_message(ALICE, conversation_id, second)
    assert store.load_messages(ALICE, conversation_id) == [question, second]

    follow_up = user("Why green?", second)
    store.save_message(ALICE, conversation_id, follow_up)
    # Saving an older message again (a late status change) does not move the leaf.
    store.save_message(ALICE, conversation_id, replace(first, status=Status.STOPPED))

    assert store.load_messages(ALICE, conversation_id) == [question, second, follow_up]
    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None
    assert {m["id"] for m in exported["messages"]} == {
        question.id,
        first.id,
        second.id,
        follow_up.id,
    }


def test_message_needs_a_parent_in_the_same_conversation(store: Store) -> None:
    _, (elsewhere,) = chat(store, ALICE, "Other chat")
    conversation_id = store.create_conversation(ALICE)
    with pytest.raises(StorageError):
        store.save_message(ALICE, conversation_id, reply("orphan", elsewhere))
    assert store.load_messages(ALICE, conversation_id) == []


def test_saving_into_a_missing_conversation_says_so(store: Store) -> None:
    with pytest.raises(ConversationNotFound) as raised:
        store.save_message(ALICE, "no-such-id", user("Hi"))
    assert "no longer exists" in raised.value.message


def test_first_question_names_the_conversation(store: Store) -> None:
    question = "How do I keep the   history of a Streamlit chat app across restarts and tabs?"
    conversation_id, _ = chat(store, ALICE, question, "Use a database.", "And then?")
    summary = store.get_conversation(ALICE, conversation_id)
    assert summary is not None
    assert summary.title == "How do I keep the history of a Streamlit chat app across…"

    named = store.create_conversation(ALICE, title="My own title")
    store.save_message(ALICE, named, user("Something else entirely"))
    assert [c.title for c in store.list_conversations(ALICE, search="own title")] == [
        "My own title"
    ]


def test_title_is_cut_on_a_word_boundary() -> None:
    assert title_from("  short\nquestion ") == "short question"
    assert title_from("word " * 20) == ("word " * 12).strip() + "…"
    assert title_from("x" * 100) == "x" * 60 + "…"
    assert title_from("") == ""


def test_delete_message_drops_its_replies_and_moves_the_leaf_back(
    store: Store, engine: sa.Engine
) -> None:
    conversation_id, (question, answer, again) = chat(store, ALICE, "Q", "A", "Q2")
    assert store.delete_message(ALICE, conversation_id, answer.id)
    assert store.load_messages(ALICE, conversation_id) == [question]
    assert count_rows(engine, "messages") == 1  # the follow-up went with its parent

    retry = reply("A, again", question)
    store.save_message(ALICE, conversation_id, retry)
    assert store.load_messages(ALICE, conversation_id) == [question, retry]
    assert not store.delete_message(ALICE, conversation_id, again.id)


# -- listing and search ----------------------------------------------------------------


def test_list_is_newest_first_and_pages(store: Store) -> None:
    ids = [store.create_conversation(ALICE, title=f"Chat {n}") for n in range(5)]
    store.save_message(ALICE, ids[1], user("bump"))

    listed = store.list_conversations(ALICE)
    assert [c.id for c in listed] == [ids[1], ids[4], ids[3], ids[2], ids[0]]

    pages = [store.list_conversations(ALICE, limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert [[c.id for c in page] for page in pages] == [
        [ids[1], ids[4]],
        [ids[3], ids[2]],
        [ids[0]],
        [],
    ]


def test_search_matches_titles_and_message_text_ignoring_case(store: Store) -> None:
    by_title = store.create_conversation(ALICE, title="Tax return 2024")
    by_text, _ = chat(store, ALICE, "What is a RETURN statement?", "It ends a function.")
    _, _ = chat(store, ALICE, "Nothing to see", "Indeed.")
    literal, _ = chat(store, ALICE, "Is 100% of 5_000 a lot?")

    found = {c.id for c in store.list_conversations(ALICE, search="return")}
    assert found == {by_title, by_text}
    assert [c.id for c in store.list_conversations(ALICE, search="ends a FUNCTION")] == [by_text]
    assert [c.id for c in store.list_conversations(ALICE, search="100%")] == [literal]
    assert [c.id for c in store.list_conversations(ALICE, search="5_0")] == [literal]
    assert store.list_conversations(ALICE, search="0%_") == []
    assert len(store.list_conversations(ALICE, search="   ")) == 4
    assert store.list_conversations(BOB, search="return") == []


def test_listing_5000_conversations_uses_the_index(
    store: Store, engine: sa.Engine, database_url: str
) -> None:
    # Seeded in one transaction: 5,000 separate saves would only test the test's patience.
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"c{n:04}",
            "owner": ALICE if n % 2 else BOB,
            "title": f"Chat {n}",
            "created_at": start + timedelta(seconds=n),
            "updated_at": start + timedelta(seconds=n),
        }
        for n in range(5000)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(CONVERSATIONS), rows)
    newest = store.create_conversation(ALICE, title="Chat 5000")
    statements: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", remember)
    try:
        page = store.list_conversations(ALICE, limit=50)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", remember)

    assert [c.title for c in page[:3]] == ["Chat 5000", "Chat 4999", "Chat 4997"]
    assert page[0].id == newest and len(page) == 50
    query, parameters = next(s for s in statements if "FROM conversations" in s[0])
    with engine.connect() as conn:
        if database_url.startswith("sqlite"):
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query, parameters).all()
            details = " / ".join(row[-1] for row in plan)
            assert "USING INDEX ix_conversations_owner_updated" in details, details
            assert "TEMP B-TREE" not in details, details  # no sort of all her conversations
        else:
            conn.exec_driver_sql("ANALYZE conversations")  # as autovacuum would, soon
            plan = conn.exec_driver_sql("EXPLAIN " + query, parameters).all()
            details = " / ".join(row[0] for row in plan)
            assert "Index Scan using ix_conversations_owner_updated" in details, details
            assert "Sort" not in details, details


# -- owners ----------------------------------------------------------------------------


def test_another_owner_can_neither_see_nor_change_a_conversation(
    store: Store, engine: sa.Engine
) -> None:
    conversation_id, messages = chat(store, ALICE, "Private question", "Private answer")

    assert store.list_conversations(BOB) == []
    assert store.list_conversations(BOB, search="Private") == []
    assert store.get_conversation(BOB, conversation_id) is None
    assert store.load_messages(BOB, conversation_id) is None
    assert store.export_json(BOB, conversation_id) is None
    assert store.load_path(BOB, conversation_id) is None
    assert not store.rename_conversation(BOB, conversation_id, "Mine now")
    assert not store.delete_message(BOB, conversation_id, messages[1].id)
    assert not store.delete_conversation(BOB, conversation_id)
    with pytest.raises(ConversationNotFound):
        store.save_message(BOB, conversation_id, user("Let me in", messages[1]))
    # Nor through a conversation of his own, by reusing her message's id.
    his = store.create_conversation(BOB)
    with pytest.raises(StorageError):
        store.save_message(BOB, his, replace(messages[1], parent_id=None, content="X"))

    assert store.load_messages(ALICE, conversation_id) == messages
    summary = store.get_conversation(ALICE, conversation_id)
    assert summary is not None and summary.title == "Private question"
    assert count_rows(engine, "messages") == 2


def test_rename_and_delete_cascade_to_messages(store: Store, engine: sa.Engine) -> None:
    conversation_id, _ = chat(store, ALICE, "Q", "A", "Q2", "A2")
    keep, _ = chat(store, ALICE, "Other")

    assert store.rename_conversation(ALICE, conversation_id, "  Renamed\n chat ")
    assert [c.title for c in store.list_conversations(ALICE, search="renamed")] == ["Renamed chat"]
    assert store.rename_conversation(ALICE, conversation_id, "   ")
    summary = store.get_conversation(ALICE, conversation_id)
    assert summary is not None and summary.title == DEFAULT_TITLE

    assert store.delete_conversation(ALICE, conversation_id)
    assert store.get_conversation(ALICE, conversation_id) is None
    assert store.load_messages(ALICE, conversation_id) is None
    assert count_rows(engine, "messages") == 1
    assert [c.id for c in store.list_conversations(ALICE)] == [keep]


# -- export and import -----------------------------------------------------------------


def test_export_markdown_shows_the_current_path(store: Store) -> None:
    conversation_id, (question, _) = chat(store, ALICE, "Capital of France?", "Lyon")
    store.save_message(
        ALICE,
        conversation_id,
        reply("Paris is the capi", question, status=Status.STOPPED, stats=STATS),
    )

    markdown = exported_markdown(store, ALICE, conversation_id)

    assert markdown is not None
    # Bodies are fenced and names escaped, so no message can fake a heading (see
    # test_transfer.py); the text itself is exactly as written.
    assert markdown.startswith("# " + plain("Capital of France?") + "\n")
    assert "## User\n\n```\nCapital of France?\n```" in markdown
    assert "## Assistant · " + plain("gpt-4o-mini") + "\n\n```\nParis is the capi\n```" in markdown
    assert "stopped before the end" in markdown
    assert "Lyon" not in markdown


def test_exported_json_imports_back_with_every_branch(store: Store) -> None:
    conversation_id, (question, _) = chat(store, ALICE, "Pick a number", "Seven")
    store.save_message(ALICE, conversation_id, reply("Four", question, stats=STATS))
    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None

    copied = store.import_json(BOB, json.loads(json.dumps(exported)))

    assert store.list_conversations(ALICE)[0].id == conversation_id  # hers is untouched
    original = store.load_messages(ALICE, conversation_id)
    imported = store.load_messages(BOB, copied)
    assert original is not None and imported is not None
    assert [_content(m) for m in imported] == [_content(m) for m in original]
    assert {m.id for m in imported}.isdisjoint({m.id for m in original})  # fresh ids
    again = store.export_json(BOB, copied)
    assert again is not None and again["title"] == "Pick a number"
    assert [_content_json(m) for m in again["messages"]] == [
        _content_json(m) for m in exported["messages"]
    ]


def test_import_accepts_the_file_text_or_bytes(store: Store) -> None:
    conversation_id, messages = chat(store, ALICE, "Hi", "Hello")
    text = json.dumps(store.export_json(ALICE, conversation_id))
    for data in (text, text.encode()):
        imported = store.load_messages(BOB, store.import_json(BOB, data))
        assert imported is not None
        assert [_content(m) for m in imported] == [_content(m) for m in messages]


def _content(message: ChatMessage) -> tuple[Any, ...]:
    return (message.role, message.content, message.status, message.settings, message.stats)


def _content_json(message: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(message[k] for k in ("role", "content", "status", "settings", "stats", "notices"))


def _valid_document() -> dict[str, Any]:
    return {
        "format": "chatlab.conversation",
        "version": 1,
        "title": "Imported",
        "messages": [
            {"id": "u1", "parent_id": None, "role": "user", "content": "Hi"},
            {
                "id": "a1",
                "parent_id": "u1",
                "role": "assistant",
                "content": "Hello",
                "status": "complete",
                "settings": {
                    "model": "m",
                    "temperature": 1,
                    "max_tokens": 10,
                    "system_prompt": "",
                },
                "stats": {
                    "model": "m",
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2},
                    "finish_reason": "stop",
                    "time_to_first_token": None,
                    "total_time": 0.5,
                    "cost_usd": None,
                },
                "notices": ["note"],
            },
        ],
    }


def _broken(path: str, value: object) -> dict[str, Any]:
    """The valid document with one field replaced (``messages.1.role``-style path)."""
    document = _valid_document()
    *parents, last = path.split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return document


INVALID_IMPORTS = {
    "not an object": ([1, 2, 3], "the file must be a JSON object"),
    "not JSON": ("{'single': 'quotes'}", "not valid JSON"),
    "another format": (_broken("format", "llm.log"), "not a Chat Lab conversation"),
    "newer version": (_broken("version", 2), "format version 2"),
    "tool role": (_broken("messages.1.role", "tool"), "messages[1].role must be one of"),
    "content not text": (_broken("messages.0.content", 42), "messages[0].content must be"),
    "unknown parent": (_broken("messages.1.parent_id", "zz"), "messages[1].parent_id"),
    "repeated id": (_broken("messages.1.id", "u1"), "repeats an earlier"),
    "bad status": (_broken("messages.1.status", "done"), "messages[1].status"),
    "bad temperature": (
        _broken("messages.1.settings.temperature", "hot"),
        "settings.temperature must be a number",
    ),
    "negative tokens": (
        _broken("messages.1.stats.usage.completion_tokens", -1),
        "usage.completion_tokens must be a count",
    ),
    "notice not text": (_broken("messages.1.notices", [1]), "notices must hold only strings"),
    "title too long": (_broken("title", "t" * 201), '"title" must be a string'),
    "huge message": (_broken("messages.0.content", "x" * 1_000_001), "messages[0].content"),
    "leaf elsewhere": (_broken("current_leaf_id", "zz"), "current_leaf_id"),
    "bad date": (_broken("messages.0.created_at", "yesterday"), "created_at must be a date"),
}


@pytest.mark.parametrize("case", INVALID_IMPORTS, ids=list(INVALID_IMPORTS))
def test_invalid_import_is_refused_and_writes_nothing(
    store: Store, engine: sa.Engine, case: str
) -> None:
    document, problem = INVALID_IMPORTS[case]
    chat(store, ALICE, "Already here")

    with pytest.raises(InvalidImport) as raised:
        store.import_json(ALICE, document)

    assert problem in raised.value.message
    assert "Nothing was imported" in raised.value.action
    assert count_rows(engine, "conversations") == 1
    assert count_rows(engine, "messages") == 1


def test_the_valid_import_document_is_accepted(store: Store) -> None:
    conversation_id = store.import_json(ALICE, _valid_document())
    loaded = store.load_messages(ALICE, conversation_id)
    assert loaded is not None
    assert [(m.role, m.content, m.notices) for m in loaded] == [
        ("user", "Hi", ()),
        ("assistant", "Hello", ("note",)),
    ]
    assert loaded[1].stats is not None and loaded[1].stats.usage.estimated is False


# -- many writers ----------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    shared = store.create_conversation(ALICE)
    threads, per_thread = 8, 50
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            own = store.create_conversation(ALICE, title=f"Worker {worker}")
            parent: ChatMessage | None = None
            own_parent: ChatMessage | None = None
            for n in range(per_thread):
                parent = user(f"worker {worker} message {n}", parent)
                store.save_message(ALICE, shared, parent)
                own_parent = user(f"worker {worker} message {n}", own_parent)
                store.save_message(ALICE, own, own_parent)
                store.list_conversations(ALICE, limit=5)  # readers mixed in with writers
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert failures == []
    exported = store.export_json(ALICE, shared)
    assert exported is not None
    contents = [m["content"] for m in exported["messages"]]
    assert len(contents) == threads * per_thread
    for index in range(threads):  # each chain complete and in order
        chain = [c for c in contents if c.startswith(f"worker {index} ")]
        assert chain == [f"worker {index} message {n}" for n in range(per_thread)]
    trees = [store.load_tree(ALICE, s.id) for s in store.list_conversations(ALICE, limit=100)]
    counts = sorted(len(tree.messages) for tree in trees if tree is not None)
    assert counts == [per_thread] * threads + [threads * per_thread]


# -- failures explained ----------------------------------------------------------------


def test_corrupt_sqlite_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "chatlab.db"
    path.write_bytes(b"\x00garbage, not a database\xff" * 400)
    with pytest.raises(StorageError) as raised:
        Store.open(f"sqlite:///{path}")
    assert raised.value.message == (
        f"The chat history file {path} is damaged or is not a Chat Lab database."
    )
    assert "Move it aside" in raised.value.action


def test_unwritable_location_is_explained(tmp_path: Path) -> None:
    # A file where the folder should be: refused even to root, unlike a chmod.
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(StorageError) as raised:
        Store.open(f"sqlite:///{tmp_path / 'data' / 'chatlab.db'}")
    assert "cannot create or write its chat history" in raised.value.message
    assert "CHATLAB_DATA_DIR" in raised.value.action


def test_read_only_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "chatlab.db"
    Store.open(f"sqlite:///{path}").close()
    # Opened read-only the way SQLite does by itself when the file's permissions forbid
    # writing (which a test running as root cannot arrange with chmod).
    with pytest.raises(StorageError, match="cannot create or write"):
        Store.open(f"sqlite:///file:{path}?mode=ro&uri=true")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only folders")
def test_read_only_folder_is_explained(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="cannot create or write"):
            Store.open(f"sqlite:///{tmp_path / 'chatlab.db'}")
    finally:
        tmp_path.chmod(0o700)


def test_unreachable_postgres_is_explained() -> None:
    with pytest.raises(StorageError) as raised:
        Store.open("postgresql+psycopg://someone:secret@127.0.0.1:1/chatlab")
    assert "cannot reach the PostgreSQL server at 127.0.0.1:1/chatlab" in raised.value.message
    assert "secret" not in str(raised.value)


def outcome_within(seconds: float, call: Any) -> object:
    """What ``call()`` returned or raised, run on a thread; ``TimeoutError`` if it was
    still waiting after ``seconds`` (the thread is left to end when what blocks it does)."""
    found: list[object] = []

    def run() -> None:
        try:
            found.append(call())
        except Exception as exc:
            found.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return found[0] if found else TimeoutError(f"still waiting after {seconds} s")


@pytest.mark.postgres
def test_a_postgres_table_locked_by_another_session_fails_a_read_in_time(
    postgres_cluster: PostgresCluster,
    tables_locked: Callable[..., AbstractContextManager[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A short lock timeout keeps the test quick; the store reads it when it connects.
    monkeypatch.setattr(engines, "LOCK_TIMEOUT_MS", 300)
    with postgres_cluster.database() as url, Store.open(url) as store:
        conversation_id, _ = chat(store, ALICE, "Saved before the lock")
        with tables_locked(url, "conversations", "messages"):
            # It waited without limit (a page's run hung until the lock ended).
            outcome = outcome_within(10, lambda: store.list_conversations(ALICE))
        assert isinstance(outcome, StorageError), outcome
        assert "is locked by another program" in outcome.message
        assert outcome.retryable
        assert [c.id for c in store.list_conversations(ALICE)] == [conversation_id]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("no url at all", "not a database URL"),
        ("mysql://u@localhost/chat", "cannot store conversations in mysql"),
        ("sqlite://", "in-memory SQLite"),
    ],
)
def test_unusable_url_is_explained(url: str, words: str) -> None:
    with pytest.raises(StorageError, match=words):
        Store.open(url)


# -- the tree, the current leaf and the version -------------------------------------------


def test_load_tree_holds_every_branch_parents_first(store: Store) -> None:
    conversation_id, (question, first) = chat(store, ALICE, "Pick a colour", "Blue")
    second = reply("Green", question)
    store.save_message(ALICE, conversation_id, second)
    follow_up = user("Why green?", second)
    store.save_message(ALICE, conversation_id, follow_up)

    tree = store.load_tree(ALICE, conversation_id)

    assert tree is not None
    assert tree.messages == [question, first, second, follow_up]
    assert tree.leaf_id == follow_up.id and tree.title == "Pick a colour"
    assert tree.version == 4  # one per saved message
    assert store.load_tree(BOB, conversation_id) is None


def test_set_current_leaf_switches_branch_and_bumps_the_version(store: Store) -> None:
    conversation_id, (question, first) = chat(store, ALICE, "Pick a colour", "Blue")
    second = reply("Green", question)
    store.save_message(ALICE, conversation_id, second)
    before = store.conversation_version(ALICE, conversation_id)
    assert before is not None

    assert store.set_current_leaf(ALICE, conversation_id, first.id) == before + 1
    assert store.load_messages(ALICE, conversation_id) == [question, first]
    assert store.conversation_version(ALICE, conversation_id) == before + 1

    _, (elsewhere,) = chat(store, ALICE, "Other chat")
    with pytest.raises(ValueError):
        store.set_current_leaf(ALICE, conversation_id, elsewhere.id)
    with pytest.raises(ConversationNotFound):
        store.set_current_leaf(BOB, conversation_id, second.id)
    assert store.load_messages(ALICE, conversation_id) == [question, first]


def test_version_counts_changes_to_messages_and_leaf_only(store: Store) -> None:
    conversation_id = store.create_conversation(ALICE)
    assert store.conversation_version(ALICE, conversation_id) == 0
    question = user("Q")
    store.save_message(ALICE, conversation_id, question)
    store.save_message(ALICE, conversation_id, replace(question, status=Status.STOPPED))
    assert store.conversation_version(ALICE, conversation_id) == 2
    store.rename_conversation(ALICE, conversation_id, "Renamed")
    assert store.conversation_version(ALICE, conversation_id) == 2
    store.delete_message(ALICE, conversation_id, question.id)
    assert store.conversation_version(ALICE, conversation_id) == 3
    assert store.conversation_version(BOB, conversation_id) is None
    assert store.conversation_version(ALICE, "no-such-id") is None


def test_two_tabs_writing_at_one_point_make_visible_branches(store: Store) -> None:
    conversation_id, (question, _answer) = chat(store, ALICE, "Q", "A")
    # Another tab, which had not seen ``answer``, writes under the same question.
    other_tab = reply("A from the other tab", question)
    store.save_message(ALICE, conversation_id, other_tab)
    tree = store.load_tree(ALICE, conversation_id)
    assert tree is not None
    assert [m.content for m in tree.messages] == ["Q", "A", "A from the other tab"]
    assert tree.leaf_id == other_tab.id  # the last writer's branch is the one opened
    assert store.load_messages(ALICE, conversation_id) == [question, other_tab]


def test_saving_after_the_conversation_was_deleted_says_so(store: Store) -> None:
    conversation_id, (question,) = chat(store, ALICE, "Q")
    store.delete_conversation(ALICE, conversation_id)
    with pytest.raises(ConversationNotFound):
        store.save_message(ALICE, conversation_id, reply("A", question))
    with pytest.raises(ConversationNotFound):
        store.save_message(ALICE, conversation_id, reply("A", question))


# -- never store what cannot be read back; open whatever is stored ------------------------


def test_unstorable_text_and_telemetry_are_cleaned_on_write(store: Store) -> None:
    question = user("broken \ud800 surrogate")
    wild = replace(STATS, usage=Usage(prompt_tokens=math.inf, completion_tokens=-1))  # type: ignore[arg-type]
    odd_cost = replace(STATS, cost_usd=math.nan)
    conversation_id = store.create_conversation(ALICE)
    store.save_message(ALICE, conversation_id, question)
    first = reply("one", question, stats=wild, notices=("\udfff",))
    store.save_message(ALICE, conversation_id, first)
    second = reply("two", first, stats=odd_cost)
    store.save_message(ALICE, conversation_id, second)

    loaded = store.load_messages(ALICE, conversation_id)

    assert loaded is not None
    assert [m.content for m in loaded] == ["broken \ufffd surrogate", "one", "two"]
    assert loaded[1].stats is None and loaded[1].notices == ("\ufffd",)  # unknown, not wrong
    assert loaded[2].stats == replace(STATS, cost_usd=None)
    assert all(m.status is Status.COMPLETE for m in loaded)
    summary = store.get_conversation(ALICE, conversation_id)
    assert summary is not None and summary.title == "broken \ufffd surrogate"


STATS_JSON = (
    '{"model": "m", "usage": {"prompt_tokens": %s, "completion_tokens": 2},'
    ' "finish_reason": "stop", "time_to_first_token": null, "total_time": 1, "cost_usd": null}'
)
# column -> value written by hand; "sqlite" marks what PostgreSQL's json type would refuse.
BAD_ROWS = {
    "infinite tokens": ("stats", STATS_JSON % "Infinity", "sqlite"),
    "NaN tokens": ("stats", STATS_JSON % "NaN", "sqlite"),
    "huge tokens": ("stats", STATS_JSON % ("9" * 40), ""),
    "overflowing tokens": ("stats", STATS_JSON % "1e400", ""),
    "negative tokens": ("stats", STATS_JSON % "-5", ""),
    "string tokens": ("stats", STATS_JSON % '"12"', ""),
    "settings a list": ("settings", "[1, 2]", ""),
    "settings not JSON": ("settings", "{broken", "sqlite"),
    "notices a string": ("notices", '"not a list"', ""),
    "unknown status": ("status", "exploded", ""),
    "unknown role": ("role", "tool", ""),
}


@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_one_bad_row_does_not_stop_the_conversation_opening(
    store: Store, engine: sa.Engine, database_url: str, case: str
) -> None:
    column, value, only = BAD_ROWS[case]
    if only and not database_url.startswith(only):
        pytest.skip(f"{only} only")
    conversation_id, (question, answer, again) = chat(store, ALICE, "Q", "The answer", "Q2")
    cast = "CAST(:value AS json)" if column in ("settings", "stats", "notices") else ":value"
    if database_url.startswith("sqlite"):
        cast = ":value"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE messages SET {column} = {cast} WHERE id = :id"),
            {"value": value, "id": answer.id},
        )

    loaded = store.load_messages(ALICE, conversation_id)
    tree = store.load_tree(ALICE, conversation_id)

    assert loaded is not None and tree is not None
    assert loaded[0] == question and loaded[2] == again
    bad = loaded[1]
    assert (bad.id, bad.content, bad.status) == (answer.id, "The answer", Status.FAILED)
    assert bad.notices[-1].startswith("Part of this message could not be read (")
    assert tree.messages == loaded
    exported = store.export_json(ALICE, conversation_id)
    text = json.dumps(exported, allow_nan=False)  # valid JSON: no Infinity, no NaN
    copied = store.load_messages(BOB, store.import_json(BOB, text))
    assert copied is not None and [m.content for m in copied] == ["Q", "The answer", "Q2"]
    markdown = exported_markdown(store, ALICE, conversation_id)
    assert markdown is not None and "The answer" in markdown


# -- search and wording -------------------------------------------------------------------


def test_search_ignores_case_in_every_script(store: Store) -> None:
    apples, _ = chat(store, ALICE, "Ich mag ÄPFEL sehr")
    greek = store.create_conversation(ALICE, title="ΣΟΦΙΑ notes")
    chat(store, ALICE, "Birnen")

    assert [c.id for c in store.list_conversations(ALICE, search="äpfel")] == [apples]
    assert [c.id for c in store.list_conversations(ALICE, search="Äpfel")] == [apples]
    assert [c.id for c in store.list_conversations(ALICE, search="σοφια")] == [greek]


def test_a_very_long_search_looks_at_its_start(store: Store) -> None:
    long_text, _ = chat(store, ALICE, "x" * 300)
    chat(store, ALICE, "y" * 300)

    found = store.list_conversations(ALICE, search="x" * 60_000)

    assert [c.id for c in found] == [long_text]
    assert store.list_conversations(ALICE, search="z" * 60_000) == []


def test_an_import_dated_year_1_says_what_is_wrong(store: Store, engine: sa.Engine) -> None:
    document = _valid_document()
    document["created_at"] = "0001-01-01T00:00:00+05:00"
    with pytest.raises(InvalidImport) as raised:
        store.import_json(ALICE, document)
    assert "created_at must be a date and time between" in raised.value.message
    assert "move" not in str(raised.value).lower()
    assert count_rows(engine, "conversations") == 0


def test_storage_errors_are_chat_lab_errors() -> None:
    assert issubclass(StorageError, ChatLabError)
    err = StorageError("It broke.", "Do this.")
    assert str(err) == "It broke. Do this." and err.retryable


def test_bytes_that_are_not_utf8_read_as_replacement_characters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatlab.db'}"
    with Store.open(url) as store:
        conversation_id, (_, answer) = chat(store, ALICE, "Q", "A")
        # Another program wrote Latin-1 bytes into the text column.
        with sa.create_engine(url).begin() as conn:
            conn.exec_driver_sql(
                "UPDATE messages SET content = CAST(X'43616ff6' AS TEXT) WHERE id = ?",
                (answer.id,),
            )
        loaded = store.load_messages(ALICE, conversation_id)
    assert loaded is not None and [m.content for m in loaded] == ["Q", "Cao\ufffd"]


# -- a reply's request ---------------------------------------------------------------------

# Keys out of alphabetical order on purpose: the body is kept as it was sent.
REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": 'Quotes " \' """, a \\ backslash, 한국어, 👩‍👩‍👧\nand a line'},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.3,
    "max_tokens": 256,
}


def test_a_reply_keeps_the_exact_request_it_came_from(database_url: str) -> None:
    question = user("Hi")
    answer = reply("Hello", question, request=REQUEST)
    with Store.open(database_url) as store:
        conversation_id = store.create_conversation(ALICE)
        store.save_message(ALICE, conversation_id, question)
        store.save_message(ALICE, conversation_id, answer)

    with Store.open(database_url) as reopened:
        loaded = reopened.load_messages(ALICE, conversation_id)
        stored = reopened.load_request(ALICE, conversation_id, answer.id)
        assert reopened.load_request(BOB, conversation_id, answer.id) is None  # not Bob's

    # Opening a conversation leaves requests out (they grow with its square); asked, one is read.
    assert loaded is not None and [m.request for m in loaded] == [None, None]
    assert [m.content for m in loaded] == ["Hi", "Hello"]
    assert stored == REQUEST and list(stored) == list(REQUEST)  # same keys, same order
    assert json.dumps(stored, ensure_ascii=False) == json.dumps(REQUEST, ensure_ascii=False)


def test_a_continued_reply_keeps_its_latest_request(store: Store) -> None:
    conversation_id, (_, answer) = chat(store, ALICE, "Hi", "Hel")
    answer.request = REQUEST
    store.save_message(ALICE, conversation_id, answer)
    later = {**REQUEST, "messages": [*REQUEST["messages"], {"role": "user", "content": "Go on"}]}
    answer.content, answer.request = "Hello", later
    store.save_message(ALICE, conversation_id, answer)

    assert store.load_request(ALICE, conversation_id, answer.id) == later
    # A save without the request (a message loaded lazily) keeps the stored one.
    answer.request = None
    store.save_message(ALICE, conversation_id, answer)
    assert store.load_request(ALICE, conversation_id, answer.id) == later


def test_a_request_that_cannot_be_stored_is_cleaned_or_left_out(store: Store) -> None:
    conversation_id, (question,) = chat(store, ALICE, "Hi")
    surrogate = reply("A", question, request={**REQUEST, "messages": [{"content": "x\ud800y"}]})
    not_finite = reply("B", question, request={**REQUEST, "temperature": math.inf})
    huge = reply("C", question, request={**REQUEST, "pad": ["x" * 900_000] * 5})
    for message in (surrogate, not_finite, huge):
        store.save_message(ALICE, conversation_id, message)

    tree = store.load_tree(ALICE, conversation_id)

    assert tree is not None
    requests = {m.content: store.load_request(ALICE, conversation_id, m.id) for m in tree.messages}
    assert requests["A"] is not None and requests["A"]["messages"] == [{"content": "x\ufffdy"}]
    assert requests["B"] is None and requests["C"] is None
    assert {m.content: m.status for m in tree.messages}["A"] == Status.COMPLETE


def test_the_request_travels_in_the_json_export(store: Store) -> None:
    conversation_id, (question,) = chat(store, ALICE, "Hi")
    store.save_message(ALICE, conversation_id, reply("Hello", question, request=REQUEST))
    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None and exported["messages"][1]["request"] == REQUEST

    copy_id = store.import_json(BOB, json.dumps(exported))
    copied = store.load_messages(BOB, copy_id)

    assert copied is not None
    assert [store.load_request(BOB, copy_id, m.id) for m in copied] == [None, REQUEST]


def test_exports_from_before_requests_were_kept_still_import(store: Store) -> None:
    document = _valid_document()
    assert all("request" not in message for message in document["messages"])

    imported = store.import_json(ALICE, document)
    loaded = store.load_messages(ALICE, imported)

    assert loaded is not None
    assert [store.load_request(ALICE, imported, m.id) for m in loaded] == [None, None]


def _nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = [value]
    return value


INVALID_REQUESTS = {
    "not an object": (["model", "m"], "messages[1].request must be a JSON object"),
    "not finite": (
        '{"model": "m", "temperature": NaN}',
        "messages[1].request must hold only finite numbers",
    ),
    "a lone surrogate": ('{"model": "m\\ud800"}', "messages[1].request must hold only strings"),
    "too deep": ({"messages": _nested(40)}, "messages[1].request nests deeper than 32"),
    "too large": ({"pad": ["x" * 900_000] * 5}, "messages[1].request must be at most 4,000,000"),
}


@pytest.mark.parametrize("case", INVALID_REQUESTS, ids=list(INVALID_REQUESTS))
def test_an_import_with_a_bad_request_is_refused_and_writes_nothing(
    store: Store, engine: sa.Engine, case: str
) -> None:
    request, problem = INVALID_REQUESTS[case]
    document = _valid_document()
    if isinstance(request, str):  # only the file's text can hold these
        text = json.dumps(document)
        marker = '"notices": ["note"]'
        data: object = text.replace(marker, f'{marker}, "request": {request}')
    else:
        document["messages"][1]["request"] = request
        data = document

    with pytest.raises(InvalidImport) as raised:
        store.import_json(ALICE, data)

    assert problem in raised.value.message
    assert count_rows(engine, "messages") == 0


def test_a_damaged_stored_request_still_opens_the_conversation(
    store: Store, engine: sa.Engine
) -> None:
    conversation_id, (question, answer) = chat(store, ALICE, "Q", "The answer")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE messages SET request = CAST(:value AS json) WHERE id = :id"),
            {"value": "[1, 2]", "id": answer.id},
        )

    loaded = store.load_messages(ALICE, conversation_id)

    # The conversation opens whole (requests are read only when asked for) ...
    assert loaded is not None and loaded == [question, answer]
    # ... and the damaged request reads as none kept, never as an error.
    assert store.load_request(ALICE, conversation_id, answer.id) is None
    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None and exported["messages"][1]["status"] == Status.FAILED
    assert "request must be a JSON object" in exported["messages"][1]["notices"][-1]


def test_a_long_conversation_exports_the_newest_requests_that_an_import_takes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REQUEST holds 5 objects and lists; room for two of them, not three.
    monkeypatch.setattr(transfer, "MAX_REQUEST_CONTAINERS", 12)
    conversation_id, (question,) = chat(store, ALICE, "Hi")
    parent = question
    for text in ("one", "two", "three"):
        answer = reply(text, parent, request={**REQUEST, "n": text})
        store.save_message(ALICE, conversation_id, answer)
        parent = user(f"after {text}", answer)
        store.save_message(ALICE, conversation_id, parent)

    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None
    kept = [
        m["request"] and m["request"]["n"] for m in exported["messages"] if m["role"] == "assistant"
    ]
    assert kept == [None, "two", "three"]

    copy_id = store.import_json(BOB, json.dumps(exported))
    copied = store.load_messages(BOB, copy_id)

    assert copied is not None
    requests = [store.load_request(BOB, copy_id, m.id) for m in copied if m.role == "assistant"]
    assert [r and r["n"] for r in requests] == kept


def test_thinking_is_stored_exported_and_imported_with_its_reply(store: Store) -> None:
    conversation_id, (question,) = chat(store, ALICE, "Why?")
    stats = replace(STATS, reasoning_tokens=12)
    answer = reply("Because.", question, reasoning="Let me see\ud800.", stats=stats)
    store.save_message(ALICE, conversation_id, answer)
    loaded = store.load_messages(ALICE, conversation_id)
    assert loaded is not None
    assert loaded[1].reasoning == "Let me see\ufffd."  # nothing stored that reads back wrong
    assert loaded[1].stats is not None and loaded[1].stats.reasoning_tokens == 12

    exported = store.export_json(ALICE, conversation_id)
    assert exported is not None and exported["messages"][1]["reasoning"] == "Let me see\ufffd."
    copied = store.load_messages(BOB, store.import_json(BOB, json.dumps(exported)))
    assert copied is not None and [m.reasoning for m in copied] == ["", "Let me see\ufffd."]
