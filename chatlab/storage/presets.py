"""A user's own presets (``chatlab.presets.Preset``) as rows: one name per owner.

Settings are stored in their JSON form without the model, through ``transfer``'s field
rules both ways; a row that cannot be read back (edited by hand) is left out of the
list rather than breaking the sidebar.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.messages import new_id
from chatlab.presets import Preset, PresetError, preset_from, preset_json, preset_name
from chatlab.storage.engine import upsert_into
from chatlab.storage.schema import presets
from chatlab.transfer import InvalidDocument


def save(conn: Connection, owner: str, preset: Preset) -> Preset:
    """Store ``preset`` under its name, replacing the settings of one already called that."""
    now = datetime.now(UTC)
    row = {
        "id": new_id(),
        "owner": owner,
        "name": preset.name,
        "created_at": now,
        "updated_at": now,
        "settings": preset_json(preset)["settings"],
    }
    new = upsert_into(conn, presets).values(row)
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[presets.c.owner, presets.c.name],
            set_={name: new.excluded[name] for name in ("updated_at", "settings")},
        )
    )
    query = sa.select(presets.c.id).where(presets.c.owner == owner, presets.c.name == preset.name)
    return Preset(conn.execute(query).scalar_one(), preset.name, preset.settings)


def listing(conn: Connection, owner: str) -> list[Preset]:
    """The owner's readable presets, by name."""
    p = presets.c
    found = conn.execute(sa.select(p.id, p.name, p.settings).where(p.owner == owner))
    readable = []
    for row in found:
        try:
            readable.append(preset_from({"name": row.name, "settings": row.settings}, row.id))
        except InvalidDocument:
            continue
    return sorted(readable, key=lambda preset: (preset.name.casefold(), preset.name))


def rename(conn: Connection, owner: str, preset_id: str, name: str) -> bool:
    """Rename one preset; False if the owner has none by that id, ``PresetError`` if taken."""
    p, wanted = presets.c, preset_name(name)
    taken = sa.select(p.id).where(p.owner == owner, p.name == wanted, p.id != preset_id)
    if conn.execute(taken).first() is not None:
        raise PresetError("another of your presets has that name")
    query = (
        sa.update(presets)
        .where(p.id == preset_id, p.owner == owner)
        .values(name=wanted, updated_at=datetime.now(UTC))
    )
    return conn.execute(query).rowcount > 0


def delete(conn: Connection, owner: str, preset_id: str) -> bool:
    """Delete one preset; False if the owner has none by that id."""
    query = sa.delete(presets).where(presets.c.id == preset_id, presets.c.owner == owner)
    return conn.execute(query).rowcount > 0
