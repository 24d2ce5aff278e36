"""Usage: requests, tokens, cost and speed over time, from the stored replies' telemetry."""

from __future__ import annotations

import streamlit as st

from chatlab import usage
from chatlab.markdown import plain
from chatlab.storage import StorageError
from components import page, period
from components.usage import view as usage_view

store, owner = page.prepare()
st.title("Usage")
if store is None:
    st.info("Usage is read from saved conversations and compare runs, and they cannot be read now.")
    st.stop()

zone = period.browser_zone()
dates, model_filter, source_filter = st.columns([2, 2, 2])
first, last = period.pick_period(dates, zone, usage_view.DEFAULT_DAYS)
since, until = usage.period(first, last, zone)
try:
    found = store.usage_records(owner, since=since, until=until)  # one query, this owner's
except StorageError as err:
    st.error(plain(str(err)), icon=":material/error:")
    st.stop()
usage_view.render_skipped(found.skipped)
if not found.records:
    usage_view.render_empty(first, last)
    st.stop()

wanted = usage_view.pick_models(model_filter, usage.models(found.records))
source = usage_view.pick_source(source_filter)
chosen = usage.only_source(usage.only_models(found.records, wanted), source)
if not chosen:
    st.info("No replies match these filters.", icon=":material/filter_alt:")
    st.stop()
usage_view.render_totals(usage.add_up(record.stats for record in chosen))
unit = usage.unit_for(chosen, zone)
usage_view.render_over_time(usage.by_bin(chosen, zone, unit), usage.bins(chosen, zone, unit), unit)
usage_view.render_per_source(usage.by_source(chosen))
usage_view.render_per_model(usage.by_model(chosen))
usage_view.render_speed(
    usage.spreads(chosen, usage.time_to_first_token),
    usage.spreads(chosen, usage.tokens_per_second),
    (
        usage.values(chosen, usage.time_to_first_token),
        usage.values(chosen, usage.tokens_per_second),
    ),
)
usage_view.render_slowest(usage.slowest(chosen), zone)
