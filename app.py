"""Chat Lab: the page config, then routing. Each page sets itself up (components/page.py)."""

import streamlit as st

from chatlab.provider import warm_up
from components import state_lock

state_lock.share()  # asgi.py did, before the first session; here for `streamlit run app.py`

# The tab's icon is an emoji: a Material one is fetched from Google's servers by the browser,
# and an image file loads numpy (0.09 s) on a new process's first page, and is read at every
# run. The pages' icons are Material ones, drawn with Streamlit's own font: an emoji there is
# a blank box where the machine has no emoji font.
st.set_page_config(page_title="Chat Lab", page_icon="🧪", layout="centered")
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
