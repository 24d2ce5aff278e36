"""The usage page's pieces: filters, totals, charts over time, speed spreads, slowest replies.

Charts are Altair (a Streamlit dependency) fed with small pre-aggregated rows: a box is
five numbers per model, not every reply, so the browser gets the same few kilobytes
whether there are ten replies or a hundred thousand. Dataframe cells and chart labels
are not Markdown; anything else untrusted goes through ``plain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import quote

import altair as alt
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.model_names import display_name
from chatlab.usage import BinUsage, Spread, Totals, Unit, UsageRecord
from components import session
from components.totals import plural_replies, plural_requests, usd

DEFAULT_DAYS = 30  # the period shown first (components.period.pick_period)
CHAT_PAGE = "pages/chat.py"
COST_UNKNOWN_WHY = "a local server, or a model without a listed price"
SOURCE_NAMES = {
    "chat": "Chat",
    "compare": "Compare",
    "judge": "Compare judge",
    "arena": "Side by side",
}
UNIT_TITLES = {"hour": "hour", "day": "day", "week": "week (from Monday)"}
CHART_HEIGHT = 240
FEW_POINTS = 40  # up to this many replies, a speed chart shows each; beyond, boxes


def pick_models(target: DeltaGenerator, available: list[str]) -> list[str]:
    """The models to look at; none chosen means all of them."""
    chosen: list[str] = target.multiselect("Models", available, placeholder="All models")
    return chosen


def render_empty(first: date, last: date) -> None:
    """No replies in the period: say where they come from."""
    st.info(
        f"No replies from {first:%Y-%m-%d} to {last:%Y-%m-%d}. Every request the Chat and "
        "Compare pages send is counted here: its tokens, cost and speed.",
        icon=":material/insights:",
    )
    st.page_link(CHAT_PAGE, label="Go to the chat", icon=":material/chat:")


def render_skipped(skipped: int) -> None:
    """Say how many stored replies could not be read (they are left out, not guessed)."""
    if skipped:
        st.caption(
            f":orange[{skipped:,} stored {plural_replies(skipped)} could not be read "
            "(edited by hand, or written by a broken server) and are left out.]"
        )


def render_totals(totals: Totals) -> None:
    """Requests, tokens and cost of the period, with what is unknown or estimated."""
    approx = "≈ " if totals.estimated_replies else ""
    requests, tokens_in, tokens_out, cost = st.columns(4)
    requests.metric("Requests", f"{totals.requests:,}", help=f"{totals.replies:,} replies")
    tokens_in.metric("Tokens in", f"{approx}{totals.prompt_tokens:,}")
    tokens_out.metric("Tokens out", f"{approx}{totals.completion_tokens:,}")
    cost.metric("Cost", usd(totals.cost_usd) if totals.cost_known else "unknown")
    if totals.unknown_cost_replies:
        st.caption(
            f"Cost unknown for {totals.unknown_cost_replies:,} of {totals.replies:,} "
            f"{plural_replies(totals.replies)} ({totals.unknown_cost_requests:,} "
            f"{plural_requests(totals.unknown_cost_requests)}: {COST_UNKNOWN_WHY}); "
            "the cost shown leaves them out."
        )
    if totals.estimated_replies:
        estimated = totals.estimated_replies
        st.caption(
            f"≈ Token counts of {estimated:,} {plural_replies(estimated)}"
            " are estimated: the server sent none."
        )


def pick_source(target: DeltaGenerator) -> str | None:
    """The page the requests were sent from (chat, compare); None: every page."""
    names = {"All": None, **{name: source for source, name in SOURCE_NAMES.items()}}
    # Radio buttons, not a segmented control: its selected label is drawn in the primary
    # colour on a tint of it, below 4.5:1 contrast in the light and the dark theme alike
    # (tests/e2e/test_accessibility.py).
    picked = target.radio("Sent from", list(names), horizontal=True, key=session.USAGE_SOURCE)
    return names.get(picked or "All")


def render_over_time(used: list[BinUsage], axis: list[datetime], unit: Unit) -> None:
    """Requests, tokens in and out, and cost per hour, day or week, a colour per model."""
    st.subheader("Over time")
    one_day = len({start.date() for start in axis}) == 1
    labels = [_bin_label(start, unit, one_day) for start in axis]
    rows = [_bin_row(found, unit, one_day) for found in used]
    title = f"hour of {axis[0]:%Y-%m-%d}" if unit == "hour" and one_day else UNIT_TITLES[unit]
    tabs = st.tabs(["Requests", "Tokens in", "Tokens out", "Cost (USD)"])
    for tab, field, y_title in zip(
        tabs,
        ("requests", "tokens_in", "tokens_out", "cost_usd"),
        ("requests", "tokens in", "tokens out", "cost (USD, where known)"),
        strict=True,
    ):
        # A bin whose cost is all unknown has no bar, rather than a $0 one.
        shown = [row for row in rows if row[field] is not None]
        tab.altair_chart(_time_chart(shown, field, y_title, labels, title), width="stretch")


def _bin_label(start: datetime, unit: Unit, one_day: bool) -> str:
    if unit == "hour":
        return f"{start:%H}:00" if one_day else f"{start:%a %H}:00"
    return f"{start:%b} {start.day}"


def _bin_row(found: BinUsage, unit: Unit, one_day: bool) -> dict[str, Any]:
    totals = found.totals
    return {
        "bin": _bin_label(found.start, unit, one_day),
        "start": found.start.isoformat(),
        "model": display_name(found.model),  # a llama.cpp file path: its file name
        "replies": totals.replies,
        "requests": totals.requests,
        "tokens_in": totals.prompt_tokens,
        "tokens_out": totals.completion_tokens,
        "cost_usd": totals.cost_usd if totals.cost_known else None,
        "cost_unknown": totals.unknown_cost_replies,
    }


def _time_chart(
    rows: list[dict[str, Any]], field: str, y_title: str, labels: list[str], x_title: str
) -> alt.Chart:
    # Ordinal bins labelled here, in the browser's zone: one label per bin, no second
    # conversion, and every bin of the axis drawn even when empty.
    ticks = (
        alt.Axis(format="$.4f")
        if field == "cost_usd"
        else alt.Axis(tickMinStep=1, format=",d")  # counts: whole numbers only
    )
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=alt.X(
                "bin:O",
                scale=alt.Scale(domain=labels),
                axis=alt.Axis(labelAngle=0, labelOverlap="greedy", title=x_title),
            ),
            y=alt.Y(f"{field}:Q", title=y_title, stack=True, axis=ticks),
            color=alt.Color("model:N", title="model", legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("bin:O", title=x_title),
                "model:N",
                "requests:Q",
                "tokens_in:Q",
                "tokens_out:Q",
                alt.Tooltip("cost_usd:Q", format="$.6f", title="cost (known)"),
                alt.Tooltip("cost_unknown:Q", title="replies with cost unknown"),
            ],
        )
        .properties(height=CHART_HEIGHT)
    )
    return chart


def render_per_source(per_source: dict[str, Totals]) -> None:
    """A table of the totals of each page that sent requests (the chat, Compare)."""
    st.subheader("Per page")
    _totals_table("sent from", {SOURCE_NAMES.get(k, k): v for k, v in per_source.items()})


def render_per_model(per_model: dict[str, Totals]) -> None:
    """A table of each model's totals."""
    st.subheader("Per model")
    _totals_table("model", {display_name(k): v for k, v in per_model.items()})


