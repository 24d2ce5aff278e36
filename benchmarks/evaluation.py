"""A 100-request evaluation: what checking, judging and storing add to the model's time.

Two prompt variants x 5 test rows x 2 temperatures x 5 samples = 100 requests, 10 at once,
against the fake server; each reply checked by four assertions (contains a row's value, a
regex, max chars, is-json) and stored as the run grows (SQLite, as ``make run`` does).
Measured in the same run: the same 100 requests as a plain sweep (no checks, no store),
so the ratio is what the evaluation adds, whatever the machine. The bound: 1.10.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from chatlab.compare import (
    SAVE_BACKOFF,
    Assertion,
    RunSaver,
    Sweep,
    assertion_data,
    composer,
    evaluator,
)
from chatlab.config import Endpoint, Timeouts
from chatlab.deadline import Watch
from chatlab.grid import Cell, Grid, PromptVariant, new_run
from chatlab.messages import ChatSettings
from chatlab.provider import ReplyStream, make_client, start_reply
from chatlab.storage import Store
from testing.fake_openai import FakeOpenAI, Reply

BOUND = 1.10
WORDS = 40
CHUNK_DELAY = 0.01  # a word every 10 ms: about 0.4 s per reply
AT_ONCE = 10
RUNS = 3
ASSERTS = (
    Assertion("contains", "{{word}}", ignore_case=True),
    Assertion("regex", r"\bword\b"),
    Assertion("max-chars", 2000),
    Assertion("is-json"),
)


def _grid() -> Grid:
    return Grid(
        ChatSettings(model="gpt-4o-mini", system_prompt=""),
        axes=(("temperature", (0.0, 0.7)),),
        samples=5,
        variants=(PromptVariant("Say {{word}}: " + "word " * WORDS), PromptVariant("{{word}}?")),
        columns=("word",),
        rows=tuple((f"w{n}",) for n in range(5)),
    )


def _timed(fake: FakeOpenAI, *, evaluated: bool, folder: Path) -> float:
    client = make_client(Endpoint("sk-bench", fake.base_url, "environment"), Timeouts())
    grid = _grid()
    run = new_run(
        grid, "bench", [], compose=composer(), asserts=[assertion_data(a) for a in ASSERTS]
    )
    assert len(run.results) == 100

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        stream, _ = start_reply(client, cell.settings, list(cell.messages), watch=watch)
        return stream

    with Store.open(f"sqlite:///{folder / 'bench.db'}") as store:
        save = RunSaver(store, "local", [], SAVE_BACKOFF)  # as the page and the CLI store

        started = time.perf_counter()
        sweep = Sweep(
            run,
            start,
            concurrency=AT_ONCE,
            on_change=save if evaluated else None,
            evaluate=evaluator(ASSERTS, grid, None) if evaluated else None,
        )
        if not sweep.wait(120):
            raise RuntimeError("the evaluation did not finish in two minutes")
        if evaluated:
            save(sweep.snapshot())
            save.wait(30)
        wall = time.perf_counter() - started
    if evaluated and not all(len(r.checks) == len(ASSERTS) for r in sweep.results()):
        raise RuntimeError("a result was not checked")
    return wall


def main() -> bool:
    with (
        FakeOpenAI(default_reply=Reply(chunk_delay=CHUNK_DELAY)) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        pairs = [
            (
                _timed(fake, evaluated=True, folder=folder),
                _timed(fake, evaluated=False, folder=folder),
            )
            for _ in range(RUNS)
        ]
    evaluated, plain = min(pairs, key=lambda pair: pair[0] / pair[1])
    factor = evaluated / plain
    passed = factor <= BOUND
    print(
        f"eval    100 requests, 4 assertions each, stored as they end: {evaluated * 1000:.0f} ms "
        f"vs the same requests unchecked {plain * 1000:.0f} ms -> ratio {factor:.3f} "
        f"{'pass' if passed else 'FAIL'} (bound {BOUND})"
    )
    return passed


if __name__ == "__main__":
    main()
