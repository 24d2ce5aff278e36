"""A streamed reply, drawn without resending it whole on every token.

``st.write_stream`` sends the full text so far with each chunk: quadratic bytes and
browser work on a long answer. Here finished blocks (paragraphs, closed code fences)
are drawn once as their own elements and only the unfinished tail is redrawn, at most
``FPS`` times a second. A tail too big to draw as Markdown is previewed by its last
``PREVIEW_CHARS`` characters while it grows, and drawn whole, as plain text, once done.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.markdown import MAX_MARKDOWN_CHARS, BlockSplitter, render_mode, safe_markdown
from components.history import draw_block

FPS = 25
CURSOR = " ▌"
PREVIEW_CHARS = 2_000


def draw_stream(deltas: Iterable[str], prefix: str = "") -> None:
    """Draw ``prefix`` then the streamed ``deltas`` into the current container."""
    splitter = BlockSplitter()
    body = st.container()
    for block in splitter.feed(prefix):
        draw_block(body, block)
    tail = body.empty()
    draw_tail(tail, splitter)
    interval, last_drawn = 1.0 / FPS, 0.0
    try:
        for delta in deltas:
            for block in splitter.feed(delta):
                draw_block(tail, block)
                tail = body.empty()
            now = time.monotonic()
            if now - last_drawn >= interval:
                draw_tail(tail, splitter)
                last_drawn = now
    finally:
        # Show everything that arrived, also when an error ends the stream. (On Stop,
        # Streamlit refuses further drawing: the next run draws the saved partial.)
        with contextlib.suppress(Exception):
            if splitter.tail:
                draw_block(tail, splitter.tail)
            else:
                tail.empty()


def draw_tail(tail: DeltaGenerator, splitter: BlockSplitter) -> None:
    """The open block with a cursor that shows it is alive; only its end when it is huge."""
    if splitter.tail_size <= MAX_MARKDOWN_CHARS:
        text = splitter.tail
        if render_mode(text) == "markdown":
            tail.markdown(safe_markdown(text) + CURSOR)
            return
    # Resending a huge block 25 times a second is what froze the page: send its end.
    with tail.container():
        st.caption(
            f"Receiving a long block ({splitter.tail_size:,} characters): its last "
            f"{PREVIEW_CHARS:,} are shown until it ends."
        )
        st.code(splitter.tail_end(PREVIEW_CHARS) + CURSOR, language=None, wrap_lines=True)
