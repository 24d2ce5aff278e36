"""The first-paint baseline for the browser benchmark: the bare chat page with Chat Lab's
sidebar drawn as plain widgets.

``benchmarks/bare_app.py``'s page (a cached ``openai`` client, the whole history,
``st.chat_input``, ``st.write_stream``) plus a sidebar of the same widgets Chat Lab's
has, in the same order: the page list, New chat, a Connection expander, the model and
preset pickers, two popovers, every declared sampling parameter's control (the common
ones, then the rest under Advanced), the system prompt, the tools and conversation
panels. Nothing is read from a server or a database to draw them, so the ratio against
it is what Chat Lab's first page costs beyond drawing the same widgets.

The collapsed sections (Advanced, Tools, This conversation) hold their widgets here, as a
plain Streamlit sidebar does; Chat Lab draws them only once opened
(``components/popover.section_when_open``). The page looks the same until one is opened.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import openai
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import chatlab.messages  # noqa: E402, F401  (ChatSettings declares the parameters)
from chatlab.params import Declared, declared  # noqa: E402


@st.cache_resource
def client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "none",
        base_url=os.environ["OPENAI_BASE_URL"],
    )


def control(found: Declared) -> None:
    """The widget a declared parameter gets, plainly (no notes, no limits from a server)."""
    param, key = found.param, f"p-{found.name}"
    if param.switch:
        st.checkbox(param.switch, key=f"{key}-on")
    if found.kind is bool:
        st.toggle(param.label, key=key)
    elif isinstance(found.kind, tuple):
        st.selectbox(param.label, found.kind, key=key)
    elif found.kind in (int, float) and param.low is not None and param.high is not None:
        number = float if found.kind is float else int
        st.slider(
            param.label,
            number(param.low),
            number(param.high),
            number(found.default if found.default is not None else param.low),
            key=key,
        )
    else:
        st.text_input(param.label, key=key, placeholder=param.placeholder or "")


def sidebar() -> None:
    with st.sidebar:
        st.button("New chat", icon=":material/add:", width="stretch")
        with st.expander("Connection"):
            st.text_input("OpenAI API key", type="password")
            st.text_input("Base URL")
            st.button("Check this server")
        st.selectbox("Model", ["gpt-4o-mini"])
        st.selectbox("Preset", [], placeholder="Apply a preset…")
        with st.container(horizontal=True):
            with st.popover("Save…"):
                st.text_input("Name")
            with st.popover("Presets"):
                st.caption("No presets yet.")
        for found in declared():
            if not found.param.advanced:
                control(found)
        st.text_area("System prompt", height=100)
        with st.expander("Advanced", icon=":material/science:"):
            for found in declared():
                if found.param.advanced:
                    control(found)
        with st.expander("Tools (0)"):
            st.caption("No tools yet.")
        with st.expander("Conversations"):
            st.caption("No saved conversations yet.")
        with st.expander("This conversation"):
            st.caption("Nothing yet.")


st.navigation(
    [
        st.Page(lambda: None, title=title, url_path=path, default=path == "chat")
        for title, path in (
            ("Chat", "chat"),
            ("Usage", "usage"),
            ("Compare", "compare"),
            ("Side by side", "side_by_side"),
            ("Leaderboard", "leaderboard"),
        )
    ]
)
sidebar()
if "messages" not in st.session_state:
    st.session_state.messages = []
messages = st.session_state.messages
for message in messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])
if prompt := st.chat_input("Message"):
    messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client().chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        reply = st.write_stream(stream)
    messages.append({"role": "assistant", "content": str(reply)})
