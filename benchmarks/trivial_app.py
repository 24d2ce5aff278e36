"""The start-up baseline for the browser benchmark: a trivial Streamlit page with a chat box."""

import streamlit as st

st.title("Trivial")
if prompt := st.chat_input("Message"):
    st.write(prompt)
