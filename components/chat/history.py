"""The conversation as drawn: messages, their status and their telemetry."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatlab.attachments import Attachment
from chatlab.chat import context_full
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, Status
from components import session
from components.chat.tool_calls import render_tool_calls
from components.reply_text import render_text, telemetry_line
from components.response_format import json_check, render_json_reply

STATUS_NOTES = {
    Status.STOPPED: "Stopped. The partial reply is kept and sent as context.",
    Status.LENGTH: "Cut off at the max-tokens limit. Continue asks for the rest.",
    Status.CONTENT_FILTER: "The provider's content filter stopped this reply.",
    Status.FAILED: "This reply was interrupted by an error; what arrived is kept.",
}
CONTEXT_FULL_NOTE = (
    "Cut off because the model's context window is full (the conversation plus this reply "
    "fill it), not by max tokens. Drop the oldest turns, or use a model with a bigger context."
)
THUMBNAIL_WIDTH = 160


def render_history(
    messages: list[ChatMessage],
    shown: int,
    tools: Callable[[ChatMessage], None] | None = None,
) -> None:
    """Draw the most recent ``shown`` messages, with a control to show earlier ones.

    ``tools`` draws what goes under a message's text (alternatives, actions).
    """
    hidden = max(0, len(messages) - shown)
    if hidden:
        st.button(
            f"Show earlier messages ({hidden} hidden)",
            icon=":material/history:",
            on_click=session.show_more_history,
        )
    for message in messages[hidden:]:
        render_message(message, tools)


def render_message(
    message: ChatMessage, tools: Callable[[ChatMessage], None] | None = None
) -> None:
    """One message: Markdown without HTML, then its notes and numbers."""
    with st.chat_message(message.role):
        if message.reasoning:
            render_thinking(message.reasoning)
        checked = json_check(message)  # a reply asked for as JSON: shown indented, checked
        if checked is None:
            render_text(message.content)
        else:
            render_json_reply(message, checked)
        if message.attachments:
            render_attachments(message.attachments)
        if message.tool_calls:
            render_tool_calls(message)
        render_footer(message)
        if tools is not None:
            tools(message)


def render_attachments(files: tuple[Attachment, ...]) -> None:
    """A message's files: images as thumbnails of the bytes we hold, then every name."""
    images = [a.data for a in files if a.kind == "image"]
    if images:
        try:
            st.image(images, width=THUMBNAIL_WIDTH)
        except (OSError, ValueError):  # checked when attached; a hand-edited row may not be
            st.caption(":orange[An attached image could not be drawn.]")
    names = " · ".join(plain(a.name) for a in files)  # names come from the user's disk
    st.caption(f":material/attach_file: {names}")


def render_thinking(reasoning: str) -> None:
    """A reasoning model's thinking, collapsed above its answer (it is never sent back)."""
    with st.expander("Thinking", icon=":material/psychology:"):
        render_text(reasoning)


def render_footer(message: ChatMessage) -> None:
    """Status note, notices about ignored settings, and the reply's telemetry."""
    note = CONTEXT_FULL_NOTE if context_full(message) else STATUS_NOTES.get(message.status)
    if note:
        st.caption(f":orange[{note}]")
    for notice in message.notices:  # imported conversations bring their own
        st.caption(f":blue[{plain(notice)}]")
    if message.stats is not None:
        st.caption(telemetry_line(message.stats))