def _totals_table(name: str, totals_of: dict[str, Totals]) -> None:
    table = [
        {
            name: model,
            "replies": totals.replies,
            "requests": totals.requests,
            "tokens in": totals.prompt_tokens,
            "tokens out": totals.completion_tokens,
            "cost (USD)": totals.cost_usd if totals.cost_known else None,
            "replies with cost unknown": totals.unknown_cost_replies,
        }
        for model, totals in totals_of.items()
    ]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "tokens in": st.column_config.NumberColumn(format="localized"),
            "tokens out": st.column_config.NumberColumn(format="localized"),
            "cost (USD)": st.column_config.NumberColumn(format="$%.6f"),
        },
    )


def render_speed(
    first_token: list[Spread], speed: list[Spread], points: tuple[Points, Points]
) -> None:
    """Time to first token and tokens/s per model: each reply when there are few, else boxes."""
    st.subheader("Speed")
    few = all(len(found) <= FEW_POINTS for found in points)
    st.caption(
        "Each dot is a reply."
        if few
        else "Boxes: the middle half of the replies; line: the median; whiskers: 5%–95%."
    )
    left, right = st.columns(2)
    for target, spreads, found, title in (
        (left, first_token, points[0], "time to first token (s)"),
        (right, speed, points[1], "tokens/s"),
    ):
        if not spreads:
            target.caption(f"No reply tells its {title} yet.")
        elif few:
            target.altair_chart(_points_chart(found, title), width="stretch")
        else:
            target.altair_chart(_spread_chart(spreads, title), width="stretch")


