"""Chat Lab: the page config, then routing. Each page sets itself up (components/page.py)."""

import streamlit as st

from chatlab.provider import warm_up

st.set_page_config(page_title="Chat Lab", page_icon="🧪", layout="centered")
st.navigation(
    [
        st.Page("pages/chat.py", title="Chat", icon="💬", default=True),
        st.Page("pages/usage.py", title="Usage", icon="📊"),
        st.Page("pages/compare.py", title="Compare", icon="⚖️"),
        st.Page("pages/side_by_side.py", title="Side by side", icon="🆚"),
        st.Page("pages/leaderboard.py", title="Leaderboard", icon="🏆"),
    ]
).run()
warm_up()  # load the model SDK while the user reads the page and types
