"""The sampling check's button, its table, and the notes the sidebar shows under a control.

The check is opt-in: the button says first how many requests it sends and how long each
reply may be. Its requests pass the spending gate as chat requests do
(``spending.admit``); over it, the rows not sent say so. The report is kept in the
session's connection state per base URL and model (``report_key``), so a note under a
control (``parameter_notes``) is about the server and model in use, and goes when either
changes.
"""

from __future__ import annotations

import streamlit as st

from chatlab.config import Endpoint
from chatlab.markdown import plain
from chatlab.provider import (
    SAMPLING_MAX_TOKENS,
    SAMPLING_REQUESTS,
    SamplingReport,
    SamplingVerdict,
    check_sampling,
    prefix_fields,
    report_key,
)
from components import model_client, session, spending

__all__ = ["BUTTON", "parameter_notes", "render_sampling_check", "sampling_table"]

BUTTON = "Run the sampling check"
SYMBOLS: dict[SamplingVerdict, str] = {
    "honoured": "✓",
    "ignored": "✗",
    "rejected": "⛔",
    "inconclusive": "?",
    "failed": "⚠",
}


def render_sampling_check(endpoint: Endpoint, model: str) -> None:
    """The button (with what it will send) and this endpoint and model's last report."""
    key = report_key(endpoint, model)
    reports = session.connection().sampling_reports
    st.caption(
        f"Does the server honour the sliders? The sampling check sends {SAMPLING_REQUESTS} "
        f"tiny requests, one at a time, each reply at most {SAMPLING_MAX_TOKENS} tokens; "
        "it ends within a minute."
    )
    if st.button(BUTTON, icon=":material/tune:", disabled=not endpoint.usable):
        admit = spending.admit(session.page().owner)
        extra = prefix_fields(model_client.server_family(endpoint))
        with st.spinner(f"Sending {SAMPLING_REQUESTS} tiny requests…"):
            reports[key] = check_sampling(endpoint, model, prefix_fields=extra, admit=admit)
    report = reports.get(key)
    if report is not None:
        st.markdown(sampling_table(report))


def sampling_table(report: SamplingReport) -> str:
    """The report as a Markdown list, one question a line (it wraps in the narrow
    sidebar); every part is plain text (replies and server text included)."""
    rows = [f"Sampling check, {report.checked_at:%Y-%m-%d %H:%M} UTC:", ""]
    for row in report.rows:
        evidence = plain(" ".join(row.evidence.split()))
        rows.append(f"- {SYMBOLS[row.verdict]} **{plain(row.name)}**: {row.verdict} — {evidence}")
    return "\n".join(rows)


def parameter_notes(endpoint: Endpoint, model: str) -> dict[str, str]:
    """By parameter name: what the last sampling check found it ignored or rejected."""
    report = session.connection().sampling_reports.get(report_key(endpoint, model))
    return {} if report is None else report.notes()
