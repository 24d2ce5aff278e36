"""After Stop, the page is drawn whole again, as after any reply.

The chat box's Stop (``st.chat_input(submit_mode="stop")``) ends the run where it is:
Streamlit raises ``StopException`` at the run's next element, and refuses every ``st``
call after it, ``st.rerun()`` included. What the page showed at that moment stayed: the
reply's streaming frame, its cursor and "Receiving · 12 tokens/s" under it, as if it were
still coming, with none of a finished reply's note, numbers or actions, until the next
click. The reply itself was kept and saved (``components/chat/turn.py``).

So the stopped run asks the session for a full run, as the browser does when a button is
pressed: a ``rerun_script`` message with the run's page and query string, and no widget
states (the widgets keep theirs). It is handed to the server's event loop, where Streamlit
handles the browser's messages.

Streamlit ends a run with the same ``StopException`` for a newer run (with
``runner.fastReruns``, the default: a message sent, a button, another page) and for a
closed tab. Those need no redraw, and a redraw would stop the newer run in turn. So the
message is sent only if, on the event loop, the session's current run is still the one
that was stopped (or none is left): the loop is where Streamlit starts every newer run,
so that check and the start of a newer run cannot overlap.
"""

from __future__ import annotations

import logging
import threading

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.runtime import Runtime
from streamlit.runtime.runtime import RuntimeStoppedError
from streamlit.runtime.scriptrunner import get_script_run_ctx

LOG = logging.getLogger(__name__)


def draw_again() -> None:
    """Have this session's page drawn whole once the stopped run ends (a no-op outside
    a served session: AppTest, a bare script)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return
    runtime = Runtime.instance()
    app_session = runtime.get_app_session(ctx.session_id)
    if app_session is None:  # the tab has gone
        return
    message = BackMsg()
    message.rerun_script.query_string = ctx.query_string
    message.rerun_script.page_script_hash = ctx.page_script_hash
    session_id, stopped = ctx.session_id, threading.current_thread()

    def deliver() -> None:
        # Streamlit offers no public way to these three: the session's current run, the
        # thread a run executes on, the loop it handles the browser's messages on.
        current = app_session._scriptrunner
        if current is not None and current._script_thread is not stopped:
            return  # a newer run ended this one, and draws the page itself
        try:
            runtime.handle_backmsg(session_id, message)
        except RuntimeStoppedError:  # the server is stopping: nothing left to draw
            LOG.debug("No redraw after Stop", exc_info=True)

    # Streamlit reads the browser's messages on its event loop only (handle_backmsg is
    # not thread-safe).
    app_session._event_loop.call_soon_threadsafe(deliver)
