"""The message box, and what happens to a message too long to send."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from components import session

MAX_MESSAGE_CHARS = 100_000
_SENT = "sent_prompt"  # the message on_submit caught, until read_prompt takes it


def _keep_sent() -> None:
    """on_submit: keep the message, and make sure the page itself runs to show it."""
    st.session_state[_SENT] = st.session_state[session.PROMPT]
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        # Streamlit's browser sends the widget changes of one event-loop task in one
        # rerun, scoped to the first fragment among them (WidgetStateManager.scheduleFlush,
        # streamlit/streamlit#12747): a message sent together with a sidebar setting
        # arrives in the settings fragment's rerun, which never reaches this page, and the
        # box stays on Stop. Callbacks still run then; a full rerun shows the message.
        st.rerun()


def read_prompt() -> str | None:
    """The message just sent, if any; a message over the limit is refused, visibly."""
    # No max_chars on the widget: the browser would silently empty the box on a paste
    # over the limit. The limit is checked here, where the user can be told.
    st.chat_input("Message the model", submit_mode="stop", key=session.PROMPT, on_submit=_keep_sent)
    prompt: str | None = st.session_state.pop(_SENT, None)
    if prompt is None or len(prompt) <= MAX_MESSAGE_CHARS:
        return prompt
    with st.container(border=True):
        st.error(
            f"This message is {len(prompt):,} characters long; Chat Lab sends at most "
            f"{MAX_MESSAGE_CHARS:,}. Nothing was sent. Shorten it (or attach less text) "
            "and send it again; your text is below to copy.",
            icon=":material/error:",
        )
        st.download_button(
            "Download your message",
            data=prompt,
            file_name="message.txt",
            mime="text/plain",
            icon=":material/download:",
            on_click="ignore",
        )
        st.code(prompt[:MAX_MESSAGE_CHARS], language=None, wrap_lines=True)
    return None
