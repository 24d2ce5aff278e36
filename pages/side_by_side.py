"""Side by side: chat with two to four models at once, blind if you like, and vote."""

from __future__ import annotations

import streamlit as st

from components import account, page, session, sidebar
from components.arena import side_by_side
from components.setup_panel import render_setup

st.set_page_config(layout="wide")  # the columns need the width
store, owner = page.prepare()
endpoint = sidebar.endpoint()
state = session.arena()
prompt = st.chat_input("Send to every column", key="arena_prompt") if state.live else None
sidebar.endpoint_panel(endpoint)
page.show_notices()
with st.sidebar, st.expander("Side-by-side sessions", icon=":material/history:", expanded=True):
    side_by_side.render_sessions(endpoint, store, owner)
account.render_account()

st.title("Side by side")
st.caption(
    "One prompt to several models at once, over several turns; each column keeps its own "
    "history. Vote blind, then continue with the better one."
)
if not endpoint.usable:
    render_setup()
    st.stop()

live = state.live
if live is None:
    side_by_side.render_setup(endpoint, store, owner)
    st.stop()

side_by_side.send(live, prompt)
if side_by_side.render_columns(live):
    st.switch_page("pages/chat.py")
side_by_side.render_vote(live, store, owner)
