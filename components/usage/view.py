"""The usage page's pieces: filters, totals, charts over time, speed spreads, slowest replies.

Charts are Altair (a Streamlit dependency) fed with small pre-aggregated rows: a box is
five numbers per model, not every reply, so the browser gets the same few kilobytes
whether there are ten replies or a hundred thousand. Dataframe cells and chart labels
are not Markdown; anything else untrusted goes through ``plain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import altair as alt
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.model_names import display_name
from chatlab.usage import DayUsage, Spread, Totals, UsageRecord
from components.totals import plural_replies, plural_requests, usd

DEFAULT_DAYS = 30
CHAT_PAGE = "pages/chat.py"
COST_UNKNOWN_WHY = "a local server, or a model without a listed price"
SOURCE_NAMES = {"chat": "Chat", "compare": "Compare"}


def browser_zone() -> tzinfo:
    """The browser's time zone (days are its days); UTC when it cannot be told."""
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def pick_period(target: DeltaGenerator, zone: tzinfo) -> tuple[date, date]:
    """The date range to look at (default: the last 30 days); first and last day."""
    today = datetime.now(zone).date()
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    picked: Any = target.date_input("Dates", value=default, format="YYYY-MM-DD")
    # While a range is being picked the widget holds one date, or none.
    chosen = [day for day in (picked if isinstance(picked, tuple) else (picked,)) if day]
    if not chosen:
        return default
    return min(chosen), max(chosen)


def pick_models(target: DeltaGenerator, available: list[str]) -> list[str]:
    """The models to look at; none chosen means all of them."""
    chosen: list[str] = target.multiselect("Models", available, placeholder="All models")
    return chosen


def render_empty(first: date, last: date) -> None:
    """No replies in the period: say where they come from."""
    st.info(
        f"No replies from {first:%Y-%m-%d} to {last:%Y-%m-%d}. Every reply you get on the "
        "Chat page is counted here: its tokens, cost and speed.",
        icon=":material/insights:",
    )
    st.page_link(CHAT_PAGE, label="Go to the chat", icon="💬")


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


def render_over_time(days: list[DayUsage]) -> None:
    """Requests, tokens in and out, and cost per day, a colour per model."""
    st.subheader("Over time")
    rows = [_day_row(day) for day in days]
    tabs = st.tabs(["Requests", "Tokens in", "Tokens out", "Cost (USD)"])
    for tab, field, title in zip(
        tabs,
        ("requests", "tokens_in", "tokens_out", "cost_usd"),
        ("requests", "tokens in", "tokens out", "cost (USD, where known)"),
        strict=True,
    ):
        # A day whose cost is all unknown has no bar, rather than a $0 one.
        shown = [row for row in rows if row[field] is not None]
        tab.altair_chart(_daily_chart(shown, field, title), width="stretch")


def _day_row(day: DayUsage) -> dict[str, Any]:
    totals = day.totals
    return {
        "day": day.day.isoformat(),
        "model": display_name(day.model),  # a llama.cpp file path: its file name
        "replies": totals.replies,
        "requests": totals.requests,
        "tokens_in": totals.prompt_tokens,
        "tokens_out": totals.completion_tokens,
        "cost_usd": totals.cost_usd if totals.cost_known else None,
        "cost_unknown": totals.unknown_cost_replies,
    }


def _daily_chart(rows: list[dict[str, Any]], field: str, title: str) -> alt.Chart:
    # The day is a calendar date already in the browser's zone: read and shown as UTC so
    # no second conversion moves it.
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            # Ordinal: one label per day drawn (a temporal axis labels the hours of a
            # single day, each with the same date).
            x=alt.X("day:O", timeUnit="utcyearmonthdate", title=None),
            y=alt.Y(f"{field}:Q", title=title, stack=True),
            color=alt.Color("model:N", title="model"),
            tooltip=[
                alt.Tooltip("day:T", timeUnit="utcyearmonthdate", title="day"),
                "model:N",
                "requests:Q",
                "tokens_in:Q",
                "tokens_out:Q",
                alt.Tooltip("cost_usd:Q", format="$.6f", title="cost (known)"),
                alt.Tooltip("cost_unknown:Q", title="replies with cost unknown"),
            ],
        )
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


def render_speed(first_token: list[Spread], speed: list[Spread]) -> None:
    """Time to first token and tokens/s per model, as boxes."""
    st.subheader("Speed")
    st.caption("Boxes: the middle half of the replies; line: the median; whiskers: 5%–95%.")
    left, right = st.columns(2)
    for target, spreads, title in (
        (left, first_token, "time to first token (s)"),
        (right, speed, "tokens/s"),
    ):
        if spreads:
            target.altair_chart(_spread_chart(spreads, title), width="stretch")
        else:
            target.caption(f"No reply tells its {title} yet.")


def _spread_chart(spreads: Sequence[Spread], title: str) -> alt.LayerChart:
    rows = [{**asdict(spread), "model": display_name(spread.model)} for spread in spreads]
    tooltip = ["model:N", "count:Q", "low:Q", "q1:Q", "median:Q", "q3:Q", "high:Q"]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        y=alt.Y("model:N", title=None), tooltip=tooltip
    )
    whiskers = base.mark_rule().encode(x=alt.X("low:Q", title=title), x2="high:Q")
    boxes = base.mark_bar(size=14).encode(x="q1:Q", x2="q3:Q")
    medians = base.mark_tick(color="white", size=14, thickness=2).encode(x="median:Q")
    return alt.LayerChart(layer=[whiskers, boxes, medians])


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
