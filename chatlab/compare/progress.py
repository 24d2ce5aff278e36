"""How far a compare run has got, and about how long the rest will take.

The time left is read from the cells that have ended: their mean duration times the
cells still to run, spread over the requests that run at once. It is a guess, said as
one ("about"), and none is given before a cell has ended: a first reply's time is the
only evidence of how fast this server is today.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chatlab.grid import Result, State

__all__ = ["Progress", "progress_of"]


@dataclass(frozen=True)
class Progress:
    """A run's cells counted by state, and the seconds left (None: not known yet)."""

    total: int
    done: int
    running: int
    waiting: int
    failed: int
    stopped: int
    retried: int
    seconds_left: float | None

    @property
    def ended(self) -> int:
        return self.done + self.failed + self.stopped

    @property
    def fraction(self) -> float:
        """The share of cells that have ended, 0 to 1."""
        return self.ended / self.total if self.total else 1.0


def progress_of(results: Sequence[Result], concurrency: int) -> Progress:
    """Count ``results`` by state; estimate the time left at ``concurrency`` at once."""
    count = {state: sum(r.state == state for r in results) for state in State}
    durations = [
        r.stats.total_time for r in results if r.state == State.DONE and r.stats is not None
    ]
    left = count[State.WAITING] + count[State.STREAMING]
    seconds = None
    if durations and left:
        rounds = math.ceil(left / max(1, concurrency))
        seconds = rounds * sum(durations) / len(durations)
    return Progress(
        total=len(results),
        done=count[State.DONE],
        running=count[State.STREAMING],
        waiting=count[State.WAITING],
        failed=count[State.FAILED],
        stopped=count[State.STOPPED],
        retried=sum(r.attempts > 1 for r in results),
        seconds_left=seconds,
    )
