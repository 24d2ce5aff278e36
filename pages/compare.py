"""Compare: one prompt over a grid of settings and models, side by side, with charts."""

from __future__ import annotations

import streamlit as st

from chatlab.compare import Sweep
from components import page, session, sidebar, spending
from components.compare import link as compare_link
from components.compare import results as compare_results
from components.compare import runs as compare_runs
from components.compare import scores as compare_scores
from components.compare import view as compare_view
from components.compare.form import render_form
from components.setup_panel import render_setup

store, owner = page.prepare()
endpoint = sidebar.endpoint()
sidebar.endpoint_panel(endpoint)
page.show_notices()
with st.sidebar:
    sidebar.settings_panel(endpoint)

st.title("Compare")
st.caption(
    "One prompt, run at several settings and models, several samples each: see how the "
    "replies differ, how fast and long they are, and how varied."
)
if not endpoint.usable:
    render_setup()
    st.stop()

current = session.compare().run
running = spending.sweep_slot().running()  # one per session, whichever run is shown
shown = current.id if current is not None else None
# One container, whatever it holds this time (a refusal, an estimate), so the report
# below keeps its place on the page from one run to the next.
with st.container():
    asked = render_form(
        endpoint, shown=shown, running=running is not None, setup=compare_link.opened_setup()
    )
    compare_link.sync_url()  # the address bar links to this setup
    spending.render_running(running, current)
    if asked is not None:
        compare_runs.start(endpoint, asked, store, owner)
        current = session.compare().run
with st.sidebar, st.expander("Compare runs", icon=":material/history:", expanded=True):
    compare_runs.render_stored(store, owner)  # after a new run is stored, so it is listed
if current is None:
    st.stop()

st.divider()
compare_results.render_prompts(current.snapshot() if isinstance(current, Sweep) else current)
report = compare_results.report_tabs(
    live=isinstance(current, Sweep) and not current.finished,
    scored=compare_scores.scored(current),
)
run = compare_view.render_run(current, report.head, report.cards)
compare_results.render_report(run, report)
if compare_runs.render_take_to_chat(run):
    st.switch_page("pages/chat.py")
if st.button("Delete this run", icon=":material/delete:", key="compare_delete"):
    compare_runs.delete(store, owner, run)
    st.rerun()
