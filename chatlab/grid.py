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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chatlab.errors import ChatLabError
from chatlab.messages import ChatSettings, ReplyStats, new_id
from chatlab.model_names import display_name
from chatlab.params import Declared, declared

MAX_SAMPLES = 10
MAX_CELLS = 1_000  # requests one run may send, whatever its budget (CHATLAB_MAX_RUN_REQUESTS)
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
class PromptVariant:
    """One prompt variant: a user prompt and its system prompt (empty: none); either may
    hold ``{{variables}}`` (``chatlab.compare.variables``)."""

    user: str
    system: str = ""


@dataclass(frozen=True)
class Grid:
    """What to run: base settings, the varied parameters' values, the models, the samples,
    and for an evaluation the prompt variants and the test rows they are filled from."""

    base: ChatSettings
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    models: tuple[str, ...] = ()  # blank: the base settings' model
    samples: int = DEFAULT_SAMPLES
    variants: tuple[PromptVariant, ...] = ()  # none: the run's one prompt
    columns: tuple[str, ...] = ()  # the test set's variables
    rows: tuple[tuple[str, ...], ...] = ()  # its rows, one value per column; none: no test set

    def row_values(self, row: int) -> dict[str, str]:
        """Test row ``row`` (1-based; 0: none) as {variable: value}."""
        if row < 1:
            return {}
        return dict(zip(self.columns, self.rows[row - 1], strict=True))


def variant_label(index: int) -> str:
    """Variant ``index`` (0-based) as people name it: A, B, ... Z, then 27, 28, ..."""
    return chr(ord("A") + index) if index < 26 else str(index + 1)


# A variant and its row's values -> the messages the cell sends (``chatlab.compare``).
Compose = Callable[[PromptVariant, Mapping[str, str]], Sequence[dict[str, Any]]]


@dataclass(frozen=True)
class Cell:
    """One request of a sweep: its settings, what it varies, and which sample it is."""

    settings: ChatSettings
    varied: tuple[tuple[str, Any], ...]  # (parameter, value), the model last
    sample: int  # 1-based
    variant: str = ""  # the prompt variant's label (A, B, ...); "": the run has one prompt
    row: int = 0  # the test row (1-based); 0: the run has no test set
    messages: tuple[dict[str, Any], ...] = ()  # what it sends; empty: the run's messages

    @property
    def parameters(self) -> str:
        """The parameters and model of this cell: ``temperature=0.7 · gpt-4o-mini``."""
        return " · ".join(  # a model that is a file path (llama.cpp): its file name
            f"{name}={value}" if name != "model" else display_name(value)
            for name, value in self.varied
        )

    @property
    def setting(self) -> str:
        """What distinguishes this cell from others but its sample: ``prompt B · row 2 ·
        temperature=0.7 · gpt-4o-mini`` (the prompt and row only in an evaluation)."""
        case = [f"prompt {self.variant}"] if self.variant else []
        case += [f"row {self.row}"] if self.row else []
        return " · ".join([*case, self.parameters])


def request_count(grid: Grid) -> int:
    """How many requests ``grid`` sends: variants x test rows x models x values x samples."""
    combos = 1
    for _, values in grid.axes:
        combos *= len(values)
    cases = max(1, len(grid.variants)) * max(1, len(grid.rows))
    return cases * len(grid.models or (grid.base.model,)) * combos * grid.samples


def cells(grid: Grid, compose: Compose | None = None, *, limit: int = MAX_CELLS) -> list[Cell]:
    """Every request of the grid: every prompt variant and test row, every model, every
    combination of values, every sample. ``compose`` gives each variant-and-row cell its
    messages (none: they send the run's messages); more than ``limit`` is refused."""
    if not 1 <= grid.samples <= MAX_SAMPLES:
        raise GridError(f"{grid.samples} samples per cell.", f"Use 1 to {MAX_SAMPLES}.")
    total = request_count(grid)
    if total > limit:
        raise GridError(
            f"This grid sends {total} requests; a run sends at most {limit}.",
            "Use fewer prompt variants, test rows, values, models or samples.",
        )
    names = [name for name, _ in grid.axes]
    combos = list(itertools.product(*(values for _, values in grid.axes)))
    models = grid.models or (grid.base.model,)
    variants: list[tuple[str, PromptVariant | None]] = [
        (variant_label(index) if len(grid.variants) > 1 else "", variant)
        for index, variant in enumerate(grid.variants)
    ] or [("", None)]
    found = []
    for (label, variant), row in itertools.product(variants, range(len(grid.rows) or 1)):
        number = row + 1 if grid.rows else 0
        messages: tuple[dict[str, Any], ...] = ()
        if variant is not None and compose is not None:
            messages = tuple(compose(variant, grid.row_values(number)))
        for model, combo in itertools.product(models, combos):
            changes = dict(zip(names, combo, strict=True))
            settings = replace(grid.base, model=model, **changes)
            if variant is not None:
                settings = replace(settings, system_prompt=variant.system)
            varied = (*changes.items(), ("model", model))
            found += [
                Cell(settings, varied, sample, label, number, messages)
                for sample in range(1, grid.samples + 1)
            ]
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
class Check:
    """One assertion's verdict on a result: passed, failed, or None when it could not be
    told (the judge's reply did not parse, the figure is unknown), and why."""

    name: str  # the assertion as people read it: ``contains "bonjour"``
    passed: bool | None
    reason: str
    score: int | None = None  # a judge's 1-5 score, where it gave one


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
    checks: tuple[Check, ...] = ()  # the run's assertions on its output, in their order
    judged: ReplyStats | None = None  # the judge requests' telemetry (Usage: "judge")
    rating: int = 0  # a person's rating: 1 thumbs up, -1 down, 0 none

    @property
    def passed(self) -> bool | None:
        """Every assertion passed (True), one failed (False), or none told / none asked."""
        if self.state != State.DONE or not self.checks:
            return None
        if any(check.passed is False for check in self.checks):
            return False
        return True if all(check.passed for check in self.checks) else None


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
    asserts: tuple[Mapping[str, Any], ...] = ()  # the assertions, as a spec writes them

    @property
    def finished(self) -> bool:
        return all(result.state in FINAL for result in self.results)


def new_run(
    grid: Grid,
    prompt: str,
    messages: Sequence[dict[str, str]],
    *,
    compose: Compose | None = None,
    asserts: Sequence[Mapping[str, Any]] = (),
    limit: int = MAX_CELLS,
) -> Run:
    """A run of ``grid`` not started yet, every cell waiting; ``messages`` is what each
    sends, unless ``compose`` makes each variant-and-row cell its own."""
    return Run(
        id=new_id(),
        prompt=prompt,
        system_prompt=grid.base.system_prompt,
        messages=tuple(messages),
        grid=grid,
        results=tuple(Result(cell) for cell in cells(grid, compose, limit=limit)),
        asserts=tuple(asserts),
    )
