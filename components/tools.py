"""Tools in the sidebar: the ones defined, how the model may choose among them, and a form
to define one (name, description, JSON Schema parameters, a canned result).

A definition is checked as it is saved (``chatlab.tools.make_tool``: the schema with
``jsonschema``); a refusal is said (a toast) and what was typed stays in the form, also
while Tools is shut. Saving a tool under a name already defined replaces that tool.

With a store, tools are kept per owner, as presets are (``Store.save_tool``): read once
per session into the chat's state, written through on each save and delete. Without
one (or when it cannot be read) they live in the session alone, and the page says so.
"""

from __future__ import annotations

import json

import streamlit as st

from chatlab.errors import ChatLabError
from chatlab.markdown import plain
from chatlab.storage import Store
from chatlab.tools import MAX_TOOLS, Tool, ToolError, make_tool
from components import session
from components.popover import KEPT, section_when_open

TOOL_NAME = "tool_name"
TOOL_DESCRIPTION = "tool_description"
TOOL_PARAMETERS = "tool_parameters"
TOOL_CANNED = "tool_canned"
EXAMPLE_SCHEMA = (
    '{\n  "type": "object",\n  "properties": {"city": {"type": "string"}},\n'
    '  "required": ["city"]\n}'
)
CHOICE_HELP = (
    "auto: the model decides whether to call a tool; none: it answers in text; required: it "
    "must call one; or name the one tool it must call."
)


def render_tools(store: Store | None, owner: str) -> None:
    """The Tools section: the list, tool_choice, and the form that defines one."""
    tools = _loaded(store, owner)
    section = section_when_open(
        f"Tools ({len(tools)})", key=session.TOOLS_SECTION, icon=":material/build:"
    )
    if section is None:
        return
    with section:
        if store is None:
            st.caption("Tools are kept for this session only (no database).")
        if not tools:
            st.caption("No tools: the model answers in text. Define one to let it call it.")
        for tool in tools:
            name, edit, delete = st.columns([3, 2, 2], vertical_alignment="center")
            name.caption(plain(tool.name))
            edit.button(
                "Edit",
                icon=":material/edit:",
                key=f"tool-edit-{tool.name}",
                on_click=_edit,
                args=(tool,),
                type="tertiary",
                help="Put this tool in the form below; save it under the same name to change it.",
            )
            delete.button(
                "Delete",
                icon=":material/delete:",
                key=f"tool-delete-{tool.name}",
                on_click=_delete,
                args=(store, owner, tool.name),
                type="tertiary",
            )
        choices = ["auto", "none", "required", *(f"tool:{tool.name}" for tool in tools)]
        if session.widget_value(session.TOOL_CHOICE) not in choices:
            session.set_widget(session.TOOL_CHOICE, "auto")  # its tool was deleted
        st.selectbox(
            "Tool choice",
            choices,
            key=session.TOOL_CHOICE,
            format_func=lambda value: value.removeprefix("tool:"),
            help=CHOICE_HELP,
            disabled=not tools,
            persist_state=KEPT,
        )
        _definition_form(store, owner)


def _loaded(store: Store | None, owner: str) -> tuple[Tool, ...]:
    """This session's tools: the owner's stored ones, read on first use (and again when
    someone else signs in)."""
    chat = session.chat()
    if chat.tools is None or chat.tools_of != owner:
        chat.tools, chat.tools_of = (), owner
        if store is not None:
            try:
                chat.tools = tuple(store.list_tools(owner))
            except ChatLabError as err:
                st.caption(f"Your tools could not be read: {plain(str(err))}")
    return chat.tools


def _definition_form(store: Store | None, owner: str) -> None:
    # Not an ``st.form``: a form's fields are sent only with its button, so what was typed
    # would be gone once Tools is shut (its widgets are drawn only while it is open). Each
    # field is sent as it is left, and kept while the section is shut (``KEPT``).
    with st.container(border=True):
        st.text_input(
            "Tool name", key=TOOL_NAME, placeholder="get_weather", max_chars=64, persist_state=KEPT
        )
        st.text_input("Description", key=TOOL_DESCRIPTION, persist_state=KEPT)
        st.text_area(
            "Parameters (JSON Schema)",
            key=TOOL_PARAMETERS,
            placeholder=EXAMPLE_SCHEMA,
            persist_state=KEPT,
        )
        st.text_area(
            "Canned result",
            key=TOOL_CANNED,
            persist_state=KEPT,
            help="Offered as the answer to each call of this tool (you can still change it).",
        )
        st.button("Save tool", icon=":material/add:", on_click=_save, args=(store, owner))


def _save(store: Store | None, owner: str) -> None:
    values = [str(session.widget_value(key) or "") for key in _FIELDS]
    try:
        tool = make_tool(*values)
        kept = [t for t in session.chat().tools or () if t.name != tool.name]
        if len(kept) >= MAX_TOOLS:
            raise ToolError(f"at most {MAX_TOOLS} tools can be defined; delete one first")
        if store is not None:
            store.save_tool(owner, tool)
    except ChatLabError as err:
        session.add_notice(str(err))
        return
    session.chat().tools = (*kept, tool)
    for key in _FIELDS:
        session.clear_widget(key)
    session.add_notice(f"Tool saved: {tool.name}")


def _edit(tool: Tool) -> None:
    values = (
        tool.name,
        tool.description,
        json.dumps(tool.parameters, indent=2),
        tool.canned_result,
    )
    for key, value in zip(_FIELDS, values, strict=True):
        session.set_widget(key, value)


def _delete(store: Store | None, owner: str, name: str) -> None:
    if store is not None:
        try:
            store.delete_tool(owner, name)
        except ChatLabError as err:
            session.add_notice(str(err))
            return
    session.chat().tools = tuple(t for t in session.chat().tools or () if t.name != name)


_FIELDS = (TOOL_NAME, TOOL_DESCRIPTION, TOOL_PARAMETERS, TOOL_CANNED)
