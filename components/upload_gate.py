"""The Streamlit side of the upload ledger (``chatlab.guard.uploads``).

A page admits its session once the sign-in gate is passed (``admit``); the HTTP guard
(``asgi.py``) asks Streamlit's runtime, through ``StreamlitSessions``, what a session
holds, whether it is connected, and to drop the files of one that has ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from chatlab.guard import LEDGER


def admit(allowed: bool) -> None:
    """Let this session upload files (or not: nobody has signed in yet)."""
    context = get_script_run_ctx()
    if context is not None:
        LEDGER.admit(context.session_id, allowed, time.monotonic())


def reconnect_window() -> float:
    """Seconds a disconnected session may come back (``server.disconnectedSessionTTL``)."""
    return float(st.get_option("server.disconnectedSessionTTL"))


class StreamlitSessions:
    """The runtime's sessions and uploaded files, as ``chatlab.guard.http_guard`` asks for them."""

    def held(self, session_id: str, file_ids: Iterable[str]) -> dict[str, int]:
        files = runtime.get_instance().uploaded_file_mgr.get_files(session_id, list(file_ids))
        return {record.file_id: len(record.data) for record in files}

    def is_connected(self, session_id: str) -> bool:
        return runtime.get_instance().is_active_session(session_id)

    def remove_files(self, session_id: str) -> None:
        runtime.get_instance().uploaded_file_mgr.remove_session_files(session_id)
