"""Under a reply: its tokens shaded by probability; a clicked token's alternatives re-weighted.

Drawn only while its panel is open (``view_panel``): a long reply has thousands of tokens.

The token map is one ``st.pills``: the reply flows token by token as it reads, wraps at
any width (390 px too), and a click (or the keyboard) selects a token. Tokens are model
output, so each label is ``plain()``-escaped before the colour directive wraps it; the
table and the chart draw their text as text (no Markdown).

Altair is imported when the panel opens, not with the chat page: it costs about 0.2 s
of a fresh process's first page, and most replies come without probabilities.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import streamlit as st

from chatlab.chat import turns
from chatlab.logprobs import (
    REWEIGHT_TEMPERATURES,
    TokenLogprob,
    reweighting_rows,
    summary,
    visible,
)
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from components import conversations, session
from components.chat import view_panel

if TYPE_CHECKING:
    import altair as alt

VIEW = "probabilities"
LABEL = "Probabilities"
NOT_KEPT = "This reply's token probabilities were not kept."
HELP = "Each token of this reply with its probability, and the alternatives the model weighed."
MAP_HELP = "Click a token to see its alternatives. Shading: darker is less likely."
REWEIGHT_NOTE = (
    "An approximation from the top {k} alternatives the server returned: softmax(logprob / T) "
    "over them only, as if the rest of the vocabulary had no weight. Lower T sharpens the "
    "choice, higher T flattens it."
)
FORK_LABEL = "Continue from this alternative"
FORK_HELP = (
    "A new alternative of this reply: its text up to this token, then the token picked "
    "above, continued by the model."
)
FEW_ALTERNATIVES = "The server sent fewer than two alternatives for this token."
MAP_TOKENS = 600  # the map draws the first ones; the table lists them all
MAP_HEIGHT = 320  # past this, the map scrolls inside its own box
TALL_MAP = 120  # tokens that need more than MAP_HEIGHT at a phone's width
BAR_HEIGHT = 9  # one temperature's bar in the re-weighting chart
# Shading, least likely first: (below this probability, the colour its label gets).
SHADES = ((0.2, "red"), (0.5, "orange"), (0.9, "blue"))


def has_probabilities(message: ChatMessage) -> bool:
    """A reply that came with token probabilities (a stored one's are read when opened)."""
    mean = message.stats.mean_logprob if message.stats is not None else None
    return message.role == "assistant" and (bool(message.token_logprobs) or mean is not None)


def render_button(message: ChatMessage) -> None:
    """The "Probabilities" button among a reply's tools."""
    if has_probabilities(message):
        view_panel.view_button(VIEW, message.id, label=LABEL, icon=":material/percent:", help=HELP)


def render_probabilities(message: ChatMessage, fork_refusal: str | None) -> None:
    """The open Probabilities panel: the map, the chosen token, every token's table.

    ``fork_refusal`` says why this server cannot continue from an alternative (None: it can).
    """
    if not has_probabilities(message) or not view_panel.is_open(VIEW, message.id):
        return
    if not message.token_logprobs:  # opening a conversation leaves them out: read them now
        message.token_logprobs = conversations.load_token_logprobs(message.id)
    tokens = message.token_logprobs
    with view_panel.panel(VIEW, message.id, LABEL):
        if not tokens:
            st.caption(NOT_KEPT)
            return
        if message.stats is not None and message.stats.mean_logprob is not None:
            st.caption(summary(message.stats.mean_logprob))
        index = _token_map(message.id, tokens[:MAP_TOKENS])
        if len(tokens) > MAP_TOKENS:
            st.caption(f"The map shows the first {MAP_TOKENS:,} of {len(tokens):,} tokens.")
        if _chosen(index, tokens[index]):
            _fork(message.id, tokens, index, fork_refusal)
        st.dataframe(_token_rows(tokens), hide_index=True, column_config=_COLUMNS)


def _token_map(message_id: str, tokens: tuple[TokenLogprob, ...]) -> int:
    """The reply as clickable tokens, each shaded by its probability; the chosen index."""
    box = st.container(height=MAP_HEIGHT if len(tokens) > TALL_MAP else "content")
    chosen = box.pills(
        "Tokens",
        range(len(tokens)),
        format_func=lambda i: _shaded(tokens[i]),
        default=0,
        required=True,
        key=f"{VIEW}-token-{message_id}",
        help=MAP_HELP,
    )
    return chosen if isinstance(chosen, int) else 0


def _shaded(token: TokenLogprob) -> str:
    """A token's label: escaped, then coloured by how unlikely it was."""
    text = plain(visible(token.token), empty="∅")
    for below, colour in SHADES:
        if token.probability < below:
            return f":{colour}-background[{text}]"
    return text


def _chosen(index: int, token: TokenLogprob) -> bool:
    """The chosen token: its alternatives as a table, then re-weighted by temperature.

    False when it has too few alternatives to show (or to fork from).
    """
    shown = plain(visible(token.token), empty="∅")
    st.markdown(f"**Token {index + 1}:** {shown} · {token.probability:.1%}")
    if len(token.alternatives) < 2:
        st.caption(FEW_ALTERNATIVES)
        return False
    st.dataframe(
        [{"alternative": visible(a), "probability": math.exp(lp)} for a, lp in token.alternatives],
        hide_index=True,
        column_config=_COLUMNS,
    )
    st.altair_chart(_reweighting_chart(token), width="stretch")
    st.caption(REWEIGHT_NOTE.format(k=len(token.alternatives)))
    return True


def _fork(
    message_id: str, tokens: tuple[TokenLogprob, ...], index: int, refusal: str | None
) -> None:
    """ "Continue from this alternative": the reply up to here, another token, the model on."""
    alternatives = tokens[index].alternatives
    others = [i for i, (text, _) in enumerate(alternatives) if text != tokens[index].token]
    picked = st.pills(
        "Continue from",
        range(len(alternatives)),
        format_func=lambda i: plain(visible(alternatives[i][0]), empty="∅"),
        default=others[0] if others else 0,
        required=True,
        key=f"fork-alternative-{message_id}-{index}",
    )
    chosen = alternatives[picked if isinstance(picked, int) else 0][0]
    st.button(
        FORK_LABEL,
        key=f"fork-{message_id}",
        icon=":material/call_split:",
        help=refusal or FORK_HELP,
        disabled=refusal is not None,
        on_click=session.request_fork,
        args=(message_id, turns.fork_prefix(tokens, index, chosen)),
    )
    if refusal is not None:
        st.caption(refusal)


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


def _reweighting_chart(token: TokenLogprob) -> alt.Chart:
    """Horizontal bars: each alternative (a label that is never cut) at each temperature."""
    import altair as alt  # here, not at the top: see the module docstring

    rows = reweighting_rows(token)
    temperatures = list(REWEIGHT_TEMPERATURES)
    height = len(token.alternatives) * (len(temperatures) * BAR_HEIGHT + 8)
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y(
                "token:N",
                sort=None,  # the server's order: most likely first
                title=None,
                axis=alt.Axis(labelLimit=0, labelPadding=4, labelFontSize=12),
            ),
            yOffset=alt.YOffset("temperature:O", sort=temperatures),
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color(
                "temperature:O", title="T", sort=temperatures, legend=alt.Legend(orient="top")
            ),
            tooltip=["temperature:O", "token:N", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=height, padding={"left": 8, "right": 16, "top": 4, "bottom": 4})
    )
    return chart
