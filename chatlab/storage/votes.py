"""An owner's arena votes as rows: one JSON document per vote, found by its id.

Storage keeps features' data and never runs them, so it does not know what a vote is
(``chatlab.arena`` is not imported here): a vote is stored as the JSON document its
feature wrote (``chatlab.arena.vote_json``), beside the two things storage queries by, its
id and when it was cast. Reading it back as a vote, with every field checked, is the
feature's job (``chatlab.arena.vote_from``); what this module returns is the document as
parsed, or None when the stored text is not a JSON object (damaged by hand), so one bad
row never hides the others.

Saving under an id that exists replaces that vote (a changed verdict); deleting withdraws
it. The id, the time and the document pass ``documents.DocumentChecks`` (one line of
valid text of at most ``MAX_VOTE_ID`` characters; an aware time, kept as UTC; a JSON
object of at most ``MAX_VOTE_CHARS`` characters). Another owner's votes behave as if they
did not exist: every query names its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.storage.documents import DocumentChecks, parsed
from chatlab.storage.engine import upsert_into
from chatlab.storage.errors import InvalidVote
from chatlab.storage.schema import votes

__all__ = ["MAX_VOTE_CHARS", "MAX_VOTE_ID", "StoredVote", "delete", "listed", "save"]

MAX_VOTE_ID = 200  # characters
MAX_VOTE_CHARS = 20_000_000  # a vote's JSON: a long side-by-side session's turns fit
_CHECKS = DocumentChecks(
    what="The vote",
    error=InvalidVote,
    max_id=MAX_VOTE_ID,
    max_chars=MAX_VOTE_CHARS,
    again="Vote again.",
    smaller="Vote on a shorter session (fewer turns).",
)


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
        "id": _CHECKS.id(vote_id),
        "cast_at": _CHECKS.time(cast_at),
        "updated_at": datetime.now(UTC),
        "vote": _CHECKS.document(document),
    }
    new = upsert_into(conn, votes).values(row)
    replaced = ("cast_at", "updated_at", "vote")
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[votes.c.owner, votes.c.id],
            set_={column: new.excluded[column] for column in replaced},
        )
    )


def listed(
    conn: Connection, owner: str, since: datetime | None = None, until: datetime | None = None
) -> list[StoredVote]:
    """The owner's votes cast from ``since`` (included) until ``until`` (excluded), oldest
    first; None leaves that end open."""
    v = votes.c
    # The document as text, parsed here (documents.parsed says why).
    query = sa.select(v.id, v.cast_at, sa.cast(v.vote, sa.Text)).where(v.owner == owner)
    if since is not None:
        query = query.where(v.cast_at >= _CHECKS.time(since))
    if until is not None:
        query = query.where(v.cast_at < _CHECKS.time(until))
    query = query.order_by(v.cast_at, v.id)
    return [
        StoredVote(vote_id, cast_at, parsed(raw)) for vote_id, cast_at, raw in conn.execute(query)
    ]


def delete(conn: Connection, owner: str, vote_id: str) -> bool:
    """Withdraw the owner's vote ``vote_id``; False if there is none."""
    query = sa.delete(votes).where(votes.c.owner == owner, votes.c.id == vote_id)
    return conn.execute(query).rowcount > 0
