"""The process's store, opened behind the page and tried again until it opens.

Design decisions:

* **A run never waits long for a database that does not answer.** ``Store.open`` runs on
  a thread of its own. A run waits for it at most ``FIRST_WAIT`` while the process has not
  tried yet (a healthy database opens well within it, so the first page has its store),
  and at most ``LATER_WAIT`` once an attempt failed: a locked file or an unreachable
  server costs a page a fraction of a second, not a busy or connect timeout.
* **Tried again by every run, and on its own.** Each run asks for a new attempt (one at a
  time for the whole process); between runs the thread retries with backoff while the
  failure may pass (``RETRY``), so messages kept meanwhile are saved without another run.
* **The outboxes that waited get the writer at once.** A session that sent messages while
  the store could not open holds them in its outbox (no writer yet); the moment the store
  opens, every such outbox is handed the process's one ``Writer`` and starts writing.
* **Plain objects only**: no Streamlit here; ``components.conversations`` keeps one
  opener per database URL (``st.cache_resource``) and shows what it says.
"""

from __future__ import annotations

import logging
import threading
import weakref

from chatlab.storage import Outbox, StorageError, Store, Writer

__all__ = ["FIRST_WAIT", "LATER_WAIT", "RETRY", "StoreOpener"]

FIRST_WAIT = 5.0  # seconds a run waits for the process's first attempt
LATER_WAIT = 0.25  # seconds a run waits for a new attempt once one failed
RETRY = (1.0, 2.0, 4.0, 8.0, 15.0)  # seconds between attempts no run asked for
_log = logging.getLogger(__name__)


def _still_opening() -> StorageError:
    return StorageError(
        "Chat Lab is still opening its database.",
        "Your messages are kept here meanwhile; nothing needs doing.",
    )


class StoreOpener:
    """Opens one database for the process, on a thread, until it opens."""

    def __init__(self, url: str, retry: tuple[float, ...] = RETRY) -> None:
        self._url, self._retry = url, retry
        self._wake = threading.Condition()
        self._opened: tuple[Store, Writer] | None = None
        self._error: StorageError | None = None
        self._attempts = 0  # attempts that ended (in failure; the one that works ends it all)
        self._asked = False  # a run asked for an attempt since the last one began
        self._thread: threading.Thread | None = None
        self._waiting: weakref.WeakSet[Outbox] = weakref.WeakSet()

    def open(self, outbox: Outbox) -> tuple[Store, Writer]:
        """The store and its writer; else the ``StorageError`` of the last attempt.

        Asks for a new attempt and waits for it briefly (see the module's docstring);
        ``outbox`` gets the writer as soon as the store opens, run or no run.
        """
        with self._wake:
            if self._opened is None:
                self._waiting.add(outbox)
                ended = self._attempts
                self._asked = True
                self._wake.notify_all()
                self._start()
                wait = LATER_WAIT if ended else FIRST_WAIT
                self._wake.wait_for(lambda: self._settled(ended), timeout=wait)
            if self._opened is None:
                raise self._error or _still_opening()
            return self._opened

    def _settled(self, ended: int) -> bool:
        return self._opened is not None or self._attempts > ended

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chatlab-open", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wake:
                self._asked = False
            try:
                store = Store.open(self._url)
            except Exception as err:  # a bug must not end the retries
                self._failed(err if isinstance(err, StorageError) else _unexpected(err))
                failures += 1
                self._pause(failures)
                continue
            self._succeeded(store)
            return

    def _failed(self, err: StorageError) -> None:
        with self._wake:
            self._error = err
            self._attempts += 1
            self._wake.notify_all()

    def _pause(self, failures: int) -> None:
        """Wait for a run to ask again, or (while it may pass) for the backoff to end."""
        error = self._error
        delay = self._retry[min(failures, len(self._retry)) - 1]
        with self._wake:
            self._wake.wait_for(
                lambda: self._asked, timeout=delay if error is None or error.retryable else None
            )

    def _succeeded(self, store: Store) -> None:
        writer = Writer(store)
        with self._wake:
            self._opened, self._error = (store, writer), None
            waiting, self._waiting = list(self._waiting), weakref.WeakSet()
            self._wake.notify_all()
        for outbox in waiting:
            outbox.attach(writer)


def _unexpected(err: Exception) -> StorageError:
    _log.error("opening the database failed", exc_info=err)
    return StorageError(
        f"Chat Lab could not open its database ({type(err).__name__}).",
        "It keeps trying; if this goes on, restart Chat Lab and read its log.",
    )
