"""One lock for a session's state, however many script runs reach it at once.

With ``runner.fastReruns`` (Streamlit's default) a rerun does not wait for the run it
stops: a new ScriptRunner starts at once, while the stopped one may still be ending (its
``on_script_finished`` removes stale widgets from the session state). Each runner wraps
the session's one ``SessionState`` in a ``SafeSessionState`` with a lock of its own
(Streamlit 1.67), so the two locks exclude nothing: a full test run logged the new run's
widget failing with "dictionary changed size during iteration" while it read the state
the ending run was changing.

``share()`` (called once per process, by ``asgi.py`` and ``app.py``) makes every wrapper
of one ``SessionState`` take the same lock, kept as long as a wrapper of it lives. A run
still stops at its next Streamlit call, as before: the check comes before the lock.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from streamlit.runtime.state.safe_session_state import SafeSessionState
from streamlit.runtime.state.session_state import SessionState

# A session's state -> its lock, while a wrapper holds the lock (so the state, whose id is
# the key, is alive and its id not reused).
_LOCKS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_GUARD = threading.Lock()
_SHARED = "_chatlab_shared_lock"


def lock_of(state: SessionState) -> Any:
    """The one re-entrant lock every wrapper of ``state`` takes."""
    with _GUARD:
        lock = _LOCKS.get(id(state))
        if lock is None:
            lock = _LOCKS[id(state)] = threading.RLock()
        return lock


def share() -> None:
    """Make each ``SafeSessionState`` made from now on take its state's one lock."""
    original = SafeSessionState.__init__
    if getattr(original, _SHARED, False):
        return

    def __init__(
        self: SafeSessionState, state: SessionState, yield_callback: Callable[[], None]
    ) -> None:
        original(self, state, yield_callback)
        object.__setattr__(self, "_lock", lock_of(state))

    setattr(__init__, _SHARED, True)
    SafeSessionState.__init__ = __init__  # type: ignore[method-assign]
