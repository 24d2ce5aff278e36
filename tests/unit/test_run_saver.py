"""The run saver: the newest copy wins, writes are spaced, and a waiter is never kept
waiting by the spacing."""

from __future__ import annotations

import threading
from typing import cast

from chatlab.compare import SAVE_BACKOFF, RunSaver
from chatlab.grid import Grid, Run, new_run
from chatlab.messages import ChatSettings
from chatlab.storage import Store


class CountingStore:
    """Stands in for a store: records each run written."""

    def __init__(self) -> None:
        self.written: list[Run] = []
        self.lock = threading.Lock()

    def save_run(self, owner: str, run: Run) -> None:
        with self.lock:
            self.written.append(run)


def snapshots(count: int) -> list[Run]:
    run = new_run(Grid(ChatSettings(model="m")), "p", [])
    return [Run(run.id, f"p{n}", "", (), run.grid, run.results) for n in range(count)]


def test_a_burst_of_copies_is_written_a_few_times_ending_with_the_newest() -> None:
    store = CountingStore()
    saver = RunSaver(cast(Store, store), "local", [], SAVE_BACKOFF, every=0.5)
    copies = snapshots(20)
    pace = threading.Event()
    for copy in copies:  # a cell settling every 10 ms, as a fast sweep's do
        saver(copy)
        pace.wait(0.01)
    assert saver.wait(10)
    assert store.written[-1] is copies[-1]
    assert len(store.written) <= 3  # the first, maybe one more, the newest: never 20


def test_waiting_is_not_held_up_by_the_spacing() -> None:
    store = CountingStore()
    saver = RunSaver(cast(Store, store), "local", [], SAVE_BACKOFF, every=60.0)
    first, second = snapshots(2)
    saver(first)
    assert saver.wait(5)
    saver(second)  # within the minute of spacing
    assert saver.wait(5)  # yet written at once for whoever waits
    assert store.written[-1] is second
