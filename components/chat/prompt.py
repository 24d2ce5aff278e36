"""The message box, its attachments, and what happens to a message that cannot be sent."""

from __future__ import annotations

import math

import streamlit as st

from chatlab import attachments
from chatlab.attachments import AttachmentError, Prompt
from chatlab.markdown import plain
from chatlab.structured import schema_problem
from components import session

MAX_MESSAGE_CHARS = 100_000
# The limits, stated where the user types (the full wording is in the README).
PLACEHOLDER = (
    f"Message the model · attach up to {attachments.MAX_FILES} images or text files "
    f"({attachments.MAX_IMAGE_BYTES // 1_000_000} MB per image, "
    f"{attachments.MAX_TEXT_BYTES // 1_000_000} MB per text file, "
    f"{attachments.MAX_TOTAL_BYTES // 1_000_000} MB in all)"
)


def render_box() -> None:
    """The chat box, pinned under the conversation; what it sends waits in the session
    (``session.keep_sent``) for ``take_prompt``."""
    # No max_chars on the widget: the browser would silently empty the box on a paste
    # over the limit. The limits are checked in ``take_prompt``, where the user can be
    # told. The browser's own per-file cap only keeps absurd uploads off the server.
    st.chat_input(
        PLACEHOLDER,
        submit_mode="stop",
        key=session.PROMPT,
        on_submit=session.keep_sent,
        accept_file="multiple",
        file_type=list(attachments.FILE_TYPES),
        max_upload_size=math.ceil(attachments.MAX_IMAGE_BYTES / 1_000_000),
    )


def take_prompt() -> Prompt | None:
    """The message just sent, if any; one that cannot be sent is refused, visibly."""
    text, files = session.take_sent(), session.take_sent_files()
    if text is None:
        return None
    if len(text) > MAX_MESSAGE_CHARS:
        _refused(
            f"This message is {len(text):,} characters long; Chat Lab sends at most "
            f"{MAX_MESSAGE_CHARS:,}. Nothing was sent. Shorten it (or attach less text) "
            "and send it again; your text is below to copy.",
            text,
        )
        return None
    problem = schema_problem(session.chat_settings().response_format)
    if problem is not None:  # the sidebar's JSON Schema: never sent as it is
        _refused(plain(f"{problem.message} Nothing was sent. {problem.action}"), text)
        return None
    try:
        checked = attachments.check_files(files)
    except AttachmentError as exc:
        _refused(plain(str(exc)), text)  # it quotes file names: untrusted
        return None
    return Prompt(text, checked)


def _refused(explanation: str, text: str) -> None:
    """Why nothing was sent, and the user's text to copy or download."""
    with st.container(border=True):
        st.error(explanation, icon=":material/error:")
        if not text:
            return
        st.download_button(
            "Download your message",
            data=text,
            file_name="message.txt",
            mime="text/plain",
            icon=":material/download:",
            on_click="ignore",
        )
        st.code(text[:MAX_MESSAGE_CHARS], language=None, wrap_lines=True)
