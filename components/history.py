"""The conversation as drawn: messages, their status and their telemetry."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab import logprobs
from chatlab.attachments import Attachment
from chatlab.markdown import BlockSplitter, plain, render_mode, safe_markdown
from chatlab.messages import ChatMessage, ReplyStats, Status
from chatlab.servers import display_name
from chatlab.turns import context_full
from components import session

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
PLAIN_NOTE = "Shown as plain text: this part is too long or too dense in formatting to draw."


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
        render_text(message.content)
        if message.attachments:
            render_attachments(message.attachments)
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


def render_text(text: str) -> None:
    """Message text as Markdown, or block by block when some block is too big to draw."""
    if render_mode(text) == "markdown":
        st.markdown(safe_markdown(text))
        return
    splitter = BlockSplitter()
    for block in [*splitter.feed(text), splitter.tail]:
        if block:
            draw_block(st.container(), block)


def draw_block(target: DeltaGenerator, block: str) -> None:
    """One block into ``target``: Markdown, or plain text when the browser could not cope."""
    if render_mode(block) == "markdown":
        target.markdown(safe_markdown(block))
        return
    with target.container():
        st.caption(PLAIN_NOTE)
        st.code(block, language=None, wrap_lines=True)


def render_footer(message: ChatMessage) -> None:
    """Status note, notices about ignored settings, and the reply's telemetry."""
    note = CONTEXT_FULL_NOTE if context_full(message) else STATUS_NOTES.get(message.status)
    if note:
        st.caption(f":orange[{note}]")
    for notice in message.notices:  # imported conversations bring their own
        st.caption(f":blue[{plain(notice)}]")
    if message.stats is not None:
        st.caption(telemetry_line(message.stats))


def telemetry_line(stats: ReplyStats) -> str:
    """``gpt-4o-mini · 0.41 s to first token · 52 tok/s · 120 in / 310 out · $0.0002 · stop``."""
    usage = stats.usage
    approx = "≈ " if usage.estimated else ""
    # Names come from the server; a llama.cpp file path shows its file name, as the picker.
    parts = [plain(display_name(stats.model), empty="(unnamed model)")]
    if stats.time_to_first_token is not None:
        parts.append(f"{stats.time_to_first_token:.2f} s to first token")
    if stats.tokens_per_second is not None:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    thought = f" ({stats.reasoning_tokens:,} thinking)" if stats.reasoning_tokens else ""
    parts.append(
        f"{approx}{usage.prompt_tokens:,} in / {approx}{usage.completion_tokens:,} out tokens"
        + thought
    )
    # "$" is escaped: Streamlit reads "$...$" as LaTeX. No price is never shown as $0.
    cost = stats.cost_usd
    parts.append("cost unknown" if cost is None else f"{approx}\\${cost:.6f}")
    if stats.parts > 1:  # Continue: one reply, several requests, all counted
        parts.append(f"{stats.parts} requests")
    parts.append(f"{stats.total_time:.1f} s")
    parts.append(f"finish: {plain(stats.finish_reason or 'none')}")
    if stats.mean_logprob is not None:
        parts.append(logprobs.summary(stats.mean_logprob))
    return " · ".join(parts)
