"""The leaderboard page's pieces: the filters, the standings, the ratings chart and the
win-rate heatmap, drawn from votes already read (``chatlab.arena``).

Decisions:

- **What is ranked.** "model + settings" ranks each ``Contestant.label`` as voted
  (``gpt-4o-mini · temperature=0.7``); "models" collapses each contestant to its model
  (its settings dropped), so a vote between two temperatures of one model says nothing
  about models and is left out, and said.
- **Stable.** The bootstrap intervals are resampled with a fixed seed (``SEED``): the same
  votes draw the same page on every run, never a flicker of the intervals.
- **Labels whole.** A contestant's label is wrapped over lines (at `` · `` and at
  ``LABEL_WIDTH`` characters), never cut, so a long model id or many settings read at
  390 px as at 1280. The heatmap's columns are the rows' numbers: ten contestants make
  ten narrow columns, and a number fits one where a name would not.
- **Escaping.** Model ids, setting values, tags and conversation ids are untrusted; they
  reach the page as dataframe cells, chart labels and select options (never Markdown),
  and anything written as Markdown goes through ``plain``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import altair as alt
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.arena import MIN_VOTES, Contestant, Standing, Vote, leaderboard
from components import session

__all__ = [
    "COMPARE_PAGE",
    "DEFAULT_DAYS",
    "EVERY",
    "RANK_MODELS",
    "RANK_SETTINGS",
    "SEED",
    "pick_conversation",
    "pick_ranking",
    "pick_tag",
    "ranked_votes",
    "render_empty",
    "render_no_match",
    "render_ratings",
    "render_self_comparisons",
    "render_standings",
    "render_unreadable",
    "render_win_rates",
    "standing_rows",
    "standings_of",
]

DEFAULT_DAYS = 365  # the period shown first: a personal board builds up slowly
SEED = 19  # the bootstrap's seed: the same votes, the same intervals
RANK_MODELS = "models"
# The filters' "all" option. A tag that is exactly this text (a NUL first) would read as
# "all": harmless, and no one types it.
EVERY = "\x00every"
RANK_SETTINGS = "model + settings"
COMPARE_PAGE = "pages/compare.py"
SIDE_BY_SIDE_PAGE = "pages/side_by_side.py"
LABEL_WIDTH = 24  # characters of a label's line in the charts
LINE_HEIGHT = 16  # pixels of one line of a label
ROW_PADDING = 14  # pixels around a chart row's label
NO_VOTES_GREY = "#e0e0e0"
FEW_COLUMNS = 5  # up to this many contestants, a heatmap cell has room for "62% / of 8"
RANKED, TOO_FEW = "ranked", f"fewer than {MIN_VOTES} votes"
STANDING_SHADES = {RANKED: "#4c78a8", TOO_FEW: "#9e9e9e"}  # blue; grey: no rank yet
DARK_CELL = "isValid(datum.rate) && (datum.rate < 0.25 || datum.rate > 0.8)"  # white text


def pick_tag(target: DeltaGenerator, votes: Sequence[Vote]) -> str | None:
    """The tag the votes must carry; None: any (disabled when no vote has a tag)."""
    tags = sorted({tag for vote in votes for tag in vote.tags})
    return _pick(target, "Tag", tags, "All tags", session.LEADERBOARD_TAG)


def pick_conversation(target: DeltaGenerator, votes: Sequence[Vote]) -> str | None:
    """The side-by-side session or Compare run the votes were cast in; None: any."""
    found = sorted({vote.conversation for vote in votes})
    return _pick(target, "Conversation", found, "All", session.LEADERBOARD_CONVERSATION)


def _pick(
    target: DeltaGenerator, label: str, values: list[str], every: str, key: str
) -> str | None:
    """One of ``values``, or None for all of them (the option ``EVERY``: a None option
    would read as "nothing chosen" to Streamlit)."""
    options = [EVERY, *values]
    if session.widget_value(key) not in options:  # a withdrawn vote's tag, say: all again
        session.set_widget(key, EVERY)
    picked: str = target.selectbox(
        label,
        options,
        format_func=lambda option: every if option == EVERY else option or "(none)",
        key=key,
        disabled=not values,
    )
    return None if picked == EVERY else picked


def pick_ranking() -> str:
    """Rank models (settings dropped) or each model with its settings."""
    picked = st.radio(
        "Rank",
        (RANK_MODELS, RANK_SETTINGS),
        horizontal=True,
        key=session.LEADERBOARD_RANK,
        help="Models: every vote counts for the model, whatever its settings. "
        "Model + settings: each model at each setting it was voted at is its own contestant.",
    )
    return picked or RANK_MODELS


def ranked_votes(votes: Sequence[Vote], ranking: str) -> list[Vote]:
    """The votes as the ranking reads them: with ``RANK_MODELS``, contestants are models."""
    if ranking == RANK_SETTINGS:
        return list(votes)
    return [replace(vote, a=Contestant(vote.a.model), b=Contestant(vote.b.model)) for vote in votes]


def render_unreadable(count: int) -> None:
    """Say how many stored votes could not be read (left out, never guessed)."""
    if count:
        said = "vote" if count == 1 else "votes"
        st.caption(
            f":orange[{count:,} stored {said} could not be read (edited by hand, or "
            "damaged) and are left out.]"
        )


def render_empty(first: date, last: date) -> None:
    """No votes in the period: say how to cast some."""
    st.info(
        f"No votes from {first:%Y-%m-%d} to {last:%Y-%m-%d}. Vote on the **Side by side** "
        "page (two models answer your prompt, you say which did better), or under a "
        "Compare run's cards (pick two cards, then the better one). Every vote counts here.",
        icon=":material/how_to_vote:",
    )
    st.page_link(SIDE_BY_SIDE_PAGE, label="Go to Side by side", icon=":material/view_column_2:")
    st.page_link(COMPARE_PAGE, label="Go to Compare", icon=":material/balance:")


def render_no_match() -> None:
    st.info("No votes match these filters.", icon=":material/filter_alt:")


def render_self_comparisons(votes: Sequence[Vote]) -> None:
    """Say how many votes compare a contestant with itself (they rank nothing)."""
    count = sum(vote.a.label == vote.b.label for vote in votes)
    if count:
        said = "vote compares" if count == 1 else "votes compare"
        st.caption(
            f"{count:,} {said} a model with itself (at other settings): left out of the "
            f"ranking. Rank {RANK_SETTINGS} to count {'it' if count == 1 else 'them'}."
        )


def standing_rows(standings: Sequence[Standing]) -> list[dict[str, Any]]:
    """The standings as table rows; too few votes: no rank, and how many of the five."""
    return [
        {
            "rank": str(found.rank)
            if found.rank is not None
            else f"not enough votes ({found.votes} of {MIN_VOTES})",
            "contestant": found.label,
            "rating": round(found.rating),
            "95% interval": _interval(found),
            "votes": found.votes,
            "wins": found.wins,
            "losses": found.losses,
            "ties": found.ties,
            "both bad": found.both_bad,
        }
        for found in standings
    ]


def _interval(found: Standing) -> str:
    if found.low is None or found.high is None:
        return "—"
    return f"{found.low:.0f}–{found.high:.0f}"


def render_standings(standings: Sequence[Standing]) -> None:
    """The table: rank, contestant, rating and its interval, votes and their outcomes."""
    st.dataframe(
        standing_rows(standings),
        hide_index=True,
        column_config={"contestant": st.column_config.TextColumn("contestant", width="medium")},
    )
    st.caption(
        "Ratings on an Elo-like scale centred on 1000 (a Bradley-Terry fit of your votes; "
        "400 points apart: 10 to 1 odds). The interval: where 95% of the ratings fell over "
        f"200 resamples of the votes. Fewer than {MIN_VOTES} votes: no rank yet. A tie "
        'and a "both bad" count as half a win each.'
    )


def _wrapped(label: str) -> str:
    """``label`` over lines (split at `` · ``, then at ``LABEL_WIDTH``), every character kept."""
    parts = label.split(" · ")
    return "\n".join(
        line
        for part in parts
        for line in textwrap.wrap(part, LABEL_WIDTH, break_on_hyphens=False) or [part]
    )


def _row_height(labels: Sequence[str]) -> int:
    return max(lines.count("\n") + 1 for lines in labels) * LINE_HEIGHT + ROW_PADDING


def _lines_axis(**how: Any) -> alt.Axis:
    """An axis whose labels are drawn over their lines, whole."""
    return alt.Axis(labelLimit=0, labelOverlap=False, labelExpr="split(datum.label, '\\n')", **how)


def render_ratings(standings: Sequence[Standing]) -> None:
    """Each contestant's rating, a dot, and its 95% interval, a bar; too few votes: grey."""
    rows: list[dict[str, Any]] = [
        {
            "name": _wrapped(found.label),
            "contestant": found.label,
            "rating": round(found.rating),
            "low": None if found.low is None else round(found.low),
            "high": None if found.high is None else round(found.high),
            "votes": found.votes,
            "standing": RANKED if found.enough else TOO_FEW,
        }
        for found in standings
    ]
    names = [_wrapped(found.label) for found in standings]
    present = {row["standing"] for row in rows}  # the legend names only what is drawn
    shades = {key: shade for key, shade in STANDING_SHADES.items() if key in present}
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        y=alt.Y("name:N", sort=names, title=None, axis=_lines_axis()),
        color=alt.Color(
            "standing:N",
            title=None,
            scale=alt.Scale(domain=list(shades), range=list(shades.values())),
            legend=alt.Legend(orient="top"),
        ),
        tooltip=["contestant:N", "rating:Q", "low:Q", "high:Q", "votes:Q"],
    )
    bars = base.transform_filter("isValid(datum.low)").mark_rule(strokeWidth=3, opacity=0.6)
    bars = bars.encode(x=alt.X("low:Q", title="rating (95% interval)"), x2="high:Q")
    dots = base.mark_circle(size=90, opacity=1).encode(
        x=alt.X("rating:Q", scale=alt.Scale(zero=False))
    )
    fit = alt.AutoSizeParams(type="fit-x", contains="padding")
    height = _row_height(names) * len(rows)
    st.subheader("Ratings")
    st.altair_chart(
        alt.LayerChart(layer=[bars, dots], height=height, autosize=fit), width="stretch"
    )


