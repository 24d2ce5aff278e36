"""What the user can do after a turn: fix an error, retry, continue a cut-off reply."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab import controls
from chatlab.chat import CONTINUABLE, context_full, turns
from chatlab.errors import ChatError, ChatLabError, Kind
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.tokens import max_output_tokens
from components import session


def render_error(err: ChatLabError) -> None:
    """The error in words, what to do, and one-click retries."""
    # Messages quote servers and files: shown as text, never as their Markdown.
    message, action = plain(err.message.strip()), plain(err.action.strip())
    alone = _alone_too_long(err)
    if alone:  # retrying or dropping turns would send the same too-long message again
        action = plain("Shorten your message: Edit keeps its text.")
    with st.container(border=True):
        st.error(f"**{message}** {action}" if message else action, icon=":material/error:")
        detail = err.detail if isinstance(err, ChatError) else None
        if detail:
            st.caption(f"Server said: {plain(detail)}")
        left, right = st.columns(2)
        if err.retryable and not alone:
            left.button(
                controls.RETRY,
                icon=":material/refresh:",
                on_click=session.request_action,
                args=("retry",),
                type="primary",
            )
        if isinstance(err, ChatError) and err.kind == Kind.NO_ANSWER:
            limit = max_output_tokens(session.model())
            right.button(
                "Raise max tokens and retry",
                icon=":material/expand:",
                on_click=session.raise_max_tokens_and_retry,
                args=(limit,),
                disabled=session.max_tokens() >= limit,
            )
        if isinstance(err, ChatError) and err.kind == Kind.CONTEXT_LENGTH:
            _make_room(err, right)


def _alone_too_long(err: ChatLabError) -> bool:
    """A context overflow with nothing to drop: the one message is itself too long."""
    if not isinstance(err, ChatError) or err.kind != Kind.CONTEXT_LENGTH:
        return False
    return not turns.droppable_turns(session.chat().conversation)


def _make_room(err: ChatError, place: DeltaGenerator) -> None:
    """Drop the oldest turns where there are some; else say the message itself is too
    long, by how much, and open it to edit (its text is kept)."""
    conversation = session.chat().conversation
    if turns.droppable_turns(conversation):
        place.button(
            "Drop oldest turns and retry",
            icon=":material/content_cut:",
            on_click=session.request_action,
            args=("trim_and_retry",),
        )
        return
    question = turns.last_question(conversation)
    st.warning(turns.alone_too_long(err.prompt_tokens, err.context_window), icon=":material/edit:")
    if question is not None:
        place.button(
            "Edit your message",
            icon=":material/edit:",
            on_click=session.start_edit,
            args=(question.id, question.content),
            type="primary",
        )


def render_continue(last: ChatMessage | None) -> None:
    """Continue under a reply that was cut off, stopped or interrupted (or, when the
    context window filled up, the way to make room)."""
    if last is None or last.role != "assistant" or last.status not in CONTINUABLE:
        return
    if context_full(last):
        # Continuing would only add to a full window. With older turns there is room to
        # make; with the question alone there is none (the note under the reply says so).
        if turns.droppable_turns(session.chat().conversation):
            st.button(
                "Drop oldest turns and retry",
                icon=":material/content_cut:",
                on_click=session.request_action,
                args=("trim_and_retry",),
            )
    elif last.content.strip():
        st.button(
            controls.CONTINUE,
            icon=":material/play_arrow:",
            on_click=session.request_action,
            args=("continue",),
        )
