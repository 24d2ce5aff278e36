"""The bare baseline for the browser benchmark: the smallest Streamlit chat page.

A cached ``openai`` client, the whole history drawn on every rerun, ``st.chat_input``
and ``st.write_stream``: what Streamlit's own chat tutorial builds. ``?n=N`` starts the
session with N planted messages (the same text ``benchmarks/browser.py`` stores for
Chat Lab), so both pages are measured with the same history.
"""

from __future__ import annotations

import os
from typing import Any

import openai
import streamlit as st


@st.cache_resource
def client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "none",
        base_url=os.environ["OPENAI_BASE_URL"],
    )


def planted(count: int) -> list[dict[str, Any]]:
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"Message {i}. " + "Filler " * 30,
        }
        for i in range(count)
    ]


if "messages" not in st.session_state:
    st.session_state.messages = planted(int(st.query_params.get("n", "0")))

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("Message"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client().chat.completions.create(
            model="gpt-4o-mini", messages=st.session_state.messages, stream=True
        )
        reply = st.write_stream(stream)
    st.session_state.messages.append({"role": "assistant", "content": str(reply)})
