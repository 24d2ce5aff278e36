"""A compare run stored as it grows, off the sweep's threads (``RunSaver``).

The sweep calls its ``on_change`` after every cell on a worker thread, one call at a time:
a save there would hold every worker while a whole run's JSON is written (a hundred cells
of a hundred results each). The saver only swaps in the newest snapshot and returns; its
own thread writes, so the page and ``python -m chatlab eval`` never wait on the database.
Writes are spaced ``SAVE_EVERY`` apart (not the run's last copy, every cell ended): a run
of a hundred fast cells is written a few times a second, not a hundred times back to
back (each a whole run's JSON, competing with the sweep's threads for the interpreter).
Whoever ``wait``s (the first save that lists a new run, the command line's last) is not
kept waiting by the spacing.
"""

from __future__ import annotations

import threading

from chatlab.grid import Run
from chatlab.storage import StorageError, Store

__all__ = ["SAVE_BACKOFF", "SAVE_EVERY", "RunSaver"]

SAVE_BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # seconds between a run's save retries
SAVE_EVERY = 0.5  # seconds from one write of a run to its next, unless someone waits


class RunSaver:
    """Stores a compare run as it grows, behind the page (or the command line): the latest
    copy wins, retried until the store answers.

    Compare runs are not messages, so they do not go through the chat's outbox; they
    follow its design. The sweep hands every new snapshot of the run (on a worker thread)
    and never waits: a thread of this saver writes the newest one. While the store fails
    (locked, down, full) it retries with backoff, and the user is told once, on the next
    run, that the run is not saved yet and that its results stay on the page (the report's
    JSON export keeps them); once a retry works, once more that it is saved. A refusal
    retrying cannot fix is told once the same way. It touches no session state: ``notices``
    is the session's plain list (``session.page().notices``), or the command line's.
    """

    def __init__(
        self,
        store: Store | None,
        owner: str,
        notices: list[str],
        backoff: tuple[float, ...],
        every: float = SAVE_EVERY,
    ) -> None:
        self._store, self._owner, self._notices, self._backoff = store, owner, notices, backoff
        self._every = every
        self._waiters = 0  # callers of wait(): the spacing gives way to them
        self._wake = threading.Condition()
        self._waiting: Run | None = None
        self._busy = False
        self._cancelled = False
        self._told = False  # the user was told this run is not saved (and not yet that it is)
        self._thread: threading.Thread | None = None

    def __call__(self, run: Run) -> None:
        """Store ``run`` (a snapshot) soon; replaces a copy still waiting."""
        if self._store is None:
            return
        with self._wake:
            if self._cancelled:
                return
            self._waiting = run
            self._wake.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name="chatlab-run-saver")
                self._thread.daemon = True
                self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait until every copy handed over is written; False if time ran out first."""
        with self._wake:
            self._waiters += 1
            self._wake.notify_all()
            try:
                return self._wake.wait_for(
                    lambda: self._waiting is None and not self._busy, timeout
                )
            finally:
                self._waiters -= 1

    def cancel(self, timeout: float) -> None:
        """Write nothing more (the run is being deleted); wait for a write under way."""
        with self._wake:
            self._cancelled, self._waiting = True, None
            self._wake.notify_all()
        self.wait(timeout)

    def _write(self) -> None:
        store, failures = self._store, 0
        while store is not None and (run := self._next()) is not None:
            try:
                store.save_run(self._owner, run)
            except StorageError as err:
                failures += 1
                self._failed(run, err)
                if err.retryable:
                    self._pause(failures)
                continue
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
            failures = 0
            self._saved(run)
            self._space()

    def _next(self) -> Run | None:
        with self._wake:
            run, self._waiting = self._waiting, None
            if run is None:
                self._thread = None  # the next copy starts a new thread
            self._busy = run is not None
            return run

    def _failed(self, run: Run, err: StorageError) -> None:
        with self._wake:
            if err.retryable and self._waiting is None and not self._cancelled:
                self._waiting = run  # try this copy again unless a newer one came
            if not self._told:
                self._told = True
                self._notices.append(
                    f"This compare run is not saved yet: {err} Its results stay on this page "
                    "(Download JSON keeps them)"
                    + ("; Chat Lab keeps trying." if err.retryable else ".")
                )

    def _saved(self, run: Run) -> None:
        with self._wake:
            if self._told and self._waiting is None:
                self._told = False
                self._notices.append("The compare run is saved now.")

    def _space(self) -> None:
        """Let the next copy wait ``every`` s after a write, unless someone waits for it or
        it is the run's last (every cell ended: the stored runs list it as finished at once)."""

        def go() -> bool:
            last = self._waiting is not None and self._waiting.finished
            return self._cancelled or self._waiters > 0 or last

        with self._wake:
            self._wake.wait_for(go, timeout=self._every)

    def _pause(self, failures: int) -> None:
        delay = self._backoff[min(failures, len(self._backoff)) - 1]
        with self._wake:
            self._wake.wait_for(lambda: self._cancelled, timeout=delay)
