"""Chat: talk to a model and feel what its settings do."""

from __future__ import annotations

import streamlit as st

from components import account, conversations, page, session, sidebar, tools
from components.chat import branches, turn
from components.chat.history import render_history
from components.chat.live import drawn_by_history, render_live
from components.chat.prompt import take_prompt
from components.setup_panel import render_setup

store, owner = page.prepare()
conversations.follow_url(store, owner)
conversations.catch_up(store, owner)
endpoint = sidebar.endpoint()
# A message typed in the chat box reruns the live fragment alone (components/chat/live.py);
# a full run plans a button's turn, or a message that came in with another rerun.
prompt = take_prompt() if endpoint.usable else None
# The request leaves here, and the rest is drawn while the server thinks. (Planned before
# the sidebar, so its context budget counts the new message.)
plan = turn.take_turn(prompt, endpoint)
sidebar.endpoint_panel(endpoint)
conversations.sync_url()
page.show_notices()
with st.sidebar:
    sidebar.settings_panel(endpoint)
    tools.render_tools(store, owner)
    if store is not None:
        sidebar.conversations_panel(store, owner)
account.render_account()

if not endpoint.usable:
    render_setup()
    st.stop()

chat = session.chat()
conversation = chat.conversation
# One block above the live end, whatever it holds: the live end keeps its place on the
# page, so its fragment keeps its id from one full run to the next, and a message sent
# while the page is being drawn whole after a reply still reaches it.
with st.container():
    saving = conversations.render_saving()
    conversations.render_orphaned(store, owner)
    shown = conversation.path()
    history = shown[:-1] if plan is not None else shown  # the reply in ``plan`` streams below
    render_history(history, chat.history_shown, branches.tools_for(conversation, shown))
drawn_by_history(history)
render_live(plan, endpoint, saving)  # the new turns, the streaming reply and the chat box
