"""Attached files in the database: bytes once per owner and content, linked from messages.

A file's bytes live in ``attachments`` under (owner, sha256): the same image sent twice,
or a conversation imported twice, is stored once, and one owner's files are never
reachable through another's messages. ``message_attachments`` says which files a message
carries, in order and under which names. Links are written with a new message only
(a message's files are fixed when it is sent), and bytes no link points at any more are
deleted with the last message that pointed at them.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.attachments import Attachment
from chatlab.messages import ChatMessage
from chatlab.storage import rows
from chatlab.storage.engine import upsert_into
from chatlab.storage.schema import attachments, message_attachments, messages


def link(conn: Connection, owner: str, message: ChatMessage, now: datetime) -> None:
    """Store a new message's files (bytes already held by the owner are reused)."""
    link_all(conn, owner, [message], now)


def link_all(conn: Connection, owner: str, sent: list[ChatMessage], now: datetime) -> None:
    """Store the files of several new messages in one go (an import)."""
    blobs: dict[str, dict[str, object]] = {}
    links: list[dict[str, object]] = []
    for message in sent:
        found, linked = rows.attachment_rows(owner, message, now)
        blobs.update((blob["sha256"], blob) for blob in found)
        links += linked
    if not links:
        return
    conn.execute(upsert_into(conn, attachments).on_conflict_do_nothing(), list(blobs.values()))
    conn.execute(sa.insert(message_attachments), links)


def of_conversation(conn: Connection, conversation_id: str) -> dict[str, tuple[Attachment, ...]]:
    """Every message's files in one conversation, by message id, in the order sent."""
    a, ma, m = attachments.c, message_attachments.c, messages.c
    query = (
        sa.select(ma.message_id, ma.name, a.mime, a.data)
        .join(messages, m.id == ma.message_id)
        .join(attachments, sa.and_(a.owner == ma.owner, a.sha256 == ma.sha256))
        .where(m.conversation_id == conversation_id)
        .order_by(ma.message_id, ma.position)
    )
    found: dict[str, list[Attachment]] = {}
    for row in conn.execute(query):
        found.setdefault(row.message_id, []).append(Attachment(row.name, row.mime, row.data))
    return {message_id: tuple(files) for message_id, files in found.items()}


def prune(conn: Connection, owner: str) -> None:
    """Delete the owner's file bytes that no message links to any more."""
    a, ma = attachments.c, message_attachments.c
    linked = sa.exists().where(ma.owner == a.owner, ma.sha256 == a.sha256)
    conn.execute(sa.delete(attachments).where(a.owner == owner, ~linked))
