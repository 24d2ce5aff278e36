"""Arena votes in the database: stored per owner as their JSON documents, changed by
saving under the same id, listed by date range, withdrawn; read back as votes by
``chatlab.arena``; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from chatlab.arena import Contestant, Turn, Verdict, Vote, vote_from, vote_json
from chatlab.storage import MAX_VOTE_ID, InvalidVote, Store, StoredVote

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def a_vote(vote_id: str, day: int = 0, verdict: Verdict = Verdict.A) -> Vote:
    return Vote(
        id=vote_id,
        a=Contestant("gpt-4o-mini", (("temperature", 0.7),)),
        b=Contestant("qwen2.5:7b", (("temperature", 0.2),)),
        verdict=verdict,
        at=START + timedelta(days=day),
        turns=(Turn("Bonjour ?", "Salut !", "naïve café — 東京"),),
        conversation="session-1",
    )


def save(store: Store, owner: str, vote: Vote) -> None:
    store.save_vote(owner, vote.id, vote.at, vote_json(vote))


def read(store: Store, owner: str, **window: datetime) -> list[Vote]:
    found = store.list_votes(owner, **window)
    assert all(stored.document is not None for stored in found)
    return [vote_from(stored.document) for stored in found]


def test_a_vote_reads_back_as_it_was_saved(store: Store) -> None:
    vote = a_vote("v1")
    save(store, ALICE, vote)
    (stored,) = store.list_votes(ALICE)
    assert stored.id == "v1" and stored.cast_at == START
    assert stored.document == vote_json(vote)
    assert read(store, ALICE) == [vote]


def test_saving_under_the_same_id_changes_the_vote(store: Store) -> None:
    save(store, ALICE, a_vote("v1"))
    save(store, ALICE, a_vote("v1", verdict=Verdict.BOTH_BAD))
    assert [vote.verdict for vote in read(store, ALICE)] == [Verdict.BOTH_BAD]


def test_votes_list_oldest_first_within_a_date_range(store: Store) -> None:
    for days, vote_id in ((2, "late"), (0, "early"), (1, "middle")):
        save(store, ALICE, a_vote(vote_id, days))
    assert [v.id for v in read(store, ALICE)] == ["early", "middle", "late"]
    day = timedelta(days=1)
    assert [v.id for v in read(store, ALICE, since=START + day)] == ["middle", "late"]
    assert [v.id for v in read(store, ALICE, until=START + day)] == ["early"]
    window = {"since": START + day, "until": START + 2 * day}
    assert [v.id for v in read(store, ALICE, **window)] == ["middle"]
    elsewhere = (START + day).astimezone(timezone(timedelta(hours=5)))  # the same moment
    assert [v.id for v in read(store, ALICE, since=elsewhere)] == ["middle", "late"]


def test_a_vote_is_withdrawn_and_owners_are_kept_apart(store: Store) -> None:
    save(store, ALICE, a_vote("v1"))
    save(store, BOB, a_vote("v1", verdict=Verdict.B))  # the same id, another owner
    assert store.list_votes("carol") == []
    assert not store.delete_vote("carol", "v1")
    assert store.delete_vote(ALICE, "v1")
    assert not store.delete_vote(ALICE, "v1")
    assert store.list_votes(ALICE) == []
    assert [v.verdict for v in read(store, BOB)] == [Verdict.B]


@pytest.mark.parametrize(
    ("vote_id", "cast_at", "document"),
    [
        ("", START, {}),
        ("x" * (MAX_VOTE_ID + 1), START, {}),
        ("two\nlines", START, {}),
        ("v1", datetime(2026, 12, 1, 9, 0), {}),  # no time zone
        ("v1", START, {"score": float("nan")}),
        ("v1", START, {"when": START}),  # not JSON data
    ],
)
def test_a_bad_vote_is_refused_and_nothing_is_written(
    store: Store, vote_id: str, cast_at: datetime, document: dict[str, object]
) -> None:
    with pytest.raises(InvalidVote):
        store.save_vote(ALICE, vote_id, cast_at, document)
    assert store.list_votes(ALICE) == []


def test_lone_surrogates_are_stored_as_replacement_characters(store: Store) -> None:
    store.save_vote(ALICE, "v1", START, {"reply": "half \ud83d of a pair"})
    assert store.list_votes(ALICE)[0].document == {"reply": "half \ufffd of a pair"}


def test_a_document_damaged_by_hand_reads_as_none_and_hides_no_other(
    store: Store, database_url: str
) -> None:
    save(store, ALICE, a_vote("good"))
    save(store, ALICE, a_vote("bad", day=1))
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE votes SET vote = '[1, 2]' WHERE id = 'bad'"))
    finally:
        engine.dispose()
    found = store.list_votes(ALICE)
    assert [(v.id, v.document is None) for v in found] == [("good", False), ("bad", True)]
    assert found[1] == StoredVote("bad", START + timedelta(days=1), None)
