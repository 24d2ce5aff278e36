"""A streamed reply, drawn without resending it whole on every token.

``st.write_stream`` sends the full text so far with each chunk: quadratic bytes and
browser work on a long answer. Here finished blocks (paragraphs, closed code fences)
are drawn once as their own elements and only the unfinished tail is redrawn, at most
``FPS`` times a second.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable

import streamlit as st

from chatlab.markdown import BlockSplitter, safe_markdown

FPS = 25
CURSOR = " ▌"


def draw_stream(deltas: Iterable[str], prefix: str = "") -> None:
    """Draw ``prefix`` then the streamed ``deltas`` into the current container."""
    splitter = BlockSplitter()
    body = st.container()
    for block in splitter.feed(prefix):
        body.markdown(safe_markdown(block))
    tail = body.empty()
    tail.markdown(safe_markdown(splitter.tail) + CURSOR)  # the cursor shows it is alive
    interval, last_drawn = 1.0 / FPS, 0.0
    try:
        for delta in deltas:
            for block in splitter.feed(delta):
                tail.markdown(safe_markdown(block))
                tail = body.empty()
            now = time.monotonic()
            if now - last_drawn >= interval:
                tail.markdown(safe_markdown(splitter.tail) + CURSOR)
                last_drawn = now
    finally:
        # Show everything that arrived, also when an error ends the stream. (On Stop,
        # Streamlit refuses further drawing: the next run draws the saved partial.)
        with contextlib.suppress(Exception):
            tail.markdown(safe_markdown(splitter.tail))
