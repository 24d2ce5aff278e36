"""Under a reply: its tokens shaded by probability, and one token's alternatives re-weighted.

Drawn only while the popover is open (``on_change="rerun"``), like the request viewer: a
long reply has thousands of tokens. Tokens are model output, so they go into a table and a
chart (drawn as text by the browser), never into Markdown.

Altair is imported when a popover opens, not with the chat page: it costs about 0.2 s
of a fresh process's first page, and most replies come without probabilities.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import streamlit as st

from chatlab.logprobs import (
    REWEIGHT_TEMPERATURES,
    TokenLogprob,
    reweighting_rows,
    summary,
    visible,
)
from chatlab.messages import ChatMessage
from components import conversations
from components.popover import when_open

if TYPE_CHECKING:
    import altair as alt

LABEL = "Probabilities"
NOT_KEPT = "This reply's token probabilities were not kept."
HELP = "Each token of this reply with its probability, and the alternatives the model weighed."
REWEIGHT_NOTE = (
    "An approximation from the top {k} alternatives the server returned: softmax(logprob / T) "
    "over them only, as if the rest of the vocabulary had no weight. Lower T sharpens the "
    "choice, higher T flattens it."
)
TOKENS_PER_ROW = 12
MAP_TOKENS = 600  # the shaded map draws the first ones; the table lists them all
CHART_HEIGHT = 220


def render_probabilities(message: ChatMessage) -> None:
    """A "Probabilities" popover for a reply that came with token probabilities."""
    mean = message.stats.mean_logprob if message.stats is not None else None
    if message.role != "assistant" or (not message.token_logprobs and mean is None):
        return  # a reply with a mean had tokens: a stored one is read when opened
    key = f"probabilities-{message.id}"
    popover = when_open(LABEL, key=key, icon=":material/percent:", help=HELP)
    if popover is None:
        return
    if not message.token_logprobs:  # opening a conversation leaves them out: read them now
        message.token_logprobs = conversations.load_token_logprobs(message.id)
    tokens = message.token_logprobs
    with popover:
        if not tokens:
            st.caption(NOT_KEPT)
            return
        if mean is not None:
            st.caption(summary(mean))
        st.altair_chart(_token_map(tokens[:MAP_TOKENS]), width="stretch")
        if len(tokens) > MAP_TOKENS:
            st.caption(f"The map shows the first {MAP_TOKENS:,} of {len(tokens):,} tokens.")
        st.dataframe(_token_rows(tokens), hide_index=True, column_config=_COLUMNS)
        _reweighting(message.id, tokens)


def _token_rows(tokens: tuple[TokenLogprob, ...]) -> list[dict[str, object]]:
    return [
        {
            "#": i + 1,
            "token": visible(t.token),
            "probability": t.probability,
            "alternatives": " · ".join(
                f"{visible(alt_token)} {_percent(logprob)}" for alt_token, logprob in t.alternatives
            ),
        }
        for i, t in enumerate(tokens)
    ]


_COLUMNS = {
    "probability": st.column_config.ProgressColumn(
        "probability", min_value=0.0, max_value=1.0, format="percent"
    ),
}


def _percent(logprob: float) -> str:
    return f"{math.exp(logprob):.0%}"


def _token_map(tokens: tuple[TokenLogprob, ...]) -> alt.LayerChart:
    """The reply as a grid of tokens, each cell shaded by its probability."""
    import altair as alt  # here, not at the top: see the module docstring

    rows = [
        {
            "row": i // TOKENS_PER_ROW,
            "column": i % TOKENS_PER_ROW,
            "token": visible(t.token),
            "probability": t.probability,
            "alternatives": ", ".join(visible(a) for a, _ in t.alternatives) or "none sent",
        }
        for i, t in enumerate(tokens)
    ]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X("column:O", axis=None),
        y=alt.Y("row:O", axis=None),
        tooltip=[
            alt.Tooltip("token:N"),
            alt.Tooltip("probability:Q", format=".1%"),
            alt.Tooltip("alternatives:N", title="top alternatives"),
        ],
    )
    cells = base.mark_rect().encode(
        color=alt.Color("probability:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"))
    )
    words = base.mark_text(fontSize=11).encode(text="token:N")
    height = 24 * (len(rows) // TOKENS_PER_ROW + 1)
    return alt.LayerChart(layer=[cells, words], height=height)


def _reweighting(message_id: str, tokens: tuple[TokenLogprob, ...]) -> None:
    """One chosen token's alternatives at several temperatures."""
    index = st.selectbox(
        "Token",
        range(len(tokens)),
        format_func=lambda i: f"{i + 1}: {visible(tokens[i].token)}",
        key=f"probabilities-token-{message_id}",
    )
    chosen = tokens[index or 0]
    if len(chosen.alternatives) < 2:
        st.caption("The server sent fewer than two alternatives for this token.")
        return
    rows = reweighting_rows(chosen)
    import altair as alt  # here, not at the top: see the module docstring

    chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("token:N", sort=None, title=None),
            xOffset=alt.XOffset("temperature:O"),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("temperature:O", title="T", sort=list(REWEIGHT_TEMPERATURES)),
            tooltip=["temperature:O", "token:N", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=CHART_HEIGHT)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(REWEIGHT_NOTE.format(k=len(chosen.alternatives)))
