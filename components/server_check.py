"""The "Check this server" button and the table of what it found; under it, the sampling
check's (``components.sampling_check``).

Its requests pass the spending gate as chat requests do (``spending.admit``: the visitor's
rate, the process's in-flight bound); over it, the check stops and says so, and the last
report stays shown.
"""

from __future__ import annotations

import streamlit as st

from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.markdown import plain
from chatlab.provider import ServerReport, Status, check_server
from components import session, spending
from components.sampling_check import render_sampling_check

SYMBOLS: dict[Status, str] = {"yes": "✓", "no": "✗", "unknown": "?"}


def render_server_check(
    endpoint: Endpoint, model: str, report: ServerReport | None = None
) -> ServerReport | None:
    """Draw the button and the latest report; return a new report when the button ran one."""
    fresh = None
    if st.button("Check this server", icon=":material/fact_check:", disabled=not endpoint.usable):
        admit = spending.admit(session.page().owner)
        try:
            with st.spinner("Checking the server with a few tiny requests…"):
                fresh = check_server(endpoint, model, admit=admit)
        except ChatError as err:  # over the visitor's rate, or the app busy
            st.error(plain(str(err)), icon=":material/block:")
    shown = fresh or report
    if shown is not None:
        st.markdown(report_table(shown))
    render_sampling_check(endpoint, model)  # opt-in: a button of its own
    return fresh


def report_table(report: ServerReport) -> str:
    """The report as a Markdown list, one check a line, so it wraps in the narrow sidebar
    (a four-column table did not fit it); every part is plain text (server text included)."""
    rows = []
    for check in report.checks:
        found, does = _cell(check.finding), _cell(check.consequence)
        rows.append(f"- {SYMBOLS[check.status]} **{_cell(check.name)}**: {found}. *{does}*")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return plain(" ".join(text.split())) or "—"