def _ink(cell: dict[str, Any], columns: int) -> str:
    """What a cell says: ``62%`` over ``of 8`` in a few columns, the % alone in many
    (the count is in its tooltip), nothing where they never met (the grey says it)."""
    if cell["rate"] is None:
        return ""
    if columns <= FEW_COLUMNS:
        return str(cell["text"]).replace(" of ", "\nof ")
    return f"{cell['rate']:.0%}"


def render_win_rates(cells: Sequence[dict[str, Any]], labels: Sequence[str]) -> None:
    """The win-rate matrix (``chatlab.arena.win_rates``): how often each row beat each
    column, red (0%) to green (100%), grey where they never met, its % and count on it."""
    if len(labels) < 2:
        return
    number = {label: index + 1 for index, label in enumerate(labels)}
    names = {label: f"{number[label]}. {_wrapped(label)}" for label in labels}
    rows = [
        {
            **cell,
            "name": names[cell["row"]],
            "opponent": str(number[cell["column"]]),
            "ink": _ink(cell, len(labels)),
        }
        for cell in cells
    ]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X(
            "opponent:O",
            sort=[str(n) for n in number.values()],
            title="against (number)",
            axis=alt.Axis(orient="top", labelAngle=0),
        ),
        y=alt.Y("name:N", sort=list(names.values()), title=None, axis=_lines_axis()),
    )
    tooltip = [
        alt.Tooltip("row:N", title="contestant"),
        alt.Tooltip("column:N", title="against"),
        alt.Tooltip("rate:Q", format=".0%", title="win rate"),
        "wins:Q",
        "ties:Q",
        "losses:Q",
        alt.Tooltip("games:Q", title="votes"),
    ]
    rate = alt.Color(
        "rate:Q",
        title="win rate",
        scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen"),
        legend=alt.Legend(format="%", orient="bottom"),
    )
    # Grey under every cell: a pair that never met has no colour of its own.
    blank = base.mark_rect(stroke="white", color=NO_VOTES_GREY).encode(tooltip=tooltip)
    squares = base.mark_rect(stroke="white").encode(color=rate, tooltip=tooltip)
    ink = alt.condition(DARK_CELL, alt.value("white"), alt.value("black"))
    size = 11 if len(labels) <= FEW_COLUMNS else 10 if len(labels) <= 8 else 9
    text = base.mark_text(fontSize=size, lineBreak="\n").encode(
        text="ink:N", color=ink, tooltip=tooltip
    )
    fit = alt.AutoSizeParams(type="fit-x", contains="padding")
    height = max(_row_height(list(names.values())), 2 * LINE_HEIGHT + ROW_PADDING) * len(labels)
    st.subheader("Who beat whom")
    st.caption(
        "How often the contestant on the left beat the one numbered above: wins and half "
        "the ties, of the votes between them (a cell's tooltip has its counts). Grey: they "
        "never met."
    )
    st.altair_chart(
        alt.LayerChart(layer=[blank, squares, text], height=height, autosize=fit),
        width="stretch",
    )


@st.cache_data(show_spinner=False, max_entries=64)
def standings_of(votes: tuple[Vote, ...], seed: int) -> list[Standing]:
    """The leaderboard of ``votes`` (``chatlab.arena.leaderboard``), computed once per set
    of votes: its bootstrap refits the votes 200 times (about 1.7 s for 1,000 votes), and
    a rerun (a filter moved back, a tab's click) finds it here. The key is the votes
    themselves: only the same votes give the same standings, whoever asks."""
    return leaderboard(votes, seed=seed)
