"""How often a streaming Compare card is redrawn.

Each redraw sends the card's whole text, which the browser renders as Markdown again;
redrawn on every poll (10 a second), three cards streaming long replies kept Chromium's
renderer busy enough to slow a local model server on the same machine five-fold.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chatlab.grid import State
from components import session
from components.compare import view

POLLS = 40  # looks at the sweep while its one cell streams, a new piece each time


class StreamingSweep:
    """One cell that gets a new piece on every look, then ends."""

    def __init__(self) -> None:
        self.looks = 0

    def results(self) -> tuple[Any, ...]:
        self.looks += 1
        state = State.STREAMING if self.looks <= POLLS else State.DONE
        return (SimpleNamespace(version=self.looks, state=state),)

    def snapshot(self) -> object:
        return SimpleNamespace(results=())


def test_a_streaming_card_is_not_redrawn_on_every_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[State] = []
    monkeypatch.setattr(session, "page", lambda: SimpleNamespace(page_runs=1))
    monkeypatch.setattr(view, "_draw", lambda body, result: drawn.append(result.state))
    monkeypatch.setattr(view, "_progress", lambda slot, results, sweep: None)
    monkeypatch.setattr(view, "POLL", 0.01)  # 40 looks in about 0.4 s, under CARD_EVERY

    sweep: Any = StreamingSweep()  # as much of a Sweep as _follow reads
    body: Any = object()  # never drawn into: _draw is replaced
    assert view._follow(sweep, [body], [0], body) is not None

    assert drawn[0] == State.STREAMING  # the first piece shows at once
    assert drawn[-1] == State.DONE  # and the end, whatever the throttle
    # At most one redraw per CARD_EVERY (0.5 s): a slow machine stretches 40 looks, so the
    # bound leaves room; drawn on every look, it was 41.
    assert len(drawn) <= POLLS // 4
