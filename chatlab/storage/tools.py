"""An owner's tool definitions as rows: one JSON document per tool, found by its name.

A tool (``chatlab.tools``, kernel) is stored as ``tool_json`` writes it and read back
through ``tool_from``, which checks it again (its schema with ``jsonschema``): a row
damaged by hand is left out of the list rather than offered to a model. Saving under a
name that exists replaces that tool, as presets replace theirs. Another owner's tools
behave as if they did not exist: every query names its owner.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.storage.engine import upsert_into
from chatlab.storage.schema import tools
from chatlab.tools import MAX_TOOLS, Tool, ToolError, tool_from, tool_json

__all__ = ["delete", "listed", "save"]


def save(conn: Connection, owner: str, tool: Tool) -> None:
    """Store ``tool`` as the owner's tool of its name, replacing one of that name.

    ``ToolError`` when the owner already has ``MAX_TOOLS`` others (nothing is written then).
    """
    t = tools.c
    others = conn.execute(
        sa.select(sa.func.count()).where(t.owner == owner, t.name != tool.name)
    ).scalar_one()
    if others >= MAX_TOOLS:
        raise ToolError(f"at most {MAX_TOOLS} tools can be kept; delete one first")
    now = datetime.now(UTC)
    row = {"owner": owner, "name": tool.name, "created_at": now, "updated_at": now}
    new = upsert_into(conn, tools).values({**row, "tool": tool_json(tool)})
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[t.owner, t.name],
            set_={column: new.excluded[column] for column in ("updated_at", "tool")},
        )
    )


def listed(conn: Connection, owner: str) -> list[Tool]:
    """The owner's tools that read back whole, oldest first."""
    t = tools.c
    # The document as text, parsed here: one damaged row must not fail the query.
    query = sa.select(sa.cast(t.tool, sa.Text)).where(t.owner == owner)
    found = []
    for (raw,) in conn.execute(query.order_by(t.created_at, t.name)):
        try:
            found.append(tool_from(json.loads(raw) if isinstance(raw, str) else None))
        except (ToolError, ValueError, RecursionError):
            continue
    return found


def delete(conn: Connection, owner: str, name: str) -> bool:
    """Delete the owner's tool ``name``; False if there is none."""
    query = sa.delete(tools).where(tools.c.owner == owner, tools.c.name == name)
    return conn.execute(query).rowcount > 0
