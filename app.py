"""Chat Lab: configuration, page set-up every page shares, then routing. Nothing else."""

import streamlit as st

from chatlab import config
from components import account, conversations, session

config.load_env_file()
st.set_page_config(page_title="Chat Lab", page_icon="🧪", layout="centered")
session.init(config.default_model(session.secrets()))
owner = account.current_owner()
if owner is None:
    account.render_login()
    st.stop()
session.set_page_context(owner, conversations.open_store())
st.navigation(
    [
        st.Page("pages/chat.py", title="Chat", icon="💬", default=True),
        st.Page("pages/usage.py", title="Usage", icon="📊"),
        st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    ]
).run()
