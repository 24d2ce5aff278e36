"""Under a reply: the exact request it came from, as JSON and as Python to copy.

The panel's content is drawn only while it is open (``view_panel``): a long
conversation's requests repeat every message before them, and sending each one to the
browser on every rerun would cost more than the page itself. The code scrolls inside a
box of at most ``CODE_HEIGHT`` pixels, so the panel fits a laptop's or a phone's screen.
"""

from __future__ import annotations

import streamlit as st

from chatlab import config
from chatlab.config import Endpoint
from chatlab.messages import ChatMessage
from chatlab.provider import python_snippet, request_json
from components import conversations, session
from components.base_url import url_policy
from components.chat import view_panel

VIEW = "request"
LABEL = "Request"
CODE_HEIGHT = 420
HELP = "The request this reply came from: its JSON body, and the same call in Python."
SEVERAL_PARTS = (
    "This reply was made by {parts} requests (Continue); this is the last of them. "
    "Your key is not shown: the snippet reads it from `OPENAI_API_KEY`."
)
NOT_KEPT = "No request was kept for this reply (it was made before Chat Lab kept them)."
ONE_PART = "Your key is not shown: the snippet reads it from `OPENAI_API_KEY`."


def made_by_chat_lab(message: ChatMessage) -> bool:
    """A reply whose request Chat Lab may have kept."""
    return message.role == "assistant" and (
        message.request is not None or message.settings is not None
    )


def render_button(message: ChatMessage) -> None:
    """The "Request" button among a reply's tools."""
    if made_by_chat_lab(message):
        view_panel.view_button(VIEW, message.id, label=LABEL, icon=":material/code:", help=HELP)


def render_request(message: ChatMessage, base_url: str | None) -> None:
    """The open Request panel: the body as sent (JSON) and the same call with the SDK."""
    if not made_by_chat_lab(message) or not view_panel.is_open(VIEW, message.id):
        return
    # Opening a conversation leaves requests out (they grow with its square): read it now.
    body = message.request or conversations.load_request(message.id)
    parts = message.stats.parts if message.stats is not None else 1
    with view_panel.panel(VIEW, message.id, LABEL):
        if body is None:
            st.caption(NOT_KEPT)
            return
        st.caption(SEVERAL_PARTS.format(parts=parts) if parts > 1 else ONE_PART)
        as_json, as_python = st.tabs(["JSON", "Python"])
        as_json.code(request_json(body), language="json", height=CODE_HEIGHT, wrap_lines=True)
        as_python.code(
            python_snippet(body, base_url), language="python", height=CODE_HEIGHT, wrap_lines=True
        )


def current_endpoint() -> Endpoint:
    """The endpoint requests go to now (the sidebar's, the secrets', the environment's)."""
    return config.resolve_endpoint(session.sidebar_values(), session.secrets(), policy=url_policy())
