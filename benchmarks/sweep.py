"""A 3 x 3 compare sweep, all cells at once: its wall time against its slowest cell's own.

The sweep (``chatlab.compare.sweep``) runs each cell on a pool thread and reads its reply on a
``BackgroundReply`` worker; what that machinery costs shows as wall time beyond the
slowest cell's own time (request sent to last chunk, as its telemetry records it).
Both are measured in the same run against the fake server, so the ratio means the same
on any machine. The bound: 1.10.
"""

from __future__ import annotations

import time

from chatlab.compare import Sweep
from chatlab.config import Endpoint, Timeouts
from chatlab.deadline import Watch
from chatlab.grid import Cell, Grid, new_run
from chatlab.messages import ChatSettings
from chatlab.provider import ReplyStream, make_client, start_reply
from testing.fake_openai import FakeOpenAI, Reply

BOUND = 1.10
WORDS = 40
CHUNK_DELAY = 0.025  # a word every 25 ms: about a second per reply
RUNS = 3


def sweep_ratio(fake: FakeOpenAI) -> tuple[float, float]:
    """(wall time of the sweep, its slowest cell's own total time), in seconds."""
    client = make_client(Endpoint("sk-bench", fake.base_url, "environment"), Timeouts())
    grid = Grid(
        ChatSettings(model="gpt-4o-mini"), axes=(("temperature", (0.0, 0.7, 1.4)),), samples=3
    )
    messages = [{"role": "user", "content": "word " * WORDS}]
    run = new_run(grid, "bench", messages)

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        stream, _ = start_reply(client, cell.settings, list(messages), watch=watch)
        return stream

    started = _now()
    sweep = Sweep(run, start, concurrency=9)
    if not sweep.wait(60):
        raise RuntimeError("the sweep did not finish in a minute")
    wall = _now() - started
    slowest = max(r.stats.total_time for r in sweep.results() if r.stats is not None)
    return wall, slowest


def _now() -> float:
    return time.perf_counter()


def main() -> bool:
    with FakeOpenAI(default_reply=Reply(chunk_delay=CHUNK_DELAY)) as fake:
        measured = [sweep_ratio(fake) for _ in range(RUNS)]
    wall, slowest = min(measured, key=lambda pair: pair[0] / pair[1])
    factor = wall / slowest
    passed = factor <= BOUND
    print(
        f"sweep   3 x 3 cells at once: {wall * 1000:.0f} ms vs slowest cell "
        f"{slowest * 1000:.0f} ms -> ratio {factor:.3f} {'pass' if passed else 'FAIL'} "
        f"(bound {BOUND})"
    )
    return passed


if __name__ == "__main__":
    main()
