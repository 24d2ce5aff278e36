"""Presets in the sidebar: pick one to apply it, save the current settings as one, manage yours.

A preset is applied in the picker's callback: it runs before the script, the only moment
the sliders' values may still change on this run. The picker then goes back to its
placeholder, so the same preset can be picked again after the sliders moved.
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.errors import ChatLabError
from chatlab.markdown import plain
from chatlab.presets import (
    MAX_NAME_LENGTH,
    SHIPPED,
    Preset,
    applied,
    from_settings,
    presets_document,
)
from chatlab.storage import Store
from components import session
from components.popover import when_open

PICK_HELP = (
    "Sets the system prompt and every setting below (not the model) to the preset's. "
    "Change anything afterwards as usual."
)


def render_presets(store: Store | None, owner: str) -> None:
    """The preset picker; with a store, also saving, deleting, export and import."""
    if session.page().notices:
        # A callback below said something during a rerun of the settings panel alone,
        # which draws nothing outside it: a full run shows it (pages show notices first).
        st.rerun()
    own = _own_presets(store, owner)
    choices = {preset.id: preset for preset in (*own, *SHIPPED)}
    own_names = {preset.name for preset in own}
    st.selectbox(
        "Preset",
        list(choices),
        index=None,
        key=session.PRESET_PICK,
        placeholder="Apply a preset…",
        format_func=lambda preset_id: _label(choices[preset_id], own_names),
        on_change=_apply,
        args=(choices,),
        help=PICK_HELP,
    )
    if store is None:
        return
    save, manage = st.columns(2)
    if (saving := _menu(save, "Save…", session.PRESET_SAVE_MENU, "bookmark_add")) is not None:
        with saving:
            st.text_input("Preset name", key=session.PRESET_NAME, max_chars=MAX_NAME_LENGTH)
            st.caption("The system prompt and settings, without the model.")
            st.button("Save preset", on_click=_save, args=(store, owner), type="primary")
    if (managing := _menu(manage, "Presets", session.PRESET_MANAGE_MENU, "bookmarks")) is not None:
        with managing:
            _manage(store, owner, own)


def _menu(place: DeltaGenerator, label: str, key: str, icon: str) -> DeltaGenerator | None:
    """A popover filling ``place``; its container while it is open (its content is drawn
    only then), else None."""
    with place:
        return when_open(
            label, key=key, icon=f":material/{icon}:", type="secondary", width="stretch"
        )


def _label(preset: Preset, own_names: set[str]) -> str:
    # Options are drawn as plain text. A shipped preset says so only when one of the
    # user's own has the same name.
    return (
        f"{preset.name} (built in)" if preset.shipped and preset.name in own_names else preset.name
    )


def _own_presets(store: Store | None, owner: str) -> list[Preset]:
    if store is None:
        return []
    try:
        return store.list_presets(owner)
    except ChatLabError as err:
        st.caption(f"Your presets could not be read: {plain(str(err))}")
        return []


def _manage(store: Store, owner: str, own: list[Preset]) -> None:
    if not own:
        st.caption("No presets of your own yet: save the current settings as one.")
    for preset in own:
        name, delete = st.columns([3, 2], vertical_alignment="center")
        name.caption(plain(preset.name))
        delete.button(
            "Delete",
            icon=":material/delete:",
            key=f"preset-delete-{preset.id}",
            on_click=_delete,
            args=(store, owner, preset),
            type="tertiary",
        )
    if own:
        st.download_button(
            "Export presets",
            data=json.dumps(presets_document(own), indent=2, ensure_ascii=False),
            file_name="chatlab-presets.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )
    st.file_uploader(
        "Import presets (JSON)",
        type=["json"],
        key=session.PRESET_IMPORT,
        on_change=_import,
        args=(store, owner),
    )


def _apply(choices: dict[str, Preset]) -> None:
    preset = choices.get(str(session.widget_value(session.PRESET_PICK)))
    session.clear_widget(session.PRESET_PICK)
    if preset is None:
        return
    session.apply_settings(applied(preset, session.chat_settings()))
    session.add_notice(f"Preset applied: {preset.name}")


def _save(store: Store, owner: str) -> None:
    name = str(session.widget_value(session.PRESET_NAME) or "")
    try:
        saved = store.save_preset(owner, from_settings("", name, session.chat_settings()))
    except ChatLabError as err:
        session.add_notice(str(err))
        return
    session.clear_widget(session.PRESET_NAME)
    session.add_notice(f"Preset saved: {saved.name}")


def _delete(store: Store, owner: str, preset: Preset) -> None:
    try:
        store.delete_preset(owner, preset.id)
    except ChatLabError as err:
        session.add_notice(str(err))
        return
    session.add_notice(f"Preset deleted: {preset.name}")


def _import(store: Store, owner: str) -> None:
    upload = session.widget_value(session.PRESET_IMPORT)
    if upload is None:
        return
    try:
        imported = store.import_presets(owner, upload.getvalue())  # type: ignore[attr-defined]
    except ChatLabError as err:
        session.add_notice(f"Import failed: {err}")
        return
    session.add_notice(f"Imported {len(imported)} presets.")
