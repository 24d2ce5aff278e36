"""The sweep: its grid, the concurrency bound, failures that stay in their cell, Stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chatlab.compare.results import groups
from chatlab.compare.sweep import Sweep
from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.grid import (
    Cell,
    Grid,
    GridError,
    PromptVariant,
    Run,
    State,
    cells,
    new_run,
    parse_values,
    sweepable,
)
from chatlab.messages import ChatSettings
from chatlab.provider.stream import ReplyStream

BASE = ChatSettings(model="m1", system_prompt="Be brief.")
MESSAGES = [{"role": "user", "content": "hi"}]


def test_every_numeric_setting_and_reasoning_effort_can_be_swept() -> None:
    axes = sweepable()
    assert {"temperature", "max_tokens", "top_p", "seed"} <= set(axes)
    assert {"presence_penalty", "frequency_penalty", "reasoning_effort"} <= set(axes)
    assert "model" not in axes and "system_prompt" not in axes


def test_values_are_parsed_as_the_field_type() -> None:
    assert parse_values("temperature", "0, 0.7,1.4") == (0.0, 0.7, 1.4)
    assert parse_values("seed", "1, 2, 2") == (1, 2)
    assert parse_values("reasoning_effort", "low, high") == ("low", "high")
    assert parse_values("top_p", " ") == ()


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("temperature", "hot", "'hot' is not a number"),
        ("temperature", "3", "out of range"),
        ("max_tokens", "1.5", "not a number"),
        ("reasoning_effort", "loads", "not a reasoning_effort"),
        ("stop", "x", "cannot be swept"),
    ],
)
def test_bad_values_are_refused_naming_them(name: str, text: str, said: str) -> None:
    with pytest.raises(GridError) as caught:
        parse_values(name, text)
    assert said in str(caught.value)


def test_grid_is_models_times_values_times_samples() -> None:
    grid = Grid(BASE, axes=(("temperature", (0.0, 1.4)),), models=("m1", "m2"), samples=3)
    found = cells(grid)
    assert len(found) == 12
    first = found[0]
    assert first.settings == ChatSettings(model="m1", temperature=0.0, system_prompt="Be brief.")
    assert first.setting == "temperature=0.0 · m1"
    assert [c.sample for c in found[:3]] == [1, 2, 3]
    assert {(c.settings.model, c.settings.temperature) for c in found} == {
        ("m1", 0.0),
        ("m1", 1.4),
        ("m2", 0.0),
        ("m2", 1.4),
    }


def test_two_axes_make_every_combination() -> None:
    grid = Grid(BASE, axes=(("temperature", (0.0, 1.0)), ("seed", (1, 2, 3))), samples=1)
    found = cells(grid)
    assert len(found) == 6
    assert {(c.settings.temperature, c.settings.seed) for c in found} == {
        (t, s) for t in (0.0, 1.0) for s in (1, 2, 3)
    }


def test_no_axis_is_the_base_settings_repeated() -> None:
    assert [c.settings for c in cells(Grid(BASE, samples=2))] == [BASE, BASE]


def test_too_many_samples_or_requests_are_refused() -> None:
    with pytest.raises(GridError):
        cells(Grid(BASE, samples=11))
    with pytest.raises(GridError, match="at most 1000"):
        cells(Grid(BASE, axes=(("seed", tuple(range(400))),), samples=3))
    with pytest.raises(GridError, match="sends 6 requests; a run sends at most 5"):
        cells(Grid(BASE, samples=2, variants=(PromptVariant("a"),) * 3), limit=5)


# -- running ------------------------------------------------------------------------------


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"choices": [{"delta": delta, "finish_reason": finish}]}


class Chunks:
    """A chunk stream that can wait on a gate before its first chunk."""

    def __init__(self, items: list[Any], gate: threading.Event | None = None) -> None:
        self.items, self.gate, self.closed = items, gate, False

    def __iter__(self) -> Iterator[Any]:
        if self.gate is not None:
            self.gate.wait(5)
        for item in self.items:
            if self.closed:
                return
            yield item

    def close(self) -> None:
        self.closed = True


def stream_of(cell: Cell, items: list[Any], gate: threading.Event | None = None) -> ReplyStream:
    return ReplyStream(
        Chunks(items, gate),
        model=cell.settings.model,
        prompt_tokens=3,
        started=time.perf_counter(),
        request={"temperature": cell.settings.temperature},
    )


def run_of(samples: int = 2, temperatures: tuple[float, ...] = (0.0, 1.0)) -> Run:
    grid = Grid(BASE, axes=(("temperature", temperatures),), samples=samples)
    return new_run(grid, "hi", MESSAGES)


def test_every_cell_runs_and_records_its_reply() -> None:
    def start(cell: Cell, watch: Watch) -> ReplyStream:
        text = f"t{cell.settings.temperature} s{cell.sample}"
        return stream_of(cell, [chunk(text), chunk(finish="stop")])

    sweep = Sweep(run_of(), start, concurrency=4)
    assert sweep.wait(10)
    results = sweep.results()
    assert [r.text for r in results] == ["t0.0 s1", "t0.0 s2", "t1.0 s1", "t1.0 s2"]
    assert all(r.state == State.DONE for r in results)
    assert all(r.stats is not None and r.stats.finish_reason == "stop" for r in results)
    assert results[2].request == {"temperature": 1.0}
    assert sweep.finished


def test_never_more_than_the_bound_in_flight() -> None:
    lock, in_flight, most = threading.Lock(), [0], [0]
    gate = threading.Event()

    class Counted(Chunks):
        def __iter__(self) -> Iterator[Any]:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                yield from super().__iter__()
            finally:
                with lock:
                    in_flight[0] -= 1

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        return ReplyStream(
            Counted([chunk("x"), chunk(finish="stop")], gate),
            model="m1",
            prompt_tokens=1,
            started=time.perf_counter(),
        )

    sweep = Sweep(run_of(samples=3, temperatures=(0.0, 0.5, 1.0)), start, concurrency=2)
    deadline = time.monotonic() + 5
    while in_flight[0] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert in_flight[0] == 2  # the bound is reached: two wait at the gate
    gate.set()
    assert sweep.wait(10)
    assert most[0] == 2
    assert all(r.state == State.DONE for r in sweep.results())


def test_a_failed_cell_keeps_its_error_and_the_others_carry_on() -> None:
    def start(cell: Cell, watch: Watch) -> ReplyStream:
        if cell.settings.temperature == 1.0 and cell.sample == 1:
            raise ChatError(Kind.SERVER, "The server failed.", "Try again.")
        return stream_of(cell, [chunk("fine"), chunk(finish="stop")])

    sweep = Sweep(run_of(), start, concurrency=1)
    assert sweep.wait(10)
    states = [r.state for r in sweep.results()]
    assert states == [State.DONE, State.DONE, State.FAILED, State.DONE]
    failed = sweep.results()[2]
    assert failed.error == "The server failed. Try again."
    assert failed.text == ""


def test_a_stream_cut_mid_way_keeps_its_partial_text() -> None:
    def start(cell: Cell, watch: Watch) -> ReplyStream:
        return stream_of(cell, [chunk("half ")])  # no finish reason: an incomplete stream

    sweep = Sweep(run_of(samples=1, temperatures=(0.0,)), start)
    assert sweep.wait(10)
    (result,) = sweep.results()
    assert result.state == State.FAILED
    assert result.text == "half "
    assert result.error is not None and result.stats is not None


class Stalling(Chunks):
    """One chunk, then nothing until the gate opens (a server gone quiet)."""

    def __iter__(self) -> Iterator[Any]:
        yield chunk("first ")
        if self.gate is not None:
            self.gate.wait(5)
        yield chunk("never shown")
        yield chunk(finish="stop")


def test_stop_closes_every_connection_and_keeps_what_arrived() -> None:
    gate = threading.Event()
    opened: list[ReplyStream] = []

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        stream = ReplyStream(Stalling([], gate), model="m1", prompt_tokens=1, started=0.0)
        opened.append(stream)
        return stream

    sweep = Sweep(run_of(samples=2, temperatures=(0.0, 1.0)), start, concurrency=2)
    deadline = time.monotonic() + 5
    while sum(r.text == "first " for r in sweep.results()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    sweep.stop()
    gate.set()
    assert sweep.wait(10)
    results = sweep.results()
    assert [r.state for r in results] == [State.STOPPED] * 4
    assert [r.text for r in results] == ["first ", "first ", "", ""]
    assert len(opened) == 2  # the waiting cells never sent anything
    assert all(stream.stopped for stream in opened)
    assert sweep.snapshot().stopped


def test_on_change_sees_each_settled_cell_in_order() -> None:
    seen: list[int] = []

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        return stream_of(cell, [chunk("x"), chunk(finish="stop")])

    def count(run: Run) -> None:
        seen.append(sum(r.state == State.DONE for r in run.results))

    sweep = Sweep(run_of(), start, concurrency=2, on_change=count)
    assert sweep.wait(10)
    assert seen == sorted(seen)
    assert seen[-1] == 4


def test_groups_keep_a_settings_samples_together() -> None:
    run = run_of(samples=2)
    found = groups(run.results)
    assert list(found) == ["temperature=0.0 · m1", "temperature=1.0 · m1"]
    assert [r.cell.sample for r in found["temperature=1.0 · m1"]] == [1, 2]
