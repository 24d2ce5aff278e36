"""Chat: talk to a model and feel what its settings do."""

from __future__ import annotations

import streamlit as st

from chatlab import config
from components import session, sidebar, turn
from components.history import render_history
from components.notices import render_continue, render_error
from components.setup_panel import render_setup

MAX_MESSAGE_CHARS = 100_000

session.init(config.default_model(session.secrets()))
endpoint = sidebar.endpoint_panel()
with st.sidebar:
    sidebar.settings_panel(endpoint)

if not endpoint.usable:
    render_setup()
    st.stop()

prompt = st.chat_input(
    "Message the model", max_chars=MAX_MESSAGE_CHARS, submit_mode="stop", key="prompt"
)
planned = turn.begin(prompt, session.pop_action())
history = session.messages()
render_history(history, session.history_shown())

if planned is not None:
    turn.run(endpoint, session.chat_settings(), planned)

if (err := session.error()) is not None:
    render_error(err)
else:
    render_continue(history[-1] if history else None)
