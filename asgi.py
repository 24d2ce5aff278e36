"""Chat Lab as served: app.py behind the HTTP guard (framing headers, upload limits).

``streamlit run asgi.py`` (what ``make run`` and ``make serve`` start) finds ``app`` here,
Streamlit's supported ASGI entry point (``st.App``), and runs app.py through it.
``streamlit run app.py`` still works, without the guard (chatlab/guard/http_guard.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import streamlit as st
from starlette.middleware import Middleware

from chatlab.guard import HttpGuard, sweep_ended_sessions
from components import state_lock
from components.upload_gate import StreamlitSessions, reconnect_window

state_lock.share()  # before any session: a rerun and the run it stops take one lock
SESSIONS = StreamlitSessions()


@contextlib.asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    """Clean up after ended sessions for as long as the server runs."""
    sweeper = asyncio.create_task(sweep_ended_sessions(SESSIONS, reconnect_window()))
    try:
        yield None
    finally:
        sweeper.cancel()


app = st.App("app.py", middleware=[Middleware(HttpGuard, sessions=SESSIONS)], lifespan=lifespan)
