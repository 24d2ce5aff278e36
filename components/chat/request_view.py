"""Under a reply: the exact request it came from, as JSON and as Python to copy.

The popover's content is drawn only while it is open (``on_change="rerun"``): a long
conversation's requests repeat every message before them, and sending each one to the
browser on every rerun would cost more than the page itself.
"""

from __future__ import annotations

import streamlit as st

from chatlab import config
from chatlab.messages import ChatMessage
from chatlab.provider import python_snippet, request_json
from components import conversations, session
from components.base_url import url_policy
from components.popover import when_open

LABEL = "Request"
HELP = "The request this reply came from: its JSON body, and the same call in Python."
SEVERAL_PARTS = (
    "This reply was made by {parts} requests (Continue); this is the last of them. "
    "Your key is not shown: the snippet reads it from `OPENAI_API_KEY`."
)
NOT_KEPT = "No request was kept for this reply (it was made before Chat Lab kept them)."
ONE_PART = "Your key is not shown: the snippet reads it from `OPENAI_API_KEY`."


def render_request(message: ChatMessage, base_url: str | None) -> None:
    """A "Request" popover with the body as sent (JSON) and the same call with the SDK."""
    if message.role != "assistant" or (message.request is None and message.settings is None):
        return  # not a reply Chat Lab made
    popover = when_open(LABEL, key=f"request-{message.id}", icon=":material/code:", help=HELP)
    if popover is None:
        return
    # Opening a conversation leaves requests out (they grow with its square): read it now.
    body = message.request or conversations.load_request(message.id)
    parts = message.stats.parts if message.stats is not None else 1
    with popover:
        if body is None:
            st.caption(NOT_KEPT)
            return
        st.caption(SEVERAL_PARTS.format(parts=parts) if parts > 1 else ONE_PART)
        as_json, as_python = st.tabs(["JSON", "Python"])
        as_json.code(request_json(body), language="json")
        as_python.code(python_snippet(body, base_url), language="python")


def current_base_url() -> str | None:
    """The base URL requests go to now (the sidebar's, the secrets', the environment's)."""
    endpoint = config.resolve_endpoint(
        session.sidebar_values(), session.secrets(), policy=url_policy()
    )
    return endpoint.base_url
