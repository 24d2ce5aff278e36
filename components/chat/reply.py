"""A streamed reply, drawn without resending it whole on every token.

``st.write_stream`` sends the full text so far with each chunk: quadratic bytes and
browser work on a long answer. Here finished blocks (paragraphs, closed code fences)
are drawn once, those finished within one frame as one element, and only the
unfinished tail is redrawn, at most ``FPS`` times a second. A tail too big to draw as
Markdown is previewed by its last ``PREVIEW_CHARS`` characters while it grows, and drawn
whole, as plain text, once done. Under the tail, while it streams, a line says how the
reply is going (``status``): the wait for the first token, then the pace. It is part of
the tail, so it is always last, and goes with the cursor when the reply ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.markdown import (
    MAX_MARKDOWN_CHARS,
    BlockSplitter,
    block_parts,
    render_mode,
    safe_markdown,
)
from components.reply_text import draw_block, draw_part, draw_parts

FPS = 25
CURSOR = " ▌"
PREVIEW_CHARS = 2_000


Status = Callable[[], str]  # the line under a streaming reply, as it is now


def draw_stream(deltas: Iterable[str], prefix: str = "", status: Status | None = None) -> None:
    """Draw ``prefix`` then the streamed ``deltas`` into the current container, with
    ``status()`` under the text until it ends."""
    splitter = BlockSplitter()
    body = st.container()
    for block in splitter.feed(prefix):
        draw_block(body, block)
    frame = Frame(body, status)
    frame.draw(splitter)
    # New text is drawn at once unless the last draw of new text was under 1/FPS s ago;
    # text held back that way (finished blocks too) is drawn with the next delta or
    # silence ("") after that. A silence with nothing new redraws the same tail: the
    # update is where Streamlit notices Stop. It must not count as drawing text, or the
    # first word after a wait would be held back.
    interval, text_drawn_at, behind = 1.0 / FPS, 0.0, False
    try:
        for delta in deltas:
            frame.finished.extend(splitter.feed(delta))
            behind = behind or bool(delta)
            now = time.monotonic()
            if not behind:
                frame.draw(splitter)
            elif now - text_drawn_at >= interval:
                frame.draw(splitter)
                text_drawn_at, behind = now, False
    finally:
        # Show everything that arrived, also when an error ends the stream. (On Stop,
        # Streamlit refuses further drawing: the next run draws the saved partial.)
        with contextlib.suppress(Exception):
            frame.draw(splitter, done=True)


class Frame:
    """What one redraw sends: the blocks finished since the last one, as one element
    (one message instead of one per paragraph), then the open block."""

    def __init__(self, body: DeltaGenerator, status: Status | None = None) -> None:
        self.body = body
        self.status = status
        self.tail = body.empty()
        self.finished: list[str] = []

    def draw(self, splitter: BlockSplitter, *, done: bool = False) -> None:
        if self.finished:
            parts = block_parts(self.finished)
            if len(parts) == 1:
                draw_part(self.tail, *parts[0])
            else:  # together they are too big for one Markdown element
                with self.tail.container():
                    draw_parts(parts)
            self.finished, self.tail = [], self.body.empty()
        if not done and self.status is not None:
            draw_tail(self.tail, splitter, self.status())
        elif not done:
            draw_tail(self.tail, splitter)
        elif splitter.tail:
            draw_block(self.tail, splitter.tail)
        else:
            self.tail.empty()


def draw_tail(tail: DeltaGenerator, splitter: BlockSplitter, status: str | None = None) -> None:
    """The open block with a cursor that shows it is alive (only its end when it is huge),
    then the ``status`` line."""
    if status is None:
        _draw_open_block(tail, splitter)
        return
    with tail.container():
        _draw_open_block(st.container(), splitter)
        st.caption(status)


def _draw_open_block(tail: DeltaGenerator, splitter: BlockSplitter) -> None:
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
