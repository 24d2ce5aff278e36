"""What the user can do after a turn: fix an error, retry, continue a cut-off reply."""

from __future__ import annotations

import streamlit as st

from chatlab.errors import ChatError, Kind
from chatlab.markdown import safe_markdown
from chatlab.messages import ChatMessage, Status
from components import session

CONTINUABLE = {Status.LENGTH, Status.STOPPED, Status.FAILED}


def render_error(err: ChatError) -> None:
    """The error in words, what to do, and one-click retries."""
    with st.container(border=True):
        st.error(safe_markdown(f"**{err.message}** {err.action}"), icon=":material/error:")
        if err.detail:
            st.caption(safe_markdown(f"Server said: {err.detail}"))
        left, right = st.columns(2)
        left.button(
            "Retry",
            icon=":material/refresh:",
            on_click=session.request_action,
            args=("retry",),
            type="primary",
        )
        if err.kind == Kind.CONTEXT_LENGTH:
            right.button(
                "Drop oldest turns and retry",
                icon=":material/content_cut:",
                on_click=session.request_action,
                args=("trim_and_retry",),
            )


def render_continue(last: ChatMessage | None) -> None:
    """A Continue button under a reply that was cut off, stopped or interrupted."""
    if last is None or last.role != "assistant" or last.status not in CONTINUABLE:
        return
    if last.content.strip():
        st.button(
            "Continue",
            icon=":material/play_arrow:",
            on_click=session.request_action,
            args=("continue",),
        )
