"""Chat Lab: the page config, then routing. Each page sets itself up (components/page.py)."""

from pathlib import Path

import streamlit as st

from chatlab.provider import warm_up

# Icons are Material ones, never emoji: one emoji loads Streamlit's emoji table and compiles
# a regex of every emoji, 0.15-0.3 s of a new process's first page (tests/app/test_startup.py).
# The tab's icon is our own file: a Material one there is fetched from Google's servers.
ICON = Path(__file__).resolve().parent / "components" / "assets" / "chatlab-icon.png"
st.set_page_config(page_title="Chat Lab", page_icon=str(ICON), layout="centered")
st.navigation(
    [
        st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True),
        st.Page("pages/usage.py", title="Usage", icon=":material/bar_chart:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/balance:"),
        st.Page("pages/side_by_side.py", title="Side by side", icon=":material/view_column_2:"),
        st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/trophy:"),
    ]
).run()
warm_up()  # load the model SDK while the user reads the page and types
