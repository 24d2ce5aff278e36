"""The message box, and what happens to a message too long to send."""

from __future__ import annotations

import streamlit as st

from components import session

MAX_MESSAGE_CHARS = 100_000


def read_prompt() -> str | None:
    """The message just sent, if any; a message over the limit is refused, visibly."""
    # No max_chars on the widget: the browser would silently empty the box on a paste
    # over the limit. The limit is checked here, where the user can be told.
    st.chat_input(
        "Message the model", submit_mode="stop", key=session.PROMPT, on_submit=session.keep_sent
    )
    prompt = session.take_sent()
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
