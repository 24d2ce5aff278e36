"""Evaluation test sets in the database: saved by name per owner, listed, reopened (checked
as an upload is), replaced, deleted; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

from chatlab.storage import (
    MAX_TEST_SET_NAME,
    InvalidTestSet,
    StorageError,
    Store,
    TestSetSummary,
)
from chatlab.testset import MAX_CELL, MAX_ROWS, TestSet, from_dicts, parse_csv

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
GREETINGS = from_dicts(
    [
        {"text": "good morning", "expected": "bonjour"},
        {"text": "thank you\nvery much", "expected": "merci beaucoup"},
        {"text": "naïve café — 東京", "expected": ""},
    ]
)
NUMBERS = from_dicts([{"n": 1}, {"n": 2.5}])


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def set_document(database_url: str, owner: str, name: str, raw: str) -> None:
    """Write a test set's stored document behind the store's back (edited by hand)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                sa.text("UPDATE test_sets SET tests = :raw WHERE owner = :owner AND name = :name"),
                {"raw": raw, "owner": owner, "name": name},
            ).rowcount
    finally:
        engine.dispose()
    assert changed == 1


def test_a_saved_test_set_reopens_whole(store: Store) -> None:
    store.save_test_set(ALICE, "Greetings", GREETINGS)
    loaded = store.load_test_set(ALICE, "Greetings")
    assert loaded == GREETINGS
    assert loaded.columns == ("text", "expected")
    assert loaded.dicts()[1] == {"text": "thank you\nvery much", "expected": "merci beaucoup"}
    assert store.load_test_set(ALICE, "Greetings") is not GREETINGS  # read, not cached
    assert store.load_test_set(ALICE, "Nothing by that name") is None


def test_an_uploaded_file_round_trips_and_the_default_empty_row_too(store: Store) -> None:
    uploaded = parse_csv("q,a\n=1+1,2\n'quoted',\"x, y\"\n")
    store.save_test_set(ALICE, "From a file", uploaded)
    store.save_test_set(ALICE, "Default", TestSet())
    assert store.load_test_set(ALICE, "From a file") == uploaded
    assert store.load_test_set(ALICE, "Default") == TestSet()


def test_the_list_says_name_rows_columns_and_when(store: Store) -> None:
    store.save_test_set(ALICE, "Greetings", GREETINGS)
    (summary,) = store.list_test_sets(ALICE)
    assert isinstance(summary, TestSetSummary)
    assert (summary.name, summary.row_count, summary.columns) == (
        "Greetings",
        3,
        ("text", "expected"),
    )
    assert summary.updated_at.tzinfo == UTC


def test_the_list_is_newest_first_and_a_save_moves_a_set_to_the_top(store: Store) -> None:
    for name in ("first", "second", "third"):
        store.save_test_set(ALICE, name, NUMBERS)
    assert [s.name for s in store.list_test_sets(ALICE)] == ["third", "second", "first"]
    store.save_test_set(ALICE, "first", GREETINGS)
    listed = store.list_test_sets(ALICE)
    assert [s.name for s in listed] == ["first", "third", "second"]
    assert listed[0].updated_at > listed[1].updated_at > listed[2].updated_at


def test_saving_under_a_name_that_exists_replaces_its_rows(store: Store) -> None:
    store.save_test_set(ALICE, "Greetings", GREETINGS)
    store.save_test_set(ALICE, "  Greetings \n", NUMBERS)  # the same name, once tidied
    assert store.load_test_set(ALICE, "Greetings") == NUMBERS
    assert [(s.name, s.row_count, s.columns) for s in store.list_test_sets(ALICE)] == [
        ("Greetings", 2, ("n",))
    ]
    assert store.load_test_set(ALICE, "greetings") is None  # names keep their case


def test_names_are_tidied_once_for_every_call(store: Store) -> None:
    store.save_test_set(ALICE, "  French   greetings ", GREETINGS)
    assert [s.name for s in store.list_test_sets(ALICE)] == ["French greetings"]
    assert store.load_test_set(ALICE, "French\tgreetings") == GREETINGS
    assert store.delete_test_set(ALICE, " French greetings")
    assert store.list_test_sets(ALICE) == []


def test_test_sets_belong_to_their_owner(store: Store) -> None:
    store.save_test_set(ALICE, "Greetings", GREETINGS)
    assert store.list_test_sets(BOB) == []
    assert store.load_test_set(BOB, "Greetings") is None
    assert not store.delete_test_set(BOB, "Greetings")
    store.save_test_set(BOB, "Greetings", NUMBERS)  # the same name: his own set
    assert store.load_test_set(BOB, "Greetings") == NUMBERS
    assert store.load_test_set(ALICE, "Greetings") == GREETINGS
    assert store.delete_test_set(BOB, "Greetings")
    assert store.load_test_set(ALICE, "Greetings") == GREETINGS
    assert [s.row_count for s in store.list_test_sets(ALICE)] == [3]


def test_delete_removes_one_set(store: Store) -> None:
    store.save_test_set(ALICE, "Greetings", GREETINGS)
    store.save_test_set(ALICE, "Numbers", NUMBERS)
    assert store.delete_test_set(ALICE, "Greetings")
    assert not store.delete_test_set(ALICE, "Greetings")
    assert store.load_test_set(ALICE, "Greetings") is None
    assert [s.name for s in store.list_test_sets(ALICE)] == ["Numbers"]


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("", "needs a name"),
        (" \n\t ", "needs a name"),
        ("x" * (MAX_TEST_SET_NAME + 1), f"at most {MAX_TEST_SET_NAME} characters"),
        ("nul\x00here", "control characters"),  # PostgreSQL's text cannot hold it
        ("bell\x07", "control characters"),
    ],
)
def test_a_blank_or_long_name_is_refused_and_nothing_is_written(
    store: Store, name: str, said: str
) -> None:
    for call in (
        lambda: store.save_test_set(ALICE, name, GREETINGS),
        lambda: store.load_test_set(ALICE, name),
        lambda: store.delete_test_set(ALICE, name),
    ):
        with pytest.raises(InvalidTestSet, match=said) as raised:
            call()
        assert isinstance(raised.value, StorageError) and not raised.value.retryable
        assert raised.value.action
    assert store.list_test_sets(ALICE) == []


