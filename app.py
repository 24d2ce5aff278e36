"""Chat Lab: load configuration, set up the page, route. Nothing else."""

import streamlit as st

from chatlab.config import load_env_file

load_env_file()
st.set_page_config(page_title="Chat Lab", page_icon="🧪", layout="centered")
st.navigation([st.Page("pages/chat.py", title="Chat", icon="💬", default=True)]).run()
