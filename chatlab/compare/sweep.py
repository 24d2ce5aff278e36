"""A sweep: a compare run's cells sent concurrently, with a bound, and settled as they end.

``Sweep`` runs the cells of a ``chatlab.grid.Run`` on a pool of ``concurrency`` threads;
each cell's reply is read through a ``BackgroundReply`` so that ``stop()`` closes every
connection at once, even one still waiting for headers. The page never touches a worker:
it polls ``results()`` (frozen snapshots) and redraws the cards whose ``version`` moved. A
failed cell records its error and the others carry on; a cell the server had no room for
is sent again at a lower concurrency. A finished cell is then ``evaluate``d on its worker
(the run's assertions, and a judge's requests), before it is told done, so a done result
always carries its checks (unless Stop came first: no judge is asked after Stop).
``on_change`` runs (on a worker thread, one call at
a time, in order) after each cell settles, so the caller can store the run as it grows.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.grid import (
    FINAL,
    Cell,
    Result,
    Run,
    State,
)
from chatlab.provider import Admit, BackgroundReply, ReplyStream

MAX_CONCURRENCY = 16
DEFAULT_CONCURRENCY = 4
MAX_ATTEMPTS = 4  # a cell the server had no room for is sent at most this often


# Sends one cell's request (closing the watch cuts it): ``chatlab.provider.start_reply``.
StartCell = Callable[[Cell, Watch], ReplyStream]
# A finished result -> the same with its checks (and a judge's telemetry); on a worker.
Evaluate = Callable[[Result], Result]


class _Slot:
    """A cell's mutable progress, written by its worker under the sweep's lock."""

    def __init__(self, cell: Cell) -> None:
        self.result = Result(cell)
        self.parts: list[str] = []
        self.worker: BackgroundReply | None = None

    def update(self, **changes: Any) -> None:
        self.result = replace(self.result, version=self.result.version + 1, **changes)


class Sweep:
    """Runs a ``Run``'s cells, at most ``concurrency`` at once; stoppable from any thread."""

    def __init__(
        self,
        run: Run,
        start: StartCell,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_change: Callable[[Run], None] | None = None,
        admit: Admit | None = None,
        sizing: str | None = None,
        evaluate: Evaluate | None = None,
    ) -> None:
        self.sizing = sizing  # why it runs fewer at once than asked, said on the page
        self._run = run
        self._start = start
        self._admit = admit  # each cell's place under the limits (``chatlab.guard.limits.admit``)
        self._on_change = on_change
        self._evaluate = evaluate
        self._slots = [_Slot(result.cell) for result in run.results]
        self._lock = threading.Lock()
        self._turns = threading.Condition(self._lock)  # a cell may start / the queue moved
        self._notify_lock = threading.Lock()
        self._stopped = threading.Event()
        bound = max(1, min(concurrency, MAX_CONCURRENCY))
        self._limit = bound  # lowered when the server runs out of room
        self._queue = deque(range(len(self._slots)))
        self._running = 0
        pool = ThreadPoolExecutor(max_workers=bound, thread_name_prefix="chatlab-sweep")
        self._futures = [pool.submit(self._work) for _ in range(min(bound, len(self._slots)))]
        pool.shutdown(wait=False)  # its threads end once every cell has run

    @property
    def concurrency(self) -> int:
        """How many requests run at once now (lowered after a capacity failure)."""
        with self._lock:
            return self._limit

    @property
    def id(self) -> str:
        return self._run.id

    def results(self) -> tuple[Result, ...]:
        """Every cell's result as it stands."""
        with self._lock:
            return tuple(slot.result for slot in self._slots)

    def snapshot(self) -> Run:
        """The run with its results as they stand."""
        return replace(self._run, results=self.results(), stopped=self._stopped.is_set())

    @property
    def finished(self) -> bool:
        return all(result.state in FINAL for result in self.results())

    def rate(self, index: int, rating: int) -> None:
        """A person's rating of result ``index``: 1 up, -1 down, 0 none; stored with it."""
        with self._lock:
            self._slots[index].update(rating=rating)
        self._notify()

    def stop(self) -> None:
        """End the run: close every connection, keep what arrived, start nothing more."""
        with self._lock:
            self._stopped.set()
            self._turns.notify_all()
            workers = [slot.worker for slot in self._slots if slot.worker is not None]
            for slot in self._slots:
                if slot.result.state == State.WAITING:
                    slot.update(state=State.STOPPED)
        for worker in workers:
            worker.close()
        self._notify()

    def wait(self, timeout: float) -> bool:
        """Wait until every cell's worker is done (or ``timeout`` s); True if they are."""
        _, pending = futures.wait(self._futures, timeout=timeout)
        return not pending

    def _work(self) -> None:
        """Run queued cells, no more than ``_limit`` at once, until none is left."""
        while True:
            with self._turns:
                self._turns.wait_for(self._may_go_on)
                if self._stopped.is_set() or not self._queue:
                    self._turns.notify_all()
                    return
                index = self._queue.popleft()
                self._running += 1
                together = self._running
            try:
                self._run_cell(index, together)
            finally:
                with self._turns:
                    self._running -= 1
                    self._turns.notify_all()

    def _may_go_on(self) -> bool:
        if self._stopped.is_set():
            return True
        if self._queue:
            return self._running < self._limit
        return self._running == 0  # a running cell may still come back for a retry

    def _run_cell(self, index: int, together: int) -> None:
        slot = self._slots[index]
        cell = slot.result.cell
        with self._lock:
            if self._stopped.is_set():
                return
            slot.parts = []
            slot.worker = worker = BackgroundReply(
                lambda watch: self._start(cell, watch), admit=self._admit
            )
            slot.update(state=State.STREAMING, text="", attempts=slot.result.attempts + 1)
        error: ChatError | None = None
        try:
            for delta in worker.deltas():
                if delta:
                    with self._lock:
                        slot.parts.append(delta)
                        slot.update(text="".join(slot.parts))
        except ChatError as err:
            error = err
        finally:
            worker.close()
            if not self._retry_later(index, worker, error, together):
                self._settle(slot, worker, error)
            self._notify()

    def _retry_later(
        self, index: int, worker: BackgroundReply, error: ChatError | None, together: int
    ) -> bool:
        """Put a cell that failed for the server's capacity back in the queue, at lower
        concurrency, to run when others have finished; False when it is not retried."""
        slot = self._slots[index]
        if error is None or error.kind != Kind.CAPACITY:
            return False
        with self._lock:
            if self._stopped.is_set() or slot.result.attempts >= MAX_ATTEMPTS:
                return False
            self._limit = min(self._limit, max(1, together - 1))
            spent = worker.outcome().counted_as("compare").stats
            earlier = slot.result.retried
            if spent is not None and earlier is not None:
                spent = earlier.followed_by(spent)
            slot.update(
                state=State.WAITING,
                text="",
                retried=spent or earlier,
                note=retry_note(together, self._limit, error),
            )
            self._queue.appendleft(index)
            self._turns.notify_all()
        return True

    def _settle(self, slot: _Slot, worker: BackgroundReply, error: ChatError | None) -> None:
        outcome = worker.outcome().counted_as("compare")
        with self._lock:
            if error is not None:
                state = State.FAILED
            elif self._stopped.is_set() and outcome.finish_reason is None:
                state = State.STOPPED
            else:
                state = State.DONE
            text = "".join(slot.parts)
        settled = replace(
            slot.result,
            text=text,
            stats=outcome.stats,
            error=None if error is None else str(error),
            request=outcome.request,
            mean_logprob=outcome.mean_logprob,
        )
        if state == State.DONE and self._evaluate is not None and not self._stopped.is_set():
            settled = self._evaluate(replace(settled, state=state))
        with self._lock:
            slot.update(
                state=state,
                text=settled.text,
                stats=settled.stats,
                error=settled.error,
                request=settled.request,
                mean_logprob=settled.mean_logprob,
                checks=settled.checks,
                judged=settled.judged,
            )

    def _notify(self) -> None:
        if self._on_change is None:
            return
        with self._notify_lock:  # one save at a time, each newer than the last
            self._on_change(self.snapshot())


def retry_note(together: int, limit: int, error: ChatError) -> str:
    """What a retried card says: the server ran out of room, so fewer run at once."""
    ran = "alone" if together == 1 else f"with {together} at once"
    now = "one at a time" if limit == 1 else f"{limit} at once"
    return (
        f"Retried: the server ran out of room for parallel requests when this ran {ran} "
        f"(it said: {error.detail or error.message}). It runs again {now}."
    )
