"""The schema as the migrations leave it: the one declaration queries are built from.

Tables are never created from it (``migrations`` builds the database); a test checks that
what the migrations build equals this, on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False, server_default="local"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("current_leaf_id", sa.Text),
    # Bumped by every write that changes the messages or the current leaf.
    sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Index(
        "ix_conversations_owner_updated",
        "owner",
        sa.text("updated_at DESC"),
        sa.text("id DESC"),
    ),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column(
        "conversation_id",
        sa.Text,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("parent_id", sa.Text, sa.ForeignKey("messages.id", ondelete="CASCADE")),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("settings", sa.JSON(none_as_null=True)),
    sa.Column("stats", sa.JSON(none_as_null=True)),
    sa.Column("notices", sa.JSON, nullable=False),
    sa.Column("request", sa.JSON(none_as_null=True)),  # a reply's request body as sent
    sa.Column("reasoning", sa.Text, nullable=False, server_default=""),  # never sent back
    # A reply's tokens with their probabilities (chatlab.logprobs), when asked for.
    sa.Column("token_logprobs", sa.JSON(none_as_null=True)),
    # A reply's tool calls and their results (chatlab.tools.tool_calls_json).
    sa.Column("tool_calls", sa.JSON(none_as_null=True)),
    sa.Index("ix_messages_conversation", "conversation_id", "created_at"),
    sa.Index("ix_messages_parent", "parent_id"),
)

# What a later save of the same message id may change; role and parent are fixed at birth.
MUTABLE = (
    "content",
    "status",
    "settings",
    "stats",
    "notices",
    "request",
    "reasoning",
    "token_logprobs",
    "tool_calls",
    "updated_at",
)

compare_runs = sa.Table(
    "compare_runs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("run", sa.JSON, nullable=False),  # chatlab.storage.runs.run_json
    sa.Index(
        "ix_compare_runs_owner_created", "owner", sa.text("created_at DESC"), sa.text("id DESC")
    ),
)

presets = sa.Table(
    "presets",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),  # chatlab.presets.preset_json's settings
    sa.Index("ix_presets_owner_name", "owner", "name", unique=True),
)

test_sets = sa.Table(
    "test_sets",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),  # for the list: the rows unread
    sa.Column("column_names", sa.JSON, nullable=False),  # for the list: a list of names
    sa.Column("tests", sa.JSON, nullable=False),  # chatlab.storage.testsets.document
    sa.Index("ix_test_sets_owner_name", "owner", "name", unique=True),
)

# An owner's arena votes (chatlab.arena): storage keeps the document, the feature reads it.
votes = sa.Table(
    "votes",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("cast_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("vote", sa.JSON, nullable=False),  # chatlab.arena.vote_json
    sa.Index("ix_votes_owner_cast", "owner", "cast_at"),
)

# An owner's side-by-side sessions (chatlab.arena), kept as documents like votes.
side_by_sides = sa.Table(
    "side_by_sides",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("session", sa.JSON, nullable=False),  # chatlab.arena.session_json
    sa.Index(
        "ix_side_by_sides_owner_updated",
        "owner",
        sa.text("updated_at DESC"),
        sa.text("id DESC"),
    ),
)

# An owner's tool definitions (chatlab.tools.tool_json), by name.
tools = sa.Table(
    "tools",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("tool", sa.JSON, nullable=False),
)

# Attached files' bytes, content-addressed per owner (chatlab.attachments).
attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("sha256", sa.Text, primary_key=True),
    sa.Column("mime", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# The files a message carries, in order, under the names they were sent with.
message_attachments = sa.Table(
    "message_attachments",
    metadata,
    sa.Column(
        "message_id",
        sa.Text,
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(["owner", "sha256"], ["attachments.owner", "attachments.sha256"]),
    sa.Index("ix_message_attachments_blob", "owner", "sha256"),
)
