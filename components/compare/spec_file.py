"""The Compare form as an evaluation spec: downloaded as YAML, and a spec loaded into it.

The spec is what ``python -m chatlab eval`` runs (``chatlab.compare.spec``), so the page
and the command line share one format: the download is ``dump_spec`` of what the form
holds, made only when the form could run as it is (otherwise the button says why not).

A spec is loaded whole (``load_spec``) before anything changes: one that does not load
changes nothing and says the field that is wrong. An uploaded spec is read without a
folder (``base_dir=None``), so its tests must be inline and a visitor's spec cannot make
the server read its files. Loading sets the widgets' values in the uploader's callback,
before they are drawn (``session.set_widget``); the tables get new starting tables.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatlab.compare import EvalSpec, SpecError, dump_spec, load_spec
from chatlab.grid import sweepable
from chatlab.markdown import plain
from components import session
from components.compare.evaluation_inputs import set_assertions, set_test_set, set_variants

__all__ = ["DEFAULT_THRESHOLD", "fill", "render_files", "render_threshold", "take_spec_file"]

DEFAULT_THRESHOLD = 0.9
SPEC_UPLOAD_MB = 4  # a spec is at most a million characters (chatlab.compare.spec)
THRESHOLD_HELP = (
    "The overall pass rate a spec's run must reach: `python -m chatlab eval SPEC.yaml` "
    "exits with status 1 below it (so CI fails)."
)


def render_threshold() -> float:
    """The spec's pass threshold (0 to 1)."""
    session.seed_widget(session.COMPARE_THRESHOLD, DEFAULT_THRESHOLD)
    return float(
        st.number_input(
            "Pass threshold",
            0.0,
            1.0,
            step=0.05,
            key=session.COMPARE_THRESHOLD,
            help=THRESHOLD_HELP,
        )
    )


def render_files(spec: EvalSpec | None, why_not: str | None) -> None:
    """Download the form as a spec (when it makes one), and load one into the form."""
    form = session.compare().evaluation
    save, load = st.columns(2)
    save.download_button(
        "Download as spec (YAML)",
        data=lambda: dump_spec(spec) if spec is not None else "",
        file_name="chatlab-eval.yaml",
        mime="application/x-yaml",
        icon=":material/download:",
        on_click="ignore",
        disabled=spec is None,
        help="What this form runs, as a spec for `python -m chatlab eval`."
        + (f" Not now: {plain(why_not)}" if spec is None and why_not else ""),
    )
    load.file_uploader(
        "Load a spec",
        type=["yaml", "yml"],
        max_upload_size=SPEC_UPLOAD_MB,
        key=session.COMPARE_SPEC_FILE,
        on_change=take_spec_file,
        help="Fill this form from a spec (its tests written in it, not a file's path).",
    )
    if form.spec_refused:
        load.error(plain(form.spec_refused), icon=":material/error:")


def take_spec_file() -> None:
    """The uploader's callback: the spec fills the form, or nothing changes and the field
    that is wrong is said."""
    upload: Any = session.widget_value(session.COMPARE_SPEC_FILE)
    form = session.compare().evaluation
    if upload is None:
        return
    try:
        text = bytes(upload.getvalue()).decode("utf-8-sig")
    except UnicodeDecodeError:
        form.spec_refused = "The spec changed nothing: it is not UTF-8 text. Save it as UTF-8."
        return
    try:
        spec = load_spec(text, base_dir=None)
    except SpecError as err:
        form.spec_refused = f"The spec changed nothing: {err}"
        return
    form.spec_refused = None
    fill(spec)


def fill(spec: EvalSpec) -> None:
    """Set the form to ``spec`` (in a callback, or before the form is drawn)."""
    set_variants(spec.prompts)
    set_test_set(spec.tests)
    set_assertions(spec.asserts)
    if spec.models:
        held = session.widget_value(session.COMPARE_MODELS)
        typed = isinstance(held, str)  # the models' box is text when the server lists none
        session.set_widget(
            session.COMPARE_MODELS, ", ".join(spec.models) if typed else list(spec.models)
        )
    given = dict(spec.params)
    for name in sweepable():
        values = given.get(name, ())
        session.set_widget(session.COMPARE_VALUES + name, ", ".join(map(_value_text, values)))
    session.set_widget(session.COMPARE_SAMPLES, spec.samples)
    asked = spec.response_format  # the sidebar's, which the run's cells carry
    session.set_widget(session.RESPONSE_FORMAT, asked.type if asked else "text")
    if asked is not None and asked.schema:
        session.set_widget(session.RESPONSE_SCHEMA, asked.schema)
    if spec.threshold is not None:
        session.set_widget(session.COMPARE_THRESHOLD, spec.threshold)


def _value_text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
