"""A run's results: the table, the charts, the exports, and a result taken into the chat."""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import streamlit as st

from chatlab.compare import SettingSummary, csv_text, summaries, table_rows
from chatlab.grid import Run
from chatlab.markdown import plain
from chatlab.storage.runs import run_json

CHART_HEIGHT = 260


Rows = list[dict[str, Any]]


def results_rows(run: Run) -> Rows:
    """The results table: one row per request."""
    return table_rows(run.results)


def render_table(frame: Rows) -> None:
    st.subheader("Results")
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "output": st.column_config.TextColumn("output", width="large"),
            "cost (USD)": st.column_config.NumberColumn("cost (USD)", format="%.6f"),
        },
    )


def render_charts(run: Run, frame: Rows) -> None:
    """Latency and length per setting, how varied each setting's samples are, cost."""
    order = list(dict.fromkeys(row["setting"] for row in frame))
    answered = [row for row in frame if row["output"] and row["total time (s)"] is not None]
    st.subheader("Speed and length")
    left, right = st.columns(2)
    left.altair_chart(
        _per_sample(answered, "total time (s)", "Total time (s)", order), width="stretch"
    )
    right.altair_chart(_per_sample(answered, "tokens out", "Output tokens", order), width="stretch")
    found = summaries(run.results)
    st.subheader("How varied the samples are")
    st.caption(
        "Distinct 1- and 2-grams: the share of words and word pairs, across a setting's "
        "samples, that are unique (higher: more varied). Similarity: how much the samples "
        "overlap in word pairs, on average over every pair (higher: more alike)."
    )
    st.altair_chart(_diversity(found, order), width="stretch")
    _cost(found, order)


def _per_sample(frame: Rows, column: str, title: str, order: list[str]) -> alt.LayerChart:
    """Each sample as a point, and the setting's mean as a bar."""
    rows = [{"setting": r["setting"], "sample": r["sample"], "value": r[column]} for r in frame]
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=alt.X("setting:N", sort=order, title=None)
    )
    bars = base.mark_bar(opacity=0.35).encode(y=alt.Y("mean(value):Q", title=title))
    points = base.mark_circle(size=60).encode(
        y=alt.Y("value:Q"), tooltip=["setting:N", "sample:Q", alt.Tooltip("value:Q", title=title)]
    )
    return alt.LayerChart(layer=[bars, points], height=CHART_HEIGHT)


def _diversity(found: list[SettingSummary], order: list[str]) -> alt.Chart:
    rows = [
        {"setting": s.setting, "measure": name, "value": value}
        for s in found
        for name, value in (
            ("distinct 1-grams", s.diversity.distinct_1),
            ("distinct 2-grams", s.diversity.distinct_2),
            ("similarity", s.diversity.mean_similarity),
        )
        if value is not None
    ]
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("setting:N", sort=order, title=None),
            xOffset="measure:N",
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="0 to 1"),
            color=alt.Color("measure:N", title=None),
            tooltip=["setting:N", "measure:N", alt.Tooltip("value:Q", format=".2f")],
        )
        .properties(height=CHART_HEIGHT)
    )
    return chart


def _cost(found: list[SettingSummary], order: list[str]) -> None:
    st.subheader("Cost per setting")
    known = [{"setting": s.setting, "cost (USD)": s.cost_usd} for s in found if s.cost_usd]
    unknown = [s.setting for s in found if s.cost_usd is None and s.samples]
    if known:
        chart = (
            alt.Chart(alt.InlineData(values=known))
            .mark_bar()
            .encode(
                x=alt.X("setting:N", sort=order, title=None),
                y=alt.Y("cost (USD):Q"),
                tooltip=["setting:N", alt.Tooltip("cost (USD):Q", format=".6f")],
            )
            .properties(height=CHART_HEIGHT)
        )
        st.altair_chart(chart, width="stretch")
    if unknown:
        names = ", ".join(plain(name) for name in unknown)
        st.caption(f"Cost unknown (no listed price for this model or server): {names}.")


def render_exports(run: Run, frame: Rows) -> None:
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        csv_text(frame),
        file_name=f"compare-{run.id}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    right.download_button(
        "Download JSON",
        json.dumps(run_json(run), ensure_ascii=False, indent=2),
        file_name=f"compare-{run.id}.json",
        mime="application/json",
        icon=":material/download:",
    )