Points = list[tuple[str, float]]  # (model, value) of each reply


def _height(models: int) -> int:
    return max(160, 56 * models + 60)


def _points_chart(found: Points, title: str) -> alt.Chart:
    rows = [{"model": display_name(model), "value": value} for model, value in found]
    models = len({row["model"] for row in rows})
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_circle(size=70, opacity=0.7)
        .encode(
            x=alt.X("value:Q", title=title, scale=alt.Scale(zero=True)),
            y=alt.Y("model:N", title=None),
            color=alt.Color("model:N", legend=None),
            tooltip=["model:N", alt.Tooltip("value:Q", title=title, format=".2f")],
        )
        .properties(height=_height(models))
    )
    return chart


def _spread_chart(spreads: Sequence[Spread], title: str) -> alt.LayerChart:
    rows = [{**asdict(spread), "model": display_name(spread.model)} for spread in spreads]
    tooltip = ["model:N", "count:Q", "low:Q", "q1:Q", "median:Q", "q3:Q", "high:Q"]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        y=alt.Y("model:N", title=None), tooltip=tooltip
    )
    whiskers = base.mark_rule().encode(x=alt.X("low:Q", title=title), x2="high:Q")
    boxes = base.mark_bar(size=24).encode(x="q1:Q", x2="q3:Q")
    medians = base.mark_tick(color="white", size=24, thickness=2).encode(x="median:Q")
    return alt.LayerChart(layer=[whiskers, boxes, medians], height=_height(len(rows)))


def render_slowest(records: list[UsageRecord], zone: tzinfo) -> None:
    """The slowest replies, each with a link to its conversation."""
    st.subheader("Slowest replies")
    table = [
        {
            "total (s)": record.stats.total_time,
            "conversation": record.title,
            "from": SOURCE_NAMES.get(record.stats.source, record.stats.source),
            # A compare run opens on the Compare page's list, not by a link.
            "open": conversation_link(record.conversation_id)
            if record.stats.source == "chat"
            else None,
            "model": display_name(record.stats.model),
            "first token (s)": record.stats.time_to_first_token,
            "tokens/s": record.stats.tokens_per_second,
            "tokens out": record.stats.usage.completion_tokens,
            "started": f"{record.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
        }
        for record in records
    ]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "total (s)": st.column_config.NumberColumn(format="%.1f"),
            "first token (s)": st.column_config.NumberColumn(format="%.2f"),
            "tokens/s": st.column_config.NumberColumn(format="%.0f"),
            "open": st.column_config.LinkColumn(display_text="open ↗"),
        },
    )


def conversation_link(conversation_id: str) -> str:
    """The chat page's address for a conversation, relative to this app's own address."""
    return "./?c=" + quote(conversation_id, safe="")
