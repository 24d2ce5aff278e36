"""An owner's arena votes as rows: one JSON document per vote, found by its id.

Storage keeps features' data and never runs them, so it does not know what a vote is
(``chatlab.arena`` is not imported here): a vote is stored as the JSON document its
feature wrote (``chatlab.arena.vote_json``), beside the two things storage queries by, its
id and when it was cast. Reading it back as a vote, with every field checked, is the
feature's job (``chatlab.arena.vote_from``); what this module returns is the document as
parsed, or None when the stored text is not a JSON object (damaged by hand), so one bad
row never hides the others.

Saving under an id that exists replaces that vote (a changed verdict); deleting withdraws
it. The id is one line of valid text, not blank, at most ``MAX_VOTE_ID`` characters; the
time must be aware (it is kept as UTC); the document must be a JSON object of at most
``MAX_VOTE_CHARS`` characters (lone surrogates, which no database can store, become
U+FFFD). Another owner's votes behave as if they did not exist: every query names its owner.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.storage.engine import upsert_into
from chatlab.storage.errors import InvalidVote
from chatlab.storage.schema import votes
from chatlab.transfer import clean_text

__all__ = ["MAX_VOTE_CHARS", "MAX_VOTE_ID", "StoredVote", "delete", "listed", "save"]

MAX_VOTE_ID = 200  # characters
MAX_VOTE_CHARS = 20_000_000  # a vote's JSON: a long side-by-side session's turns fit


@dataclass(frozen=True)
class StoredVote:
    """One stored vote: its id, when it was cast (UTC), and its document as parsed (None:
    the stored text is not a JSON object)."""

    id: str
    cast_at: datetime
    document: dict[str, Any] | None


def save(
    conn: Connection, owner: str, vote_id: str, cast_at: datetime, document: Mapping[str, Any]
) -> None:
    """Store ``document`` as the owner's vote ``vote_id``, replacing one with that id."""
    row = {
        "owner": owner,
        "id": _checked_id(vote_id),
        "cast_at": _checked_time(cast_at),
        "updated_at": datetime.now(UTC),
        "vote": _checked_document(document),
    }
    new = upsert_into(conn, votes).values(row)
    replaced = ("cast_at", "updated_at", "vote")
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[votes.c.owner, votes.c.id],
            set_={column: new.excluded[column] for column in replaced},
        )
    )


def _refused(problem: str, action: str) -> InvalidVote:
    return InvalidVote(f"The vote cannot be stored: {problem}.", action, retryable=False)


def _checked_id(vote_id: str) -> str:
    if not isinstance(vote_id, str) or not vote_id.strip() or len(vote_id) > MAX_VOTE_ID:
        raise _refused(f"its id must be 1 to {MAX_VOTE_ID} characters", "Vote again.")
    if clean_text(vote_id) != vote_id or any(
        unicodedata.category(char) == "Cc" for char in vote_id
    ):
        raise _refused("its id must be one line of valid text", "Vote again.")
    return vote_id


def _checked_time(cast_at: datetime) -> datetime:
    if not isinstance(cast_at, datetime) or cast_at.tzinfo is None:
        raise _refused("its time must say its time zone", "Vote again.")
    return cast_at.astimezone(UTC)


def _checked_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as it will read back: a copy, through JSON, with valid text only."""
    try:
        text = json.dumps(dict(document), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise _refused("it is not plain JSON data", "Vote again.") from None
    if len(text) > MAX_VOTE_CHARS:
        raise _refused(
            f"it is over {MAX_VOTE_CHARS:,} characters of JSON",
            "Vote on a shorter session (fewer turns).",
        )
    copied: dict[str, Any] = json.loads(clean_text(text))
    return copied


def listed(
    conn: Connection, owner: str, since: datetime | None = None, until: datetime | None = None
) -> list[StoredVote]:
    """The owner's votes cast from ``since`` (included) until ``until`` (excluded), oldest
    first; None leaves that end open."""
    v = votes.c
    # The document as text, parsed here: on SQLite a value that is not JSON would fail
    # the query, and one damaged row must not hide the rest.
    query = sa.select(v.id, v.cast_at, sa.cast(v.vote, sa.Text)).where(v.owner == owner)
    if since is not None:
        query = query.where(v.cast_at >= _checked_time(since))
    if until is not None:
        query = query.where(v.cast_at < _checked_time(until))
    query = query.order_by(v.cast_at, v.id)
    return [
        StoredVote(vote_id, cast_at, _parsed(raw)) for vote_id, cast_at, raw in conn.execute(query)
    ]


def _parsed(raw: object) -> dict[str, Any] | None:
    try:
        found = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def delete(conn: Connection, owner: str, vote_id: str) -> bool:
    """Withdraw the owner's vote ``vote_id``; False if there is none."""
    query = sa.delete(votes).where(votes.c.owner == owner, votes.c.id == vote_id)
    return conn.execute(query).rowcount > 0
