"""Reading many samples: what changed (a paragraph), clusters instead of raw texts, a word diff.

All of it is computed from the run's results (``chatlab.compare``), never by a model.

Model text reaches the page two ways here, both escaped: a cluster's representative
through ``render_text`` (Markdown without HTML, as on the cards), and a diff through
``st.html`` of ``chatlab.compare.diff_html``, which escapes every piece of text and
writes only its own ``<del>``/``<ins>`` (``st.html`` also runs DOMPurify, a second guard).
Setting names (they hold model names a server sent) go through ``plain``.
"""

from __future__ import annotations

import streamlit as st

from chatlab.compare import (
    MAX_COMPARED,
    SIMILARITY_THRESHOLD,
    CellAnswers,
    Cluster,
    Summary,
    answers_by_cell,
    changed_words,
    diff_html,
    diff_words,
    figure_rows,
    outcomes,
    sides,
    summarise,
    varied,
)
from chatlab.grid import Result, Run
from chatlab.markdown import plain
from components.reply_text import render_text

PREVIEW = 80  # characters of a cluster's answer in its expander's label
# Settings whose answers are listed one by one (an expander each, its text drawn when
# opened); the line above them counts every setting.
MAX_SETTINGS_DRAWN = 50
SAME_ANSWER = (
    "Samples of one setting that give the same answer are grouped. The same: equal after "
    "ignoring case, runs of spaces and trailing punctuation. Near-identical (grouped too): "
    f"at least {SIMILARITY_THRESHOLD:.0f}% similar after that (rapidfuzz's ratio, an edit "
    f"distance, over the first {MAX_COMPARED:,} characters)."
)


def render_summary(run: Run) -> Summary | None:
    """What changed across the run, one paragraph (its figures: ``render_figures``)."""
    found = outcomes(run.results)
    if not found:
        return None
    summary = summarise(found, varied(run.results))
    st.markdown(f"**What changed:** {plain(summary.text)}")
    return summary


def render_figures(run: Run, summary: Summary | None) -> None:
    """The summary's figures and the counts behind them, in an expander drawn when opened
    (under the table they are traced to, so the report's head stays one paragraph)."""
    rows = figure_rows(summary) if summary is not None else []
    if summary is None or not rows:
        return
    figures = st.expander(
        "Where the “what changed” figures come from",
        icon=":material/functions:",
        key=f"compare_figures_{run.id}",
        on_change="rerun",  # drawn when opened
    )
    if not figures.open:
        return
    with figures:
        st.caption(
            f"Means over the finished replies at the lowest and the highest "
            f"{plain(summary.parameter)} (the Table tab's rows); variety counts the distinct "
            "answers of each reply's setting (the Clusters tab); the pass rate counts the "
            "replies with checks. No model is asked."
        )
        st.dataframe(rows, hide_index=True)


def render_clusters(run: Run) -> None:
    """Each setting's answers: a line for all, then each answer once with its count."""
    found = answers_by_cell(run.results)
    if not found:
        st.caption("No finished reply yet: nothing to group.")
        return
    st.caption(SAME_ANSWER)
    st.markdown("; ".join(f"{plain(cell.setting)}: {cell.described}" for cell in found))
    if len(found) > MAX_SETTINGS_DRAWN:
        st.caption(
            f"The answers of the first {MAX_SETTINGS_DRAWN} settings of {len(found)}; "
            "the Table tab and the CSV hold every reply."
        )
    for index, cell in enumerate(found[:MAX_SETTINGS_DRAWN]):
        st.markdown(f"**{plain(cell.setting)}** · {cell.described}")
        for number, each in enumerate(cell.clusters):
            answer = st.expander(
                _cluster_label(cell, each),
                key=f"compare_cluster_{index}_{number}_{run.id}",
                on_change="rerun",  # its text drawn when opened, not sent for every cluster
            )
            if answer.open:
                with answer:
                    _draw_answer(each.representative)


def _draw_answer(text: str) -> None:
    if text:
        render_text(text)
    else:
        st.caption("An empty reply.")


def _cluster_label(cell: CellAnswers, found: Cluster) -> str:
    samples = cell.samples(found)
    which = f"sample{'s' if len(samples) > 1 else ''} {', '.join(map(str, samples))}"
    preview = " ".join(found.representative.split())
    if len(preview) > PREVIEW:
        preview = preview[:PREVIEW].rstrip() + "…"
    return f"×{found.count} ({which}): {plain(preview, empty='(empty)')}"


def render_diff(run: Run) -> None:
    """Two outputs chosen by setting and sample, side by side, their words compared."""
    with_text = [result for result in run.results if result.text]
    if len(with_text) < 2:
        st.caption("A diff needs two replies with text.")
        return
    labels = [f"{r.cell.setting} · sample {r.cell.sample}" for r in with_text]
    left, right = st.columns(2)
    old = left.selectbox(
        "First",
        range(len(with_text)),
        format_func=labels.__getitem__,  # options are drawn as plain text
        key=f"compare_diff_old_{run.id}",
    )
    new = right.selectbox(
        "Second",
        range(len(with_text)),
        index=_other(with_text, 0),
        format_func=labels.__getitem__,
        key=f"compare_diff_new_{run.id}",
    )
    segments = diff_words(with_text[old].text, with_text[new].text)
    removed, added = changed_words(segments)
    st.caption(
        f"{_words(removed)} only in the first (struck through), {_words(added)} only in "
        "the second (highlighted); whitespace counts."
    )
    old_side, new_side = sides(segments)
    left.html(diff_html(old_side))
    right.html(diff_html(new_side))


def _other(results: list[Result], chosen: int) -> int:
    """The first output that differs from ``chosen``'s (else the next one)."""
    text = results[chosen].text
    return next(
        (index for index, result in enumerate(results) if result.text != text),
        (chosen + 1) % len(results),
    )


def _words(count: int) -> str:
    return f"{count} word{'' if count == 1 else 's'}"
