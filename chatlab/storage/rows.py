"""Messages to rows and back; a row that cannot be read whole still opens.

What is written is checked first (``transfer``'s field rules): text with lone surrogates
gets U+FFFD, telemetry out of bounds is stored as unknown. Rows written by older versions
or edited by hand may still hold anything, so reading never trusts a row: a bad field
turns that one message into a FAILED one carrying whatever text could be read and a
notice saying what was wrong, and the rest of the conversation opens as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Row

from chatlab.attachments import Attachment, elide_images
from chatlab.logprobs import logprobs_json
from chatlab.messages import ChatMessage, Role, Status
from chatlab.storage.schema import messages
from chatlab.tools import tool_calls_json
from chatlab.transfer import (
    MAX_NOTICE_LENGTH,
    MAX_NOTICES,
    ROLES,
    STATUSES,
    InvalidDocument,
    attachments_json,
    clean_text,
    fit_requests,
    notices_from,
    request_from,
    request_json,
    settings_from,
    settings_json,
    stats_from,
    stats_json,
    tool_calls_checked,
)

_T = TypeVar("_T")
UNREADABLE = "Part of this message could not be read ({problem}); it is shown as far as it could."


def message_row(conversation_id: str, message: ChatMessage, now: datetime) -> dict[str, Any]:
    """The row to store for ``message``: only what reads back."""
    return {
        "id": message.id,
        "conversation_id": conversation_id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": clean_text(message.content),
        "status": Status(message.status).value,
        "created_at": now,
        "updated_at": now,
        "settings": settings_json(message.settings),
        "stats": stats_json(message.stats),
        "notices": [clean_text(n)[:MAX_NOTICE_LENGTH] for n in message.notices[:MAX_NOTICES]],
        "request": request_json(elide_images(message.request)),
        "reasoning": clean_text(message.reasoning),
        "token_logprobs": logprobs_json(message.token_logprobs),
        "tool_calls": tool_calls_json(message.tool_calls),
    }


def attachment_rows(
    owner: str, message: ChatMessage, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of a message's files: their bytes (by content) and the message's links."""
    blobs = {
        a.sha256: {
            "owner": owner,
            "sha256": a.sha256,
            "mime": a.mime,
            "size": len(a.data),
            "data": a.data,
            "created_at": now,
        }
        for a in message.attachments
    }
    links = [
        {
            "message_id": message.id,
            "position": i,
            "name": a.name,
            "owner": owner,
            "sha256": a.sha256,
        }
        for i, a in enumerate(message.attachments)
    ]
    return list(blobs.values()), links


def readable_columns(*, with_request: bool) -> list[sa.ColumnElement[Any]]:
    """The message columns to select: JSON as text, so a bad value cannot fail the query.

    A reply's request repeats the conversation before it, so a conversation's requests
    grow with the square of its length: opening one leaves them out (``with_request``
    False) and ``Store.load_request`` reads one when it is asked for.
    """
    m = messages.c
    json_columns: tuple[sa.Column[Any], ...] = (m.settings, m.stats, m.tool_calls)
    if with_request:
        json_columns = (*json_columns, m.request)
    as_text: list[sa.ColumnElement[Any]] = [
        sa.cast(column, sa.Text).label(column.name) for column in json_columns
    ]
    if not with_request:
        as_text.append(sa.null().label("request"))
    notices = sa.cast(m.notices, sa.Text).label("notices")
    return [
        *(m.id, m.parent_id, m.role, m.content, m.reasoning, m.status, m.created_at),
        *as_text,
        notices,
    ]


def message_from(
    row: Row[Any], attached: Mapping[str, tuple[Attachment, ...]] | None = None
) -> ChatMessage:
    """The message a row holds (with its files, from ``attached`` by message id).

    A bad field makes it FAILED with a notice, never an error.
    """
    problems: list[str] = []
    content = _text(row.content)
    role: Role = row.role if row.role in ROLES else "assistant"
    if role != row.role:
        problems.append(f"unknown role {_shown(row.role)}")
    status = Status(row.status) if row.status in STATUSES else Status.FAILED
    if status.value != row.status:
        problems.append(f"unknown status {_shown(row.status)}")
    settings = _field(row.settings, "settings", settings_from, problems)
    stats = _field(row.stats, "stats", stats_from, problems)
    notices = _field(row.notices, "notices", notices_from, problems) or ()
    request = _field(row.request, "request", request_from, problems)
    calls = _field(row.tool_calls, "tool_calls", tool_calls_checked, problems) or ()
    if problems:
        status = Status.FAILED
        notices = (*notices, UNREADABLE.format(problem="; ".join(problems)))
    return ChatMessage(
        role=role,
        content=content,
        status=status,
        id=row.id,
        parent_id=row.parent_id,
        settings=settings,
        stats=stats,
        notices=notices,
        request=request,
        reasoning=_text(row.reasoning),
        created_at=row.created_at,
        attachments=(attached or {}).get(row.id, ()),
        tool_calls=calls,
    )


def messages_json(
    found: Iterable[Row[Any]], attached: Mapping[str, tuple[Attachment, ...]] | None = None
) -> list[dict[str, Any]]:
    """Rows in the export's form, with as many replies' requests as an import takes."""
    exported = [message_json(message_from(row, attached), row.created_at) for row in found]
    fit_requests(exported)
    return exported


def message_json(message: ChatMessage, created_at: datetime) -> dict[str, Any]:
    """A message in the export's form (from the message as read, so it is always valid)."""
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "status": message.status.value,
        "created_at": created_at.isoformat(),
        "settings": settings_json(message.settings),
        "stats": stats_json(message.stats),
        "notices": list(message.notices),
        "request": message.request,
        "reasoning": message.reasoning,
        **({"attachments": attachments_json(message.attachments)} if message.attachments else {}),
        **({"tool_calls": tool_calls_json(message.tool_calls)} if message.tool_calls else {}),
    }


def _field(
    raw: object, name: str, read: Callable[[object, str], _T], problems: list[str]
) -> _T | None:
    """One JSON column read and checked; on a problem, None and the problem noted."""
    if raw is None:
        return None
    try:
        return read(json.loads(raw) if isinstance(raw, str) else raw, name)
    except (InvalidDocument, ValueError, RecursionError) as exc:
        problem = exc.problem if isinstance(exc, InvalidDocument) else f"{name} is not JSON"
        problems.append(problem)
        return None


def _text(raw: object) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return clean_text(raw) if isinstance(raw, str) else ("" if raw is None else str(raw))


def _shown(value: object) -> str:
    return repr(value)[:40]


def renamed(message: ChatMessage, fresh: Mapping[str, str]) -> ChatMessage:
    """``message`` under its new id, its parent's new id too (an import's fresh ids)."""
    parent = None if message.parent_id is None else fresh[message.parent_id]
    return ChatMessage(
        role=message.role,
        content=message.content,
        status=message.status,
        id=fresh[message.id],
        parent_id=parent,
        settings=message.settings,
        stats=message.stats,
        notices=message.notices,
        request=message.request,
        reasoning=message.reasoning,
        created_at=message.created_at,
        attachments=message.attachments,
        tool_calls=message.tool_calls,
    )
