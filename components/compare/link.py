"""A Compare setup's link: the page opens from one, and keeps the address bar linking to
what the form holds, so copying the URL shares the setup.

The query is read when it is not the one this page last wrote (a link opened, a link
pasted into another tab); what the page writes back is ignored, or each run would take
the user's own edits for a new link. A setup the chat sent ("Compare this prompt") keeps
its context only while the link's prompt is that question.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from chatlab.compare import Setup, from_query, to_query
from chatlab.grid import sweepable
from components import session

__all__ = ["opened_setup", "sync_url"]


def opened_setup() -> Setup:
    """What the form starts from: a link just opened, else what the chat sent, else nothing."""
    state = session.compare()
    query = st.query_params.to_dict()
    if query and query != state.link_written:
        setup, left_out = from_query(query)
        if setup is not None:
            held = state.setup
            same = held is not None and held.prompt == setup.prompt
            state.setup = replace(setup, context=held.context if held and same else None)
        if left_out:  # said in Chat Lab's words only: the link's text is never shown
            st.warning("Left out of the link's setup: " + "; ".join(left_out) + ".")
    return state.setup or Setup()


def sync_url() -> None:
    """Put the form's current setup in the address bar (call after the form is drawn)."""
    query = to_query(_form_setup())
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)
    session.compare().link_written = query


def _form_setup() -> Setup:
    value = session.widget_value
    models = value(session.COMPARE_MODELS)
    if isinstance(models, str):
        picked = tuple(m.strip() for m in models.split(",") if m.strip())
    elif isinstance(models, list | tuple):
        picked = tuple(str(m) for m in models)
    else:
        picked = ()
    samples = value(session.COMPARE_SAMPLES)
    return Setup(
        prompt=str(value(session.COMPARE_PROMPT) or ""),
        values={n: str(value(session.COMPARE_VALUES + n) or "") for n in sweepable()},
        models=picked,
        samples=samples if isinstance(samples, int) else None,
    )
