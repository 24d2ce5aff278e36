"""A run's results as a report: tabs for the cards, (for a run with assertions or ratings)
the scores, the table, the charts, the clusters and a word diff
(``components.compare.reading``, which also writes what changed at the top); the exports.

``st.tabs`` draws every tab on every run, so the cards stream into theirs while the table,
charts and scores tabs say they come when the run has ended (the script is busy following the
sweep until then, ``components.compare.view``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import altair as alt
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.compare import ChartAxis, chart_axis, chart_rows, csv_text, setting_rows, table_rows
from chatlab.compare.results import (
    COST,
    FIRST_WORD_WAIT,
    OVERLAP,
    REPLY_LENGTH,
    SPEED,
    TOTAL_TIME,
    UNIQUE_PAIRS,
    UNIQUE_WORDS,
)
from chatlab.grid import Run, variant_label
from chatlab.markdown import plain
from chatlab.storage.runs import run_json
from components.compare import reading, vote
from components.compare.scores import render_scores

CHART_HEIGHT = 240
NEEDS = {UNIQUE_PAIRS: "two words", OVERLAP: "two samples of a setting"}
TITLES = {  # each measure's axis title, with its unit
    REPLY_LENGTH: "reply length (tokens)",
    TOTAL_TIME: "total time (s)",
    FIRST_WORD_WAIT: "time to first token (s)",
    SPEED: "tokens/s",
    COST: "cost (USD)",
    UNIQUE_WORDS: "unique words (share, 0–1)",
    UNIQUE_PAIRS: "unique word pairs (share, 0–1)",
    OVERLAP: "overlap between samples (0–1)",
}


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Report:
    """Where a run is drawn: its head (Stop, progress), then a tab each for the results."""

    head: DeltaGenerator
    cards: DeltaGenerator
    table: DeltaGenerator
    charts: DeltaGenerator
    scores: DeltaGenerator | None  # only for a run with assertions or ratings
    clusters: DeltaGenerator
    diff: DeltaGenerator
    pending: tuple[DeltaGenerator, ...]  # "when the run has ended" notes, cleared then


def report_tabs(live: bool, scored: bool = False) -> Report:
    """The head and the tabs Cards · (Scores, when ``scored``) · Table · Charts · Clusters ·
    Word diff."""
    head = st.container()
    names = ["Cards", *(["Scores"] * scored), "Table", "Charts", "Clusters", "Word diff"]
    tabs = dict(zip(names, st.tabs(names), strict=True))
    scores = tabs.get("Scores")
    waiting = [(scores, "The scores are")] if scores is not None else []
    waiting += [
        (tabs["Table"], "The table is"),
        (tabs["Charts"], "The charts are"),
        (tabs["Clusters"], "The clusters are"),
        (tabs["Word diff"], "The diff is"),
    ]
    pending = []
    if live:
        for tab, said in waiting:
            note = tab.empty()
            note.caption(f"{said} drawn once the run has ended.")
            pending.append(note)
    return Report(
        head,
        tabs["Cards"],
        tabs["Table"],
        tabs["Charts"],
        scores,
        tabs["Clusters"],
        tabs["Word diff"],
        tuple(pending),
    )


def render_prompts(run: Run) -> None:
    """What the run asked: its prompt, or each prompt variant (A, B, ...) and the test set."""
    variants = run.grid.variants
    if len(variants) < 2:
        st.caption(f"Prompt: {plain(variants[0].user if variants else run.prompt)}")
    else:
        lines = [f"Prompt {variant_label(i)}: {plain(v.user)}" for i, v in enumerate(variants)]
        st.caption("  \n".join(lines))
    if run.grid.rows:
        rows = len(run.grid.rows)
        st.caption(
            f"Test set: {rows} row{'' if rows == 1 else 's'} of "
            f"{plain(', '.join(run.grid.columns))}"
        )


def render_report(run: Run, report: Report) -> None:
    """What changed at the top; fill the table, charts, clusters and diff tabs."""
    for note in report.pending:
        note.empty()
    with report.head:
        summary = reading.render_summary(run)
    with report.cards:
        vote.render_vote(run)  # under the cards: the better of two
    frame = results_rows(run)
    with report.table:
        render_table(frame)
        render_exports(run, frame)
        reading.render_figures(run, summary)
    with report.charts:
        render_charts(run)
    with report.clusters:
        reading.render_clusters(run)
    with report.diff:
        reading.render_diff(run)
    if report.scores is not None:
        with report.scores:
            render_scores(run)


def results_rows(run: Run) -> Rows:
    """The results table: one row per request."""
    return table_rows(run.results)


def render_table(frame: Rows) -> None:
    """Every request, one row each."""
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "output": st.column_config.TextColumn("output", width="large"),
            "cost (USD)": st.column_config.NumberColumn("cost (USD)", format="%.6f"),
        },
    )


def render_charts(run: Run) -> None:
    """Length, speed, variety and cost: the varied parameter on x, a colour per model."""
    axis = chart_axis(run.results)
    samples = chart_rows(run.results, axis)
    settings = setting_rows(run.results, axis)
    if not samples:
        st.caption("No reply has text yet: nothing to chart.")
        return
    st.subheader("Length and speed")
    st.caption("Each dot is a sample; the line (or bar) is the mean of a setting's samples.")
    for row_of in ((REPLY_LENGTH, TOTAL_TIME), (FIRST_WORD_WAIT, SPEED)):
        for column, measure in zip(st.columns(2), row_of, strict=True):
            _place(column, samples, measure, axis, mean=True)
    st.subheader("How varied the samples are")
    st.caption(
        "Unique words and word pairs: the share of a setting's words (and pairs of words), "
        "across its samples, that occur once (higher: more varied). Overlap: how many word "
        "pairs two samples share, on average over every pair (higher: more alike)."
    )
    for column, measure in zip(st.columns(3), (UNIQUE_WORDS, UNIQUE_PAIRS, OVERLAP), strict=True):
        _place(column, settings, measure, axis, share=True)
    _cost(settings, axis)


def _place(target: DeltaGenerator, rows: Rows, measure: str, axis: ChartAxis, **how: bool) -> None:
    """The chart of the rows that tell ``measure``; a note when none does."""
    shown = [row for row in rows if row[measure] is not None]
    if shown:
        target.altair_chart(_chart(shown, measure, axis, **how), width="stretch")
    else:
        target.caption(f"No {TITLES[measure]}: it needs {NEEDS.get(measure, 'a reply')}.")


def _chart(
    rows: Rows, measure: str, axis: ChartAxis, *, mean: bool = False, share: bool = False
) -> alt.LayerChart:
    """``measure`` against the axis, a colour per model: a dot per row and, with ``mean``,
    each setting's mean (a line on a numeric axis, a bar on labels)."""
    y_scale = alt.Scale(domain=[0, 1]) if share else alt.Scale(zero=True)
    base = alt.Chart(alt.InlineData(values=rows)).encode(
        x=_x(axis),
        color=alt.Color(
            "model:N",
            title="model",
            scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(orient="top"),
        ),
    )
    value = alt.Y(f"{measure}:Q", title=TITLES[measure], scale=y_scale)
    tooltip = ["model:N", "setting:N", alt.Tooltip(f"{measure}:Q", title=TITLES[measure])]
    offset = {} if axis.numeric else {"xOffset": alt.XOffset("model:N")}
    dots = base.mark_circle(size=55, opacity=0.8).encode(y=value, tooltip=tooltip, **offset)
    layers: list[alt.Chart] = [dots]
    if mean or not axis.numeric:
        summary = alt.Y(f"mean({measure}):Q", title=TITLES[measure], scale=y_scale)
        mark = base.mark_line() if axis.numeric else base.mark_bar(opacity=0.35)
        layers.insert(0, mark.encode(y=summary, **offset))
    return alt.LayerChart(layer=layers, height=CHART_HEIGHT)


def _x(axis: ChartAxis) -> alt.X:
    if axis.numeric:
        ticks = alt.Axis(values=list(axis.order), title=axis.title)
        return alt.X(f"{axis.field}:Q", axis=ticks, scale=alt.Scale(zero=False, nice=False))
    # One line per varied value, never rotated nor cut.
    labels = alt.Axis(
        title=axis.title, labelAngle=0, labelLimit=0, labelExpr="split(datum.label, ' · ')"
    )
    return alt.X(f"{axis.field}:N", sort=list(axis.order), axis=labels)


def _cost(settings: Rows, axis: ChartAxis) -> None:
    st.subheader("Cost per setting")
    known = [row for row in settings if row[COST]]
    unknown = [row["setting"] for row in settings if row[COST] is None]
    if known:
        st.altair_chart(_chart(known, COST, axis), width="stretch")
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
