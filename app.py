"""Chat Lab: the page config, then routing. Each page sets itself up (components/page.py)."""

import streamlit as st

from chatlab.provider import warm_up

# Material icons, never emoji: one emoji icon loads Streamlit's emoji table and compiles a
# regex of every emoji, 0.15-0.3 s of a new process's first page (tests/app/test_startup.py).
st.set_page_config(page_title="Chat Lab", page_icon=":material/science:", layout="centered")
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
