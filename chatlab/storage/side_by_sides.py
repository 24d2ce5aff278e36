"""An owner's side-by-side sessions as rows: one JSON document per session, by its id.

Storage keeps features' data and never runs them, so it does not know what a session is
(``chatlab.arena`` is not imported here), as with votes: a session is stored as the JSON
document its feature wrote (``chatlab.arena.session_json``), beside what the list shows and
sorts by: its title, when it was made and when it last changed. Reading a document back
as a session, with every field checked, is the feature's job (``chatlab.arena.session_from``).

Saving under an id that exists replaces the whole row: a session is saved again as each
turn comes in. The list reads no document (a long session's is megabytes), newest change
first. The id, the times and the document pass ``documents.DocumentChecks``; the title is
made one line of valid text, never empty (``chatlab.transfer.clean_title``). A stored text
that is not a JSON object (damaged by hand) is refused in words when it is opened
(``InvalidSideBySide``), not mistaken for a session that does not exist; it still lists,
and can be deleted. Another owner's sessions behave as if they did not exist: every
query names its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.storage.documents import DocumentChecks, parsed
from chatlab.storage.engine import upsert_into
from chatlab.storage.errors import InvalidSideBySide
from chatlab.storage.schema import side_by_sides
from chatlab.transfer import clean_title
from chatlab.usage import StoredUsage

__all__ = [
    "MAX_SIDE_BY_SIDE_CHARS",
    "MAX_SIDE_BY_SIDE_ID",
    "SideBySideSummary",
    "delete",
    "load",
    "save",
    "summaries",
    "usage_rows",
]

MAX_SIDE_BY_SIDE_ID = 200  # characters, as a vote's
MAX_SIDE_BY_SIDE_CHARS = 20_000_000  # a session's JSON, as a vote's (its turns, per column)
_CHECKS = DocumentChecks(
    what="The side-by-side session",
    error=InvalidSideBySide,
    max_id=MAX_SIDE_BY_SIDE_ID,
    max_chars=MAX_SIDE_BY_SIDE_CHARS,
    again="Start a new side-by-side session.",
    smaller="Start a new side-by-side session: this one has grown too long to keep.",
)


@dataclass(frozen=True)
class SideBySideSummary:
    """One row of the list of an owner's side-by-side sessions."""

    id: str
    title: str
    updated_at: datetime


def save(
    conn: Connection,
    owner: str,
    session_id: str,
    title: str,
    created_at: datetime,
    updated_at: datetime,
    document: Mapping[str, Any],
) -> None:
    """Store ``document`` as the owner's session ``session_id``, replacing one with that id."""
    row = {
        "owner": owner,
        "id": _CHECKS.id(session_id),
        "title": clean_title(title),
        "created_at": _CHECKS.time(created_at),
        "updated_at": _CHECKS.time(updated_at),
        "session": _CHECKS.document(document),
    }
    new = upsert_into(conn, side_by_sides).values(row)
    replaced = ("title", "created_at", "updated_at", "session")
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[side_by_sides.c.owner, side_by_sides.c.id],
            set_={column: new.excluded[column] for column in replaced},
        )
    )


def summaries(conn: Connection, owner: str, *, limit: int = 50) -> list[SideBySideSummary]:
    """The owner's sessions, the most recently changed first, at most ``limit``."""
    s = side_by_sides.c
    query = (
        sa.select(s.id, s.title, s.updated_at)
        .where(s.owner == owner)
        .order_by(s.updated_at.desc(), s.id.desc())
        .limit(max(0, limit))
    )
    return [SideBySideSummary(*row) for row in conn.execute(query)]


def load(conn: Connection, owner: str, session_id: str) -> dict[str, Any] | None:
    """The owner's session ``session_id`` as its document; None if there is none."""
    s = side_by_sides.c
    # The document as text, parsed here (documents.parsed says why).
    query = sa.select(sa.cast(s.session, sa.Text)).where(s.owner == owner, s.id == session_id)
    found = conn.execute(query).one_or_none()
    if found is None:
        return None
    document = parsed(found[0])
    if document is None:
        raise InvalidSideBySide(
            "This side-by-side session cannot be opened: what is stored is not a JSON object.",
            "Delete it from the list, or open another session.",
            retryable=False,
        )
    return document


def delete(conn: Connection, owner: str, session_id: str) -> bool:
    """Delete the owner's session ``session_id``; False if there is none."""
    s = side_by_sides.c
    query = sa.delete(side_by_sides).where(s.owner == owner, s.id == session_id)
    return conn.execute(query).rowcount > 0


def usage_rows(
    conn: Connection, owner: str, since: datetime | None, until: datetime | None
) -> list[StoredUsage]:
    """Every answer's telemetry in the owner's sessions started in [since, until), for
    Usage ("Side by side"). Storage reads only what the kernel's telemetry form fixes:
    ``columns[].answers[].stats``; a damaged document gives no rows, never an error."""
    s = side_by_sides.c
    query = sa.select(s.id, s.title, s.created_at, sa.cast(s.session, sa.Text)).where(
        s.owner == owner
    )
    if since is not None:
        query = query.where(s.created_at >= since)
    if until is not None:
        query = query.where(s.created_at < until)
    rows = []
    for session_id, title, created_at, raw in conn.execute(query):
        document = parsed(raw) or {}
        columns = document.get("columns")
        for column in columns if isinstance(columns, list) else []:
            answers = column.get("answers") if isinstance(column, dict) else None
            for answer in answers if isinstance(answers, list) else []:
                stats = answer.get("stats") if isinstance(answer, dict) else None
                if stats is not None:
                    rows.append(StoredUsage(session_id, title, created_at, stats, "arena"))
    return rows
