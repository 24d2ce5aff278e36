"""Structured output as drawn: the response format's control in the sidebar, and a JSON
reply pretty-printed with its check, on any page.

The control is one declared parameter (``ChatSettings.response_format``, ``control="format"``)
drawn as two widgets: the type (Text, JSON object, JSON Schema) and, for JSON Schema, the
schema's editor, with examples to start from and the schema checked as it is typed (the
same check that refuses it before sending: ``chatlab.structured.schema_problem``). The
decisions are ``chatlab.structured``'s; this only draws. Everything a reply or a schema
holds reaches the page as code (``st.code``) or through ``plain``.
"""

from __future__ import annotations

import streamlit as st

from chatlab.markdown import plain
from chatlab.messages import ChatMessage, Status
from chatlab.params import Declared, schema_key, widget_key
from chatlab.provider import param_ignored
from chatlab.structured import (
    EXAMPLES,
    FORMAT_LABELS,
    ReplyCheck,
    ResponseFormat,
    check_reply,
    schema_problem,
)
from components import session
from components.popover import KEPT
from components.reply_text import render_text

__all__ = ["json_check", "render_check", "render_control", "render_json_reply"]

NO_EXAMPLE = "Start from an example…"


def render_control(found: Declared, help_text: str | None) -> None:
    """The type, then (for JSON Schema) the schema's editor and whether it can be sent."""
    kind, editor = widget_key(found.name), schema_key(found.name)
    st.selectbox(
        found.param.label,
        list(FORMAT_LABELS),
        key=kind,
        format_func=lambda word: FORMAT_LABELS.get(word, word),
        help=help_text,
        persist_state=KEPT,
    )
    if session.widget_value(kind) != "json_schema":
        return
    st.selectbox(
        "Example schemas",
        [NO_EXAMPLE, *EXAMPLES],
        key=session.RESPONSE_FORMAT_EXAMPLE,
        on_change=_load_example,
        args=(editor,),
        label_visibility="collapsed",
        persist_state=KEPT,
    )
    st.text_area(
        "JSON Schema",
        key=editor,
        height=220,
        help="Checked before it is sent. Its title (letters, digits, _ and -) is sent as the "
        "schema's name. OpenAI's strict mode also wants every property required and "
        "additionalProperties: false, as the examples have.",
        persist_state=KEPT,
    )
    problem = schema_problem(ResponseFormat("json_schema", str(session.widget_value(editor) or "")))
    if problem is None:
        st.caption(":green[:material/check: A valid JSON Schema.]")
    else:
        st.caption(f":red[{plain(problem.message)}]")


def _load_example(editor: str) -> None:
    picked = session.widget_value(session.RESPONSE_FORMAT_EXAMPLE)
    if isinstance(picked, str) and picked in EXAMPLES:
        session.set_widget(editor, EXAMPLES[picked])
    session.set_widget(session.RESPONSE_FORMAT_EXAMPLE, NO_EXAMPLE)


def json_check(message: ChatMessage) -> ReplyCheck | None:
    """A finished reply asked for as JSON, checked; None for text (or when the server
    refused the format: the reply then says so, and is text)."""
    settings = message.settings
    asked = settings.response_format if settings is not None else None
    if message.role != "assistant" or asked is None or message.status == Status.STREAMING:
        return None
    if param_ignored("response_format") in message.notices:
        return None
    finish = message.stats.finish_reason if message.stats is not None else None
    return check_reply(
        message.content, asked, "length" if message.status == Status.LENGTH else finish
    )


def render_json_reply(message: ChatMessage, checked: ReplyCheck) -> None:
    """The reply as indented JSON (as it came when it is not JSON), then its check."""
    if checked.pretty:
        st.code(checked.pretty, language="json", wrap_lines=True)
    else:
        render_text(message.content)
    render_check(checked)


def render_check(checked: ReplyCheck) -> None:
    """What the check found: valid, or the problem, or each violation with its path."""
    if checked.valid:
        st.caption(f":green[:material/check_circle: {checked.summary}]")
        return
    st.caption(f":orange[:material/error: {plain(checked.summary)}]")
    if checked.violations:
        lines = [f"- {plain(str(violation))}" for violation in checked.violations]
        if checked.more:
            lines.append(f"- … and {checked.more:,} more")
        st.markdown("\n".join(lines))
