"""The conversation as drawn: messages, their status and their telemetry."""

from __future__ import annotations

import streamlit as st

from chatlab.markdown import safe_markdown
from chatlab.messages import ChatMessage, ReplyStats, Status
from components import session

STATUS_NOTES = {
    Status.STOPPED: "Stopped. The partial reply is kept and sent as context.",
    Status.LENGTH: "Cut off at the max-tokens limit. Continue asks for the rest.",
    Status.CONTENT_FILTER: "The provider's content filter stopped this reply.",
    Status.FAILED: "This reply was interrupted by an error; what arrived is kept.",
}


def render_history(messages: list[ChatMessage], shown: int) -> None:
    """Draw the most recent ``shown`` messages, with a control to show earlier ones."""
    hidden = max(0, len(messages) - shown)
    if hidden:
        st.button(
            f"Show earlier messages ({hidden} hidden)",
            icon=":material/history:",
            on_click=session.show_more_history,
        )
    for message in messages[hidden:]:
        render_message(message)


def render_message(message: ChatMessage) -> None:
    """One message: Markdown without HTML, then its notes and numbers."""
    with st.chat_message(message.role):
        st.markdown(safe_markdown(message.content))
        render_footer(message)


def render_footer(message: ChatMessage) -> None:
    """Status note, notices about ignored settings, and the reply's telemetry."""
    note = STATUS_NOTES.get(message.status)
    if note:
        st.caption(f":orange[{note}]")
    for notice in message.notices:
        st.caption(f":blue[{notice}]")
    if message.stats is not None:
        st.caption(telemetry_line(message.stats))


def telemetry_line(stats: ReplyStats) -> str:
    """``gpt-4o-mini · 0.41 s to first token · 52 tok/s · 120 in / 310 out · $0.0002 · stop``."""
    usage = stats.usage
    approx = "≈ " if usage.estimated else ""
    parts = [f"`{stats.model}`"]
    if stats.time_to_first_token is not None:
        parts.append(f"{stats.time_to_first_token:.2f} s to first token")
    if stats.tokens_per_second is not None:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    parts.append(
        f"{approx}{usage.prompt_tokens:,} in / {approx}{usage.completion_tokens:,} out tokens"
    )
    if stats.cost_usd is not None:
        parts.append(f"{approx}\\${stats.cost_usd:.6f}")
    parts.append(f"{stats.total_time:.1f} s")
    parts.append(f"finish: {stats.finish_reason or 'none'}")
    return " · ".join(parts)
