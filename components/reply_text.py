"""A model's text and telemetry as drawn on any page: a chat reply, a Compare card.

Model text is untrusted: it is drawn through ``chatlab.markdown`` (Markdown without HTML,
no image or link fetched), block by block when a block is too big for the browser to draw.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab import logprobs
from chatlab.markdown import RenderMode, drawable_parts, plain, render_mode, safe_markdown
from chatlab.messages import ReplyStats
from chatlab.model_names import display_name

PLAIN_NOTE = "Shown as plain text: this part is too long or too dense in formatting to draw."


def render_text(text: str) -> None:
    """Message text as Markdown, in as few parts as can be drawn (``drawable_parts``): a
    block too big for the browser is plain text."""
    draw_parts(drawable_parts(text))


def draw_parts(parts: list[tuple[RenderMode, str]]) -> None:
    """Parts from ``drawable_parts`` or ``block_parts``, where the script is drawing."""
    for mode, part in parts:
        if mode == "markdown":
            st.markdown(safe_markdown(part))
        else:
            _draw_plain(st.container(), part)


def draw_block(target: DeltaGenerator, block: str) -> None:
    """One block into ``target``: Markdown, or plain text when the browser could not cope."""
    draw_part(target, render_mode(block), block)


def draw_part(target: DeltaGenerator, mode: RenderMode, part: str) -> None:
    """One part, its mode already known, into ``target``."""
    if mode == "markdown":
        target.markdown(safe_markdown(part))
        return
    _draw_plain(target, part)


def _draw_plain(target: DeltaGenerator, block: str) -> None:
    with target.container():
        st.caption(PLAIN_NOTE)
        st.code(block, language=None, wrap_lines=True)


def telemetry_line(stats: ReplyStats) -> str:
    """``gpt-4o-mini · 0.41 s to first token · 52 tok/s · 120 in / 310 out · $0.0002 · stop``."""
    usage = stats.usage
    approx = "≈ " if usage.estimated else ""
    # Names come from the server; a llama.cpp file path shows its file name, as the picker.
    parts = [plain(display_name(stats.model), empty="(unnamed model)")]
    if stats.time_to_first_token is not None:
        parts.append(f"{stats.time_to_first_token:.2f} s to first token")
    if stats.tokens_per_second is not None:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    thought = f" ({stats.reasoning_tokens:,} thinking)" if stats.reasoning_tokens else ""
    parts.append(
        f"{approx}{usage.prompt_tokens:,} in / {approx}{usage.completion_tokens:,} out tokens"
        + thought
    )
    # "$" is escaped: Streamlit reads "$...$" as LaTeX. No price is never shown as $0.
    cost = stats.cost_usd
    parts.append("cost unknown" if cost is None else f"{approx}\\${cost:.6f}")
    if stats.parts > 1:  # Continue: one reply, several requests, all counted
        parts.append(f"{stats.parts} requests")
    parts.append(f"{stats.total_time:.1f} s")
    parts.append(f"finish: {plain(stats.finish_reason or 'none')}")
    if stats.mean_logprob is not None:
        parts.append(logprobs.summary(stats.mean_logprob))
    return " · ".join(parts)
