"""A side-by-side turn as it streams: columns concurrently, each its own history, one
column stopped or retried alone, answers settled and handed over to be stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from chatlab.arena import Answer, Column, LiveSession, SideBySide, new_session
from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.messages import ChatSettings, Status
from chatlab.provider.stream import ReplyStream

A = ChatSettings(model="model-a", temperature=0.2, system_prompt="")
B = ChatSettings(model="model-b", temperature=1.1, system_prompt="")


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"choices": [{"delta": delta, "finish_reason": finish}]}


class Chunks:
    """Chunks, each after ``gate`` (when given) lets the stream go on."""

    def __init__(self, items: list[Any], gate: threading.Event | None = None) -> None:
        self.items, self.gate, self.closed = items, gate, False

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(self.items):
            if index and self.gate is not None:
                self.gate.wait(5)
            if self.closed:
                return
            yield item

    def close(self) -> None:
        self.closed = True


def stream(settings: ChatSettings, items: list[Any], gate: threading.Event | None = None) -> Any:
    return ReplyStream(
        Chunks(items, gate), model=settings.model, prompt_tokens=3, started=time.perf_counter()
    )


def reply(text: str) -> list[Any]:
    return [chunk(text), chunk(finish="stop")]


def test_both_columns_stream_at_once_and_settle_with_their_telemetry() -> None:
    gate = threading.Event()
    sent: list[tuple[str, list[dict[str, str]]]] = []

    def start(column: Column, messages: list[dict[str, str]], watch: Watch) -> Any:
        settings = column.settings
        sent.append((settings.model, messages))
        return stream(settings, [chunk(f"{settings.model} says"), *reply(" hi")], gate)

    live = LiveSession(new_session([A, B]), start)
    live.send("Hello?")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(c.answers[0].text for c in live.session.columns):
        time.sleep(0.01)
    both = live.session  # both have text while both still stream: they run at once
    assert [c.answers[0].text for c in both.columns] == ["model-a says", "model-b says"]
    assert live.streaming()
    gate.set()
    assert live.wait(5)
    done = live.session
    assert [c.answers[0].text for c in done.columns] == ["model-a says hi", "model-b says hi"]
    assert all(c.answers[0].status == Status.COMPLETE for c in done.columns)
    stats = [c.answers[0].stats for c in done.columns]
    assert all(s is not None and s.source == "arena" for s in stats)
    assert sorted(model for model, _ in sent) == ["model-a", "model-b"]


def test_the_second_turn_sends_each_column_its_own_reply() -> None:
    sent: dict[str, list[list[dict[str, str]]]] = {}

    def start(column: Column, messages: list[dict[str, str]], watch: Watch) -> Any:
        settings = column.settings
        sent.setdefault(settings.model, []).append(messages)
        return stream(settings, reply(f"{settings.model} #{len(sent[settings.model])}"))

    live = LiveSession(new_session([A, B]), start)
    live.send("One")
    assert live.wait(5)
    live.send("Two")
    assert live.wait(5)
    assert sent["model-a"][1] == [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "model-a #1"},
        {"role": "user", "content": "Two"},
    ]
    assert sent["model-b"][1][1] == {"role": "assistant", "content": "model-b #1"}


def test_one_column_is_stopped_alone_and_keeps_what_arrived() -> None:
    gate = threading.Event()

    def start(column: Column, messages: list[dict[str, str]], watch: Watch) -> Any:
        settings = column.settings
        held = gate if settings.model == "model-a" else None
        return stream(settings, [chunk("part"), *reply(" rest")], held)

    live = LiveSession(new_session([A, B]), start)
    live.send("Go")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and live.session.columns[0].answers[0].text != "part":
        time.sleep(0.01)
    live.stop(0)
    gate.set()
    assert live.wait(5)
    a, b = live.session.columns
    assert (a.answers[0].text, a.answers[0].status) == ("part", Status.STOPPED)
    assert (b.answers[0].text, b.answers[0].status) == ("part rest", Status.COMPLETE)


def test_a_failed_column_keeps_its_error_and_is_retried_alone() -> None:
    calls: list[str] = []

    def start(column: Column, messages: list[dict[str, str]], watch: Watch) -> Any:
        settings = column.settings
        calls.append(settings.model)
        if settings.model == "model-b" and calls.count("model-b") == 1:
            raise ChatError(Kind.SERVER, "The server failed.", "Try again.")
        return stream(settings, reply("fine"))

    live = LiveSession(new_session([A, B]), start)
    live.send("Go")
    assert live.wait(5)
    failed = live.session.columns[1].answers[0]
    assert failed.status == Status.FAILED and "The server failed." in failed.error
    live.redo(1)
    assert live.wait(5)
    assert live.session.columns[1].answers[0] == Answer(
        "fine", Status.COMPLETE, live.session.columns[1].answers[0].stats
    )
    assert calls.count("model-a") == 1  # the other column was not asked again


def test_every_change_is_handed_over_newest_last() -> None:
    stored: list[SideBySide] = []

    def start(column: Column, messages: list[dict[str, str]], watch: Watch) -> Any:
        settings = column.settings
        return stream(settings, reply("ok"))

    live = LiveSession(new_session([A, B]), start, on_change=stored.append)
    live.send("Go")
    assert live.wait(5)
    assert len(stored) == 3  # the prompt, then each column's answer
    assert [a.text for c in stored[-1].columns for a in c.answers] == ["ok", "ok"]
    assert stored[-1].turn_done