def test_a_name_of_the_longest_length_is_kept(store: Store) -> None:
    name = "é" * MAX_TEST_SET_NAME
    store.save_test_set(ALICE, name, NUMBERS)
    assert [s.name for s in store.list_test_sets(ALICE)] == [name]
    assert store.load_test_set(ALICE, name) == NUMBERS


@pytest.mark.parametrize(
    ("tests", "said"),
    [
        (TestSet(("a",), ()), "no rows"),
        (TestSet(("a",), (("x",),) * (MAX_ROWS + 1)), f"at most {MAX_ROWS}"),
        (TestSet(("a",), (("x" * (MAX_CELL + 1),),)), "row 1, column 'a'"),
        (TestSet(("not a name",), (("x",),)), "not a variable name"),
        (TestSet(("a", "a"), (("x", "y"),)), "column 'a' twice"),
    ],
)
def test_a_set_that_could_not_be_read_back_is_not_saved(
    store: Store, tests: TestSet, said: str
) -> None:
    store.save_test_set(ALICE, "Kept", NUMBERS)
    with pytest.raises(InvalidTestSet, match=said):
        store.save_test_set(ALICE, "Kept", tests)
    assert store.load_test_set(ALICE, "Kept") == NUMBERS


def test_text_no_encoding_can_store_is_saved_as_the_replacement_character(store: Store) -> None:
    store.save_test_set(ALICE, "Odd \ud800", TestSet(("a",), (("bad \udfff here",),)))
    assert [s.name for s in store.list_test_sets(ALICE)] == ["Odd \ufffd"]
    assert store.load_test_set(ALICE, "Odd \ud800") == TestSet(("a",), (("bad \ufffd here",),))


def _rows(*rows: object) -> str:
    return json.dumps({"format": "chatlab.test_set", "version": 1, "rows": list(rows)})


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (json.dumps({"rows": [{"a": "x"}]}), "is not a Chat Lab test set"),
        (json.dumps([1, 2]), "is not a Chat Lab test set"),
        (
            json.dumps({"format": "chatlab.test_set", "version": 9, "rows": [{"a": "x"}]}),
            "version 9",
        ),
        (_rows(), "has no rows"),
        (json.dumps({"format": "chatlab.test_set", "version": 1, "rows": {"a": 1}}), "no rows"),
        (_rows({"a": "x"}, {"a": None}), "row 2, column 'a' holds null"),
        (_rows({"a": "x"}, {"b": "y"}), "row 1 has no 'b'"),
        (_rows({"a": "x"}, ["y"]), "row 2 is not a set of named values"),
        (_rows({"1a": "x"}), "column '1a' is not a variable name"),
        (_rows({"a": "x" * (MAX_CELL + 1)}), "row 1, column 'a' is 20,001 characters"),
        (_rows(*[{"a": "x"}] * (MAX_ROWS + 1)), f"at most {MAX_ROWS}"),
    ],
    ids=[
        "no format",
        "a list",
        "a later version",
        "no rows",
        "rows not a list",
        "a null",
        "a missing column",
        "a row not an object",
        "a bad column name",
        "a long value",
        "too many rows",
    ],
)
def test_a_stored_document_that_does_not_check_opens_as_a_clear_error(
    store: Store, database_url: str, raw: str, said: str
) -> None:
    store.save_test_set(ALICE, "Damaged", GREETINGS)
    store.save_test_set(ALICE, "Fine", NUMBERS)
    set_document(database_url, ALICE, "Damaged", raw)
    with pytest.raises(InvalidTestSet, match=said) as raised:
        store.load_test_set(ALICE, "Damaged")
    assert "The stored test set 'Damaged'" in raised.value.message
    assert "delete it" in raised.value.action.lower()
    # The rest still works, and the damaged set can be listed, replaced and deleted.
    assert store.load_test_set(ALICE, "Fine") == NUMBERS
    assert {s.name for s in store.list_test_sets(ALICE)} == {"Damaged", "Fine"}
    store.save_test_set(ALICE, "Damaged", NUMBERS)
    assert store.load_test_set(ALICE, "Damaged") == NUMBERS
    assert store.delete_test_set(ALICE, "Damaged")


def test_a_stored_document_that_is_not_json_opens_as_a_clear_error(tmp_path: Path) -> None:
    # PostgreSQL's json type refuses such text; a SQLite file edited by hand can hold it.
    url = f"sqlite:///{tmp_path / 'chatlab.db'}"
    with Store.open(url) as store:
        store.save_test_set(ALICE, "Damaged", GREETINGS)
        set_document(url, ALICE, "Damaged", '{"format": "chatlab.test_set", "rows": [')
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE test_sets SET column_names = 'not json'"))
        engine.dispose()
        with pytest.raises(InvalidTestSet, match="is not a Chat Lab test set"):
            store.load_test_set(ALICE, "Damaged")
        assert [(s.name, s.columns) for s in store.list_test_sets(ALICE)] == [("Damaged", ())]
