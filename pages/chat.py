"""Chat: talk to a model and feel what its settings do."""

from __future__ import annotations

import streamlit as st

from chatlab import config
from components import account, conversations, session, sidebar, turn
from components.history import render_history
from components.notices import render_continue, render_error
from components.setup_panel import render_setup

MAX_MESSAGE_CHARS = 100_000

session.init(config.default_model(session.secrets()))
owner = account.current_owner()
if owner is None:
    account.render_login()
    st.stop()

store = conversations.open_store()
conversations.follow_url(store, owner)
keeper = conversations.Keeper(store, owner)
endpoint = sidebar.endpoint_panel()
prompt = (
    st.chat_input(
        "Message the model", max_chars=MAX_MESSAGE_CHARS, submit_mode="stop", key="prompt"
    )
    if endpoint.usable
    else None
)
planned = turn.begin(prompt, session.pop_action(), keeper)
conversations.sync_url()
with st.sidebar:
    sidebar.settings_panel(endpoint)
    if store is not None:
        sidebar.conversations_panel(store, owner)
account.render_account()
if (note := session.notice()) is not None:
    st.toast(note, icon=":material/info:")

if not endpoint.usable:
    render_setup()
    st.stop()

history = session.messages()
render_history(history, session.history_shown())
if planned is not None:
    turn.run(endpoint, session.chat_settings(), planned, keeper)

if (err := session.error()) is not None:
    render_error(err)
else:
    render_continue(history[-1] if history else None)
