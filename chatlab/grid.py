"""A compare run as data: the grid asked for, its cells, and each cell's result.

The grid is plain data (``Grid`` -> ``cells``): every combination of the varied parameters'
values, for every model, times N samples. The parameters that can be varied, and their
ranges, are the declarations marked ``sweep`` (``chatlab.params``), so a knob declared on
``ChatSettings`` can be swept without a change here. A ``Run`` is what is stored: what was
asked, of what, and every result. It sits below storage and the compare feature alike:
``chatlab.compare.sweep`` fills a run, ``chatlab.storage`` keeps it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chatlab.errors import ChatLabError
from chatlab.messages import ChatSettings, ReplyStats, new_id
from chatlab.model_names import display_name
from chatlab.params import Declared, declared

MAX_SAMPLES = 10
MAX_CELLS = 120  # requests one sweep may send
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
