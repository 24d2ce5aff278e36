"""The Base URL field, drawn only where visitors may type one (see ``chatlab.url_policy``)."""

from __future__ import annotations

import streamlit as st

from chatlab import config, controls
from chatlab.markdown import plain
from chatlab.url_policy import UrlPolicy, url_problem
from components import session

BASE_URL_HELP = (
    "Any OpenAI-compatible server, e.g. http://localhost:11434/v1 for Ollama. "
    "The app's own key is never sent to a URL typed here: paste a key above "
    "if this server needs one."
)


def listen_address() -> str | None:
    """Streamlit's ``server.address``: where this app listens (None: every interface)."""
    found = st.get_option("server.address")
    return str(found) if found else None


def url_policy() -> UrlPolicy:
    """Whether this app's visitors may type a Base URL, and what it may reach."""
    return config.url_policy(listen_address())


def render_input(policy: UrlPolicy) -> None:
    """The Base URL field and what is wrong with the URL typed, if anything; nothing
    when visitors may not choose the server."""
    if not policy.allow_custom:
        return
    st.text_input(
        controls.BASE_URL,
        key=session.BASE_URL_INPUT,
        placeholder="https://api.openai.com/v1",
        help=BASE_URL_HELP,
    )
    typed = str(session.widget_value(session.BASE_URL_INPUT) or "").strip()
    problem = url_problem(typed) if typed else None
    if problem is not None:
        st.caption(f":red[{plain(problem)}]")
