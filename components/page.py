"""What every page does first: configuration, the session, the sign-in gate, the store.

Each page calls ``prepare()`` as its first line rather than relying on ``app.py`` having
run: while ``pages/`` exists next to ``app.py``, a fresh process's first request for a
page's URL (a tab left open across a restart) runs that page alone, in Streamlit's old
pages-folder mode, without ``app.py``. Called once per run, it is cheap: the environment
and the store are loaded once per process, the session's state once per session.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from chatlab import config
from chatlab.markdown import plain
from chatlab.storage import Store
from components import account, conversations, session, upload_gate
from components.chat.notices import render_error


def prepare() -> tuple[Store | None, str]:
    """Set up this run (signing in first, if sign-in is on); the store and the owner."""
    config.load_env_file()
    _check_settings()
    session.init(config.default_model(session.secrets()))
    owner = account.current_owner()
    upload_gate.admit(owner is not None)
    if owner is None:
        account.render_login()
        st.stop()
    store = conversations.open_store()
    session.set_page_context(owner, store)
    return store, owner


def _check_settings() -> None:
    """A variable Chat Lab cannot read stops the page with what to fix (no traceback):
    a value silently replaced by its default would hide the mistake."""
    try:
        config.settings()
    except config.ConfigError as err:
        render_error(err)
        st.stop()


def show_notices() -> None:
    """One-off messages (a save that failed, a preset applied) as toasts.

    Pages call it before drawing the sidebar, so the settings panel (a fragment) can ask
    for a full run when a callback of its own left a message to show.
    """
    for note in session.take_notices():
        st.toast(plain(note), icon=":material/info:")


def fragment_rerun() -> bool:
    """Whether this run is a fragment's own rerun: the rest of the page stays as drawn."""
    ctx = get_script_run_ctx()
    return ctx is not None and bool(ctx.fragment_ids_this_run)
