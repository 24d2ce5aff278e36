"""A sweep: one prompt over a grid of settings, the calls run concurrently with a bound.

The grid is plain data (``Grid`` -> ``cells``): every combination of the varied parameters'
values, for every model, times N samples. The parameters that can be varied, and their
ranges, are the declarations marked ``sweep`` (``chatlab.params``), so a knob declared on
``ChatSettings`` can be swept without a change here.

``Sweep`` runs the cells on a pool of ``concurrency`` threads; each cell's reply is read
through a ``BackgroundReply`` so that ``stop()`` closes every connection at once, even
one still waiting for headers. The page never touches a worker: it polls ``results()``
(frozen snapshots) and redraws the cards whose ``version`` moved. A failed cell records
its error and the others carry on. ``on_change`` runs (on a worker thread, one call at a
time, in order) after each cell settles, so the caller can store the run as it grows.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chatlab.background import Admit, BackgroundReply
from chatlab.deadline import Watch
from chatlab.diversity import Diversity, diversity
from chatlab.errors import ChatError, ChatLabError, Kind
from chatlab.messages import ChatSettings, ReplyStats, new_id
from chatlab.params import Declared, declared
from chatlab.servers import display_name
from chatlab.stream import ReplyStream

MAX_SAMPLES = 10
MAX_CELLS = 120  # requests one sweep may send
MAX_CONCURRENCY = 16
DEFAULT_CONCURRENCY = 4
MAX_ATTEMPTS = 4  # a cell the server had no room for is sent at most this often
DEFAULT_SAMPLES = 3
DEFAULT_TEMPERATURES = (0.0, 0.7, 1.4)


class GridError(ChatLabError):
    """A grid that cannot be run: a value that does not parse, or too many requests."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message, action, retryable=False)


def sweepable() -> dict[str, Declared]:
    """The parameters Compare may vary (numbers and choices marked ``sweep``), in field order."""
    return {found.name: found for found in declared() if found.sweepable}


def parse_values(name: str, text: str) -> tuple[Any, ...]:
    """The comma-separated values typed for parameter ``name``; ``GridError`` on a bad one."""
    axes = sweepable()
    found = axes.get(name)
    if found is None:
        raise GridError(f"{name} cannot be swept.", f"Choose one of {', '.join(axes)}.")
    values = []
    for raw in (piece.strip() for piece in text.split(",")):
        if raw:
            values.append(_parse_one(found, raw))
    return tuple(dict.fromkeys(values))  # a value typed twice is run once


def _parse_one(found: Declared, raw: str) -> Any:
    name, kind = found.name, found.kind
    if isinstance(kind, tuple):
        if raw not in kind:
            raise GridError(f"{raw!r} is not a {name}.", f"Use one of {', '.join(kind)}.")
        return raw
    try:
        value = float(raw) if kind is float else int(raw)
    except ValueError:
        raise GridError(
            f"{raw!r} is not a number ({name}).", "Type numbers separated by commas."
        ) from None
    # The declared range (the sidebar's): a value outside is refused before anything is sent.
    low, high = found.param.low, found.param.high
    if low is None or high is None:
        return value
    if not low <= value <= high:
        raise GridError(
            f"{name} {raw} is out of range.", f"Use values from {low:,.10g} to {high:,.10g}."
        )
    return value


@dataclass(frozen=True)
class Grid:
    """What to run: base settings, the varied parameters' values, the models, the samples."""

    base: ChatSettings
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    models: tuple[str, ...] = ()  # blank: the base settings' model
    samples: int = DEFAULT_SAMPLES


@dataclass(frozen=True)
class Cell:
    """One request of a sweep: its settings, what it varies, and which sample it is."""

    settings: ChatSettings
    varied: tuple[tuple[str, Any], ...]  # (parameter, value), the model last
    sample: int  # 1-based

    @property
    def setting(self) -> str:
        """What distinguishes this cell's setting: ``temperature=0.7 · gpt-4o-mini``."""
        return " · ".join(  # a model that is a file path (llama.cpp): its file name
            f"{name}={value}" if name != "model" else display_name(value)
            for name, value in self.varied
        )


def cells(grid: Grid) -> list[Cell]:
    """Every request of the grid: every model, every combination of values, every sample."""
    if not 1 <= grid.samples <= MAX_SAMPLES:
        raise GridError(f"{grid.samples} samples per cell.", f"Use 1 to {MAX_SAMPLES}.")
    names = [name for name, _ in grid.axes]
    combos = list(itertools.product(*(values for _, values in grid.axes)))
    models = grid.models or (grid.base.model,)
    total = len(models) * len(combos) * grid.samples
    if total > MAX_CELLS:
        raise GridError(
            f"This grid sends {total} requests; a sweep sends at most {MAX_CELLS}.",
            "Use fewer values, models or samples.",
        )
    found = []
    for model, combo in itertools.product(models, combos):
        changes = dict(zip(names, combo, strict=True))
        settings = replace(grid.base, model=model, **changes)
        varied = (*changes.items(), ("model", model))
        found += [Cell(settings, varied, sample) for sample in range(1, grid.samples + 1)]
    return found


