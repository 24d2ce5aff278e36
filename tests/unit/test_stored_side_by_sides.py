"""Side-by-side sessions in the database: stored per owner as their JSON documents, saved
again as they grow, listed newest change first, opened, deleted; read back as sessions by
``chatlab.arena``; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from chatlab.arena import (
    Answer,
    SideBySide,
    Verdict,
    new_session,
    session_from,
    session_json,
    with_answer,
    with_prompt,
    with_vote,
)
from chatlab.messages import ChatSettings, Status
from chatlab.storage import (
    MAX_SIDE_BY_SIDE_CHARS,
    MAX_SIDE_BY_SIDE_ID,
    InvalidSideBySide,
    SideBySideSummary,
    StorageError,
    Store,
)

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def a_session(session_id: str, prompt: str = "Bonjour ?", minutes: int = 0) -> SideBySide:
    """A blind two-column session with one answered turn, last changed ``minutes`` in."""
    columns = [ChatSettings(model="gpt-4o-mini"), ChatSettings(model="qwen2.5:7b")]
    at = START + timedelta(minutes=minutes)
    session = new_session(columns, blind=True, at=START)
    session = with_prompt(session, prompt, at=at)
    session = with_answer(session, 0, 0, Answer("Salut !", Status.COMPLETE), at=at)
    session = with_answer(session, 1, 0, Answer("naïve café — 東京", Status.COMPLETE), at=at)
    return replace(session, id=session_id)


def save(store: Store, owner: str, session: SideBySide) -> None:
    store.save_side_by_side(
        owner,
        session.id,
        session.title,
        session.created_at,
        session.updated_at,
        session_json(session),
    )


def test_a_session_reads_back_as_it_was_saved(store: Store) -> None:
    session = a_session("s1")
    save(store, ALICE, session)
    assert store.list_side_by_sides(ALICE) == [
        SideBySideSummary("s1", "Bonjour ?", session.updated_at)
    ]
    document = store.load_side_by_side(ALICE, "s1")
    assert document == session_json(session)
    assert session_from(document) == session


def test_saving_under_the_same_id_replaces_the_session(store: Store) -> None:
    session = a_session("s1")
    save(store, ALICE, session)
    voted = with_vote(session, Verdict.B, "vote-1", at=START + timedelta(hours=1))
    save(store, ALICE, voted)
    assert session_from(store.load_side_by_side(ALICE, "s1")) == voted
    (listed,) = store.list_side_by_sides(ALICE)
    assert listed.updated_at == START + timedelta(hours=1)


def test_sessions_list_newest_change_first_up_to_the_limit(store: Store) -> None:
    for minutes, session_id in ((2, "late"), (0, "early"), (1, "middle")):
        save(store, ALICE, a_session(session_id, f"Question {session_id}", minutes))
    listed = store.list_side_by_sides(ALICE)
    assert [(s.id, s.title) for s in listed] == [
        ("late", "Question late"),
        ("middle", "Question middle"),
        ("early", "Question early"),
    ]
    assert [s.id for s in store.list_side_by_sides(ALICE, limit=2)] == ["late", "middle"]
    assert store.list_side_by_sides(ALICE, limit=0) == []


def test_the_title_is_kept_as_one_line_and_never_empty(store: Store) -> None:
    session = a_session("s1")
    document = session_json(session)
    store.save_side_by_side(ALICE, "s1", "  two\nlines  ", START, START, document)
    store.save_side_by_side(ALICE, "s2", "   ", START, START, document)
    titles = {s.id: s.title for s in store.list_side_by_sides(ALICE)}
    assert titles["s1"] == "two lines"
    assert titles["s2"].strip()


def test_times_are_kept_as_utc(store: Store) -> None:
    elsewhere = START.astimezone(timezone(timedelta(hours=5)))  # the same moment
    store.save_side_by_side(ALICE, "s1", "T", elsewhere, elsewhere, {"a": 1})
    (listed,) = store.list_side_by_sides(ALICE)
    assert listed.updated_at == START and listed.updated_at.utcoffset() == timedelta(0)


def test_owners_never_see_each_others_sessions(store: Store) -> None:
    save(store, ALICE, a_session("s1", "Alice asks"))
    save(store, BOB, a_session("s1", "Bob asks"))  # the same id, another owner
    assert store.list_side_by_sides("carol") == []
    assert store.load_side_by_side("carol", "s1") is None
    assert not store.delete_side_by_side("carol", "s1")
    assert [s.title for s in store.list_side_by_sides(BOB)] == ["Bob asks"]
    assert store.delete_side_by_side(ALICE, "s1")
    assert not store.delete_side_by_side(ALICE, "s1")
    assert store.load_side_by_side(ALICE, "s1") is None
    assert store.list_side_by_sides(ALICE) == []
    assert session_from(store.load_side_by_side(BOB, "s1")).prompts == ("Bob asks",)


@pytest.mark.parametrize(
    ("session_id", "created_at", "updated_at", "document"),
    [
        ("", START, START, {}),
        ("   ", START, START, {}),
        ("x" * (MAX_SIDE_BY_SIDE_ID + 1), START, START, {}),
        ("two\nlines", START, START, {}),
        ("half \ud83d", START, START, {}),
        ("s1", datetime(2026, 12, 1, 9, 0), START, {}),  # no time zone
        ("s1", START, datetime(2026, 12, 1, 9, 0), {}),
        ("s1", START, START, {"score": float("nan")}),
        ("s1", START, START, {"when": START}),  # not JSON data
        ("s1", START, START, [1, 2]),  # not an object
    ],
)
def test_a_bad_session_is_refused_and_nothing_is_written(
    store: Store,
    session_id: str,
    created_at: datetime,
    updated_at: datetime,
    document: dict[str, object],
) -> None:
    with pytest.raises(InvalidSideBySide) as raised:
        store.save_side_by_side(ALICE, session_id, "T", created_at, updated_at, document)
    assert raised.value.message.startswith("The side-by-side session cannot be stored: ")
    assert raised.value.action
    assert store.list_side_by_sides(ALICE) == []


def test_a_session_over_the_size_limit_is_refused(store: Store) -> None:
    huge = {"text": "x" * MAX_SIDE_BY_SIDE_CHARS}
    with pytest.raises(InvalidSideBySide, match="over 20,000,000 characters"):
        store.save_side_by_side(ALICE, "s1", "T", START, START, huge)
    assert store.list_side_by_sides(ALICE) == []


def test_lone_surrogates_are_stored_as_replacement_characters(store: Store) -> None:
    store.save_side_by_side(ALICE, "s1", "half \ud83d", START, START, {"t": "half \ud83d"})
    assert store.load_side_by_side(ALICE, "s1") == {"t": "half \ufffd"}
    assert store.list_side_by_sides(ALICE)[0].title == "half \ufffd"


def test_a_document_damaged_by_hand_is_refused_in_words_and_hides_no_other(
    store: Store, database_url: str
) -> None:
    save(store, ALICE, a_session("good"))
    save(store, ALICE, a_session("bad", minutes=1))
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE side_by_sides SET session = '[1, 2]' WHERE id = 'bad'"))
    finally:
        engine.dispose()
    assert [s.id for s in store.list_side_by_sides(ALICE)] == ["bad", "good"]
    with pytest.raises(InvalidSideBySide) as raised:
        store.load_side_by_side(ALICE, "bad")
    assert isinstance(raised.value, StorageError) and "not a JSON object" in raised.value.message
    assert store.load_side_by_side(ALICE, "good") is not None
    assert store.delete_side_by_side(ALICE, "bad")
    assert [s.id for s in store.list_side_by_sides(ALICE)] == ["good"]
