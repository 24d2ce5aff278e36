"""A tiny script for the render benchmark: one long reply, drawn one way or the other."""

from collections.abc import Iterator

import streamlit as st

from components.chat.reply import draw_stream

WORDS = int(st.session_state.get("words", 3000))
MODE = st.session_state.get("mode", "chatlab")


def deltas() -> Iterator[str]:
    for i in range(WORDS):
        yield f"word{i} " if i % 60 else f"\n\nParagraph {i}. "


if MODE == "chatlab":
    draw_stream(deltas())
else:
    st.write_stream(deltas())
