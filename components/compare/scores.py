"""A run's scores: the pass-rate matrix (a heatmap and a table of the same numbers), each
card's checks, and a person's thumbs up or down on a finished card.

The numbers come from ``chatlab.compare.scores`` (one pass over the results, on the run
that draws the finished report; never while cards stream). Check names and reasons quote
model output and test rows, so they reach the page through ``plain`` only.

A rating is stored where the run lives: a live sweep keeps it with the result
(``Sweep.rate``; its saver stores the run), and a stored run reopened is replaced in the
session with the rated copy and stored again by a saver of its own
(``components.compare.runs.saver``: behind the page, retried, told once when it fails).
One saver per run, so two quick clicks are written in order, the last one winning.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace

import altair as alt
import streamlit as st

from chatlab.compare import (
    ALL_PASSED,
    RATED,
    ScoreRow,
    Sweep,
    column_labels,
    matrix_cells,
    score_rows,
    score_table,
)
from chatlab.grid import Check, Result, Run
from chatlab.markdown import plain
from components import session
from components.compare import runs

__all__ = ["render_checks", "render_rating", "render_scores", "scored"]

ROW_HEIGHT = 36  # pixels of a matrix row
HEADING_WIDTH = 16  # characters of a column name's line
UNTOLD_GREY = "#e0e0e0"
DARK_CELL = "isValid(datum.rate) && (datum.rate < 0.25 || datum.rate > 0.8)"  # white text
SIGNS = {True: ":green[✓]", False: ":red[✗]", None: ":orange[?]"}
# thumbs widget value (0 down, 1 up, None) <-> stored rating (-1, 1, 0)
RATING_OF = {0: -1, 1: 1}
THUMB_OF = {-1: 0, 1: 1}


def scored(current: Sweep | Run) -> bool:
    """Whether the run has something to score: assertions, or a rated result."""
    run = current.snapshot() if isinstance(current, Sweep) else current
    return bool(run.asserts) or any(result.rating for result in run.results)


def render_scores(run: Run) -> None:
    """The pass-rate matrix per prompt variant x setting, and the same numbers as a table."""
    labels = column_labels(run.asserts, run.results)
    rows = score_rows(run.results, len(labels))
    if not rows:
        st.caption("Nothing to score yet.")
        return
    st.caption(
        "Each assertion's pass rate per prompt and setting, over the test rows and samples "
        f"(**{ALL_PASSED}**: every assertion passed), and the thumbs people gave "
        f"(**{RATED}**). A check that could not be told (a judge reply that did not parse, "
        "a failed request) is counted apart, never as a pass, and left out of the rate."
    )
    st.altair_chart(_heatmap(rows, labels), width="stretch")
    st.dataframe(
        score_table(rows, labels),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(name, format="percent")
            for name in (*labels, ALL_PASSED if labels else "")
            if name
        },
    )


def _heatmap(rows: list[ScoreRow], labels: list[str]) -> alt.LayerChart:
    """A cell per row and column, red (0%) to green (100%), grey where nothing was told,
    its % and counts written on it; a column's name wrapped over lines, never cut."""
    cells = [
        {**cell, "heading": "\n".join(textwrap.wrap(cell["measure"], HEADING_WIDTH))}
        for cell in matrix_cells(rows, labels)
    ]
    headings = list(dict.fromkeys(cell["heading"] for cell in cells))
    top = alt.Axis(
        orient="top",
        labelAngle=0,
        labelLimit=0,
        labelOverlap=False,
        labelExpr="split(datum.label, '\\n')",
    )
    base = alt.Chart(alt.InlineData(values=cells)).encode(
        x=alt.X("heading:N", sort=headings, title=None, axis=top),
        y=alt.Y(
            "case:N", sort=[row.label for row in rows], title=None, axis=alt.Axis(labelLimit=0)
        ),
    )
    rate = alt.Color(
        "rate:Q",
        title="pass rate",
        scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen"),
        legend=alt.Legend(format="%", orient="bottom"),
    )
    tooltip = [
        alt.Tooltip("case:N", title="prompt and setting"),
        alt.Tooltip("measure:N", title="assertion"),
        alt.Tooltip("rate:Q", format=".0%"),
        "passed:Q",
        "failed:Q",
        "not told:Q",
    ]
    # Grey under every cell: one with nothing told has no colour of its own.
    blank = base.mark_rect(stroke="white", color=UNTOLD_GREY).encode(tooltip=tooltip)
    squares = base.mark_rect(stroke="white").encode(color=rate, tooltip=tooltip)
    ink = alt.condition(DARK_CELL, alt.value("white"), alt.value("black"))
    text = base.mark_text(fontSize=12).encode(text="text:N", color=ink, tooltip=tooltip)
    # fit-x: the width fits the page, the height is the cells' own (Streamlit's default
    # "fit" would squeeze them under the headings and the legend).
    fit = alt.AutoSizeParams(type="fit-x", contains="padding")
    return alt.LayerChart(layer=[blank, squares, text], height=ROW_HEIGHT * len(rows), autosize=fit)


def render_checks(result: Result) -> None:
    """The result's checks: one line when all passed, else ✓/✗/? each, with why."""
    if not result.checks:
        return
    if all(check.passed for check in result.checks):
        count = len(result.checks)
        said = f"all {count} assertions" if count > 1 else "the assertion"
        st.caption(f"{SIGNS[True]} {said} passed")
        return
    st.caption("  \n".join(_check_line(check) for check in result.checks))


def _check_line(check: Check) -> str:
    """``✗ contains "bonjour" (2/5): does not contain 'bonjour' (case-sensitive)``."""
    score = f" ({check.score}/5)" if check.score is not None else ""
    line = f"{SIGNS[check.passed]} {plain(check.name, empty='(unnamed)')}{score}"
    if check.passed is not True and check.reason:
        line += f": {plain(' '.join(check.reason.split()))}"
    return line


def render_rating(run_id: str, index: int, result: Result) -> None:
    """Thumbs up or down on a finished card, stored as the person clicks."""
    key = rating_key(run_id, index)
    st.feedback(
        "thumbs",
        key=key,
        default=THUMB_OF.get(result.rating),
        on_change=_rated,
        args=(key, index),
    )


def rating_key(run_id: str, index: int) -> str:
    """The thumbs widget's key for result ``index`` of run ``run_id``."""
    return f"compare_rate_{run_id}_{index}"


def _rated(key: str, index: int) -> None:
    """The thumbs' callback: store the rating where the run lives."""
    chosen = session.widget_value(key)
    rate(index, RATING_OF.get(chosen, 0) if isinstance(chosen, int) else 0)


def rate(index: int, rating: int) -> None:
    """Rate result ``index`` of the page's run: 1 up, -1 down, 0 none; stored."""
    current = session.compare().run
    if isinstance(current, Sweep):
        current.rate(index, rating)  # its saver stores the run
        return
    if current is None or not 0 <= index < len(current.results):
        return
    results = list(current.results)
    results[index] = replace(results[index], rating=rating)
    rated = replace(current, results=tuple(results))
    session.compare().run = rated
    page = session.page()
    runs.saver(page.store, page.owner, page.notices, rated.id)(rated)
