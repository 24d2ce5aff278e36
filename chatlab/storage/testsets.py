"""An owner's evaluation test sets (``chatlab.testset.TestSet``) as rows: one name per owner.

A test set is written and read whole, as one JSON document (``document``): its rows as
objects, one per row, as a JSONL file holds them. Nothing in it is ever queried into. The
row count and the column names are kept beside it, so listing the sets reads no rows.

The database is trusted no more than an upload: what is read back goes through
``chatlab.testset.from_dicts``, the check a JSONL file passes (identifier columns, a value
for every column, ``MAX_ROWS`` rows, ``MAX_CELL`` characters a value), and a document that
fails it raises ``InvalidTestSet`` naming the row and column, never a traceback. What is
saved passes the same check first: never store what cannot be read back. A set needs at
least one row, as an uploaded file does.

Names are one line (whitespace runs become one space, ends stripped), valid Unicode, not
blank, without control characters (PostgreSQL's text cannot hold NUL), at most
``MAX_TEST_SET_NAME`` characters; every call takes a name through the same rule, so
``" Greetings "`` finds ``"Greetings"``. Another owner's sets behave as if they did not
exist: every query names its owner.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.messages import new_id
from chatlab.storage.engine import upsert_into
from chatlab.storage.errors import InvalidTestSet
from chatlab.storage.schema import test_sets
from chatlab.testset import TestSet, TestSetError, from_dicts
from chatlab.transfer import clean_text

__all__ = [
    "MAX_TEST_SET_NAME",
    "TEST_SET_FORMAT",
    "TestSetSummary",
    "checked",
    "delete",
    "document",
    "load",
    "save",
    "summaries",
    "test_set_from",
    "test_set_name",
]

MAX_TEST_SET_NAME = 100  # characters
TEST_SET_FORMAT = "chatlab.test_set"
TEST_SET_VERSION = 1


@dataclass(frozen=True)
class TestSetSummary:
    """One row of the list of an owner's stored test sets."""

    __test__ = False  # not a pytest class

    name: str
    row_count: int
    columns: tuple[str, ...]
    updated_at: datetime


def test_set_name(text: str) -> str:
    """A name fit to store and look up; ``InvalidTestSet`` if blank, too long or holding a
    control character."""
    name = clean_text(" ".join(text.split()))
    if not name:
        raise InvalidTestSet("A test set needs a name.", "Type a name for it.", retryable=False)
    if any(unicodedata.category(char) == "Cc" for char in name):
        # PostgreSQL's text cannot hold NUL at all, and no control character reads as a name.
        raise InvalidTestSet(
            "A test set's name may not hold control characters.",
            "Type the name again, with letters, digits, spaces and punctuation.",
            retryable=False,
        )
    if len(name) > MAX_TEST_SET_NAME:
        raise InvalidTestSet(
            f"A test set's name may be at most {MAX_TEST_SET_NAME} characters; "
            f"this one has {len(name)}.",
            "Shorten the name.",
            retryable=False,
        )
    return name


def checked(tests: TestSet) -> TestSet:
    """``tests`` as it will read back, through the checks an upload passes (text made valid
    Unicode); ``InvalidTestSet`` if it has no rows or is over the limits."""
    if not tests.rows:
        raise InvalidTestSet(
            "A test set with no rows cannot be saved.",
            "Add at least one row of values.",
            retryable=False,
        )
    twice = [column for column in tests.columns if tests.columns.count(column) > 1]
    if twice:
        raise InvalidTestSet(
            f"The test set names column {twice[0]!r} twice.",
            "Give each column its own name.",
            retryable=False,
        )
    rows = [{column: _clean(value) for column, value in row.items()} for row in tests.dicts()]
    try:
        return from_dicts(rows)
    except TestSetError as err:
        raise InvalidTestSet(err.message, err.action, retryable=False) from err


def _clean(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value  # others: from_dicts judges


def document(tests: TestSet) -> dict[str, Any]:
    """A checked test set as the JSON document stored: its rows as objects."""
    return {"format": TEST_SET_FORMAT, "version": TEST_SET_VERSION, "rows": tests.dicts()}


def test_set_from(data: object, name: str) -> TestSet:
    """A test set from its stored document; ``InvalidTestSet`` if it does not check."""
    source = f"The stored test set {name!r}"
    action = "Delete it, or save the test set under this name again (upload its file again)."
    if not isinstance(data, dict) or data.get("format") != TEST_SET_FORMAT:
        raise InvalidTestSet(f"{source} is not a Chat Lab test set.", action, retryable=False)
    if data.get("version") != TEST_SET_VERSION:
        raise InvalidTestSet(
            f"{source} has version {data.get('version')!r}, which this Chat Lab cannot read.",
            "Update Chat Lab, or delete it.",
            retryable=False,
        )
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise InvalidTestSet(f"{source} has no rows.", action, retryable=False)
    try:
        return from_dicts(rows, source=source)
    except TestSetError as err:
        raise InvalidTestSet(err.message, action, retryable=False) from err


def save(conn: Connection, owner: str, name: str, tests: TestSet) -> None:
    """Store ``tests`` under ``name``, replacing the rows of the owner's set called that."""
    now, kept = datetime.now(UTC), checked(tests)
    row = {
        "id": new_id(),
        "owner": owner,
        "name": test_set_name(name),
        "created_at": now,
        "updated_at": now,
        "row_count": len(kept.rows),
        "column_names": list(kept.columns),
        "tests": document(kept),
    }
    new = upsert_into(conn, test_sets).values(row)
    replaced = ("updated_at", "row_count", "column_names", "tests")
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[test_sets.c.owner, test_sets.c.name],
            set_={column: new.excluded[column] for column in replaced},
        )
    )


def summaries(conn: Connection, owner: str) -> list[TestSetSummary]:
    """The owner's test sets, the most recently saved first."""
    t = test_sets.c
    query = (
        # Column names as text: a value damaged by hand cannot fail the query.
        sa.select(t.name, t.row_count, sa.cast(t.column_names, sa.Text), t.updated_at)
        .where(t.owner == owner)
        .order_by(t.updated_at.desc(), t.name)
    )
    return [
        TestSetSummary(name, row_count, _names(raw), updated_at)
        for name, row_count, raw, updated_at in conn.execute(query)
    ]


def _names(raw: object) -> tuple[str, ...]:
    """Stored column names; none if they cannot be read (the set still lists, and
    opening it says what is wrong)."""
    try:
        found = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return ()
    if not isinstance(found, list) or not all(isinstance(name, str) for name in found):
        return ()
    return tuple(found)


def load(conn: Connection, owner: str, name: str) -> TestSet | None:
    """The owner's test set called ``name``; None if there is none, ``InvalidTestSet`` if
    its document does not check."""
    t, wanted = test_sets.c, test_set_name(name)
    # As text, parsed here: on SQLite a document that is not JSON would fail the query.
    query = sa.select(sa.cast(t.tests, sa.Text)).where(t.owner == owner, t.name == wanted)
    raw = conn.execute(query).scalar_one_or_none()
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    return test_set_from(data, wanted)


def delete(conn: Connection, owner: str, name: str) -> bool:
    """Delete the owner's test set called ``name``; False if there is none."""
    t = test_sets.c
    query = sa.delete(test_sets).where(t.owner == owner, t.name == test_set_name(name))
    return conn.execute(query).rowcount > 0
