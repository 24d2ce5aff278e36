"""The one sweep a browser session may run at a time, stopped when the session ends.

The page holds one ``SweepSlot`` per session. A new sweep starts only while the slot's
last one has finished, whatever the page shows meanwhile (a stored run reopened, another
page), so a visitor cannot stack sweeps by clicking Run again. When the session ends
(``end``: the tab closed), its sweep is stopped (waiting cells never sent, open replies
hung up, what arrived kept) and no sweep starts in it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chatlab.compare.sweep import Sweep


class SweepSlot:
    """Holds a session's running sweep; thread-safe (``end`` comes from the server's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sweep: Sweep | None = None
        self._ended = False

    def running(self) -> Sweep | None:
        """The sweep still running, if any."""
        with self._lock:
            sweep = self._sweep
        return sweep if sweep is not None and not sweep.finished else None

    def start(self, begin: Callable[[], Sweep]) -> Sweep | None:
        """Start ``begin()``'s sweep unless one is running (or the session ended): else None."""
        with self._lock:
            busy = self._sweep is not None and not self._sweep.finished
            if self._ended or busy:
                return None
            self._sweep = begin()
            return self._sweep

    def reopen(self) -> None:
        """The session is back (it reconnected after a drop): sweeps may start again."""
        with self._lock:
            self._ended = False

    def end(self) -> None:
        """The session ended: stop its sweep, and start none again."""
        with self._lock:
            self._ended = True
            sweep = self._sweep
        if sweep is not None:
            sweep.stop()