class State(StrEnum):
    """Where a cell is."""

    WAITING = "waiting"
    STREAMING = "streaming"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"  # Stop came first: what arrived (maybe nothing) is kept


FINAL = frozenset({State.DONE, State.FAILED, State.STOPPED})


@dataclass(frozen=True)
class Result:
    """A cell's outcome so far; ``version`` grows with every change."""

    cell: Cell
    state: State = State.WAITING
    text: str = ""
    stats: ReplyStats | None = None
    error: str | None = None  # str(err): what happened and what to do
    request: dict[str, Any] | None = None
    mean_logprob: float | None = None  # where the server sent logprobs
    version: int = 0
    attempts: int = 0  # requests sent for this cell (a capacity retry adds one)
    note: str | None = None  # why it was retried, said on its card
    retried: ReplyStats | None = None  # the telemetry of its earlier, failed attempts


@dataclass(frozen=True)
class Run:
    """A whole sweep as stored: what was asked, of what, and every result."""

    id: str
    prompt: str
    system_prompt: str
    messages: tuple[dict[str, str], ...]  # the request's ``messages``, the same for every cell
    grid: Grid
    results: tuple[Result, ...]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stopped: bool = False

    @property
    def finished(self) -> bool:
        return all(result.state in FINAL for result in self.results)


# Sends one cell's request (closing the watch cuts it); ``chatlab.client.start_reply`` inside.
StartCell = Callable[[Cell, Watch], ReplyStream]


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
    ) -> None:
        self.sizing = sizing  # why it runs fewer at once than asked, said on the page
        self._run = run
        self._start = start
        self._admit = admit  # each cell's place under the limits (``chatlab.limits.admit``)
        self._on_change = on_change
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
            stream = worker.stream
            spent = replace(stream.stats(), source="compare") if stream is not None else None
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
        stream = worker.stream
        with self._lock:
            if error is not None:
                state = State.FAILED
            elif self._stopped.is_set() and (stream is None or stream.finish_reason is None):
                state = State.STOPPED
            else:
                state = State.DONE
            slot.update(
                state=state,
                text="".join(slot.parts),
                stats=replace(stream.stats(), source="compare") if stream is not None else None,
                error=None if error is None else str(error),
                request=stream.request if stream is not None else None,
                mean_logprob=_mean_logprob(stream),
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


def _mean_logprob(stream: ReplyStream | None) -> float | None:
    """The reply's mean log-probability, once the stream records one (logprobs asked for)."""
    value = getattr(stream, "mean_logprob", None)
    return float(value) if isinstance(value, int | float) else None


def new_run(grid: Grid, prompt: str, messages: Sequence[dict[str, str]]) -> Run:
    """A run of ``grid`` not started yet, every cell waiting; ``messages`` is what each sends."""
    return Run(
        id=new_id(),
        prompt=prompt,
        system_prompt=grid.base.system_prompt,
        messages=tuple(messages),
        grid=grid,
        results=tuple(Result(cell) for cell in cells(grid)),
    )


def groups(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Results by setting, in grid order."""
    found: dict[str, list[Result]] = {}
    for result in results:
        found.setdefault(result.cell.setting, []).append(result)
    return found


def table_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One row per result: its setting, sample, output and telemetry (None = unknown)."""
    rows = []
    for result in results:
        stats = result.stats
        usage = stats.usage if stats is not None else None
        varied = {name: value for name, value in result.cell.varied if name != "model"}
        rows.append(
            {
                "setting": result.cell.setting,
                "model": result.cell.settings.model,
                **varied,
                "sample": result.cell.sample,
                "state": result.state.value,
                "output": result.text,
                "tokens in": usage.prompt_tokens if usage is not None else None,
                "tokens out": usage.completion_tokens if usage is not None else None,
                "estimated": usage.estimated if usage is not None else None,
                "time to first token (s)": stats.time_to_first_token if stats else None,
                "total time (s)": stats.total_time if stats is not None else None,
                "tokens/s": stats.tokens_per_second if stats is not None else None,
                "finish reason": stats.finish_reason if stats is not None else None,
                "cost (USD)": stats.cost_usd if stats is not None else None,
                "mean logprob": result.mean_logprob,
                "error": result.error,
            }
        )
    return rows


@dataclass(frozen=True)
class SettingSummary:
    """One setting's samples in figures: speed, length, cost and how varied they are."""

    setting: str
    samples: int  # results with text
    mean_total_time: float | None
    mean_tokens_out: float | None
    cost_usd: float | None  # None when any sample's cost is unknown
    diversity: Diversity


def summaries(results: Sequence[Result]) -> list[SettingSummary]:
    """Each setting's summary, in grid order; only results that produced text count."""
    found = []
    for setting, members in groups(results).items():
        answered = [r for r in members if r.text]
        stats = [r.stats for r in answered if r.stats is not None]
        costs = [s.cost_usd for s in stats]
        found.append(
            SettingSummary(
                setting=setting,
                samples=len(answered),
                mean_total_time=_mean([s.total_time for s in stats]),
                mean_tokens_out=_mean([s.usage.completion_tokens for s in stats]),
                cost_usd=None if not costs or None in costs else sum(c or 0.0 for c in costs),
                diversity=diversity([r.text for r in answered]),
            )
        )
    return found


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
