"""Two columns streaming at once: what the side-by-side page adds to a column's own time.

Two columns (two models of the fake server, each reply 200 words a word every 5 ms, about
1 s) are sent one prompt through ``chatlab.arena.LiveSession``, each answer settled and the
session handed over to be stored (SQLite, as ``make run`` does) after every change. The
baseline, in the same run: each column's reply alone, through the same client, nothing
else running. The figure is the slower column's time in the pair over the slower of the
two alone; the bound: 1.10 (at most 10% added).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from chatlab.arena import Column, LiveSession, SideBySide, new_session, session_json
from chatlab.config import Endpoint, Timeouts
from chatlab.deadline import Watch
from chatlab.messages import ChatSettings
from chatlab.provider import ReplyStream, make_client, start_reply
from chatlab.storage import Store
from testing.fake_openai import FakeOpenAI, Reply

BOUND = 1.10
WORDS = 200
CHUNK_DELAY = 0.005
RUNS = 5
COLUMNS = (
    ChatSettings(model="gpt-4o-mini", temperature=0.2, system_prompt=""),
    ChatSettings(model="gpt-4o", temperature=1.0, system_prompt=""),
)
PROMPT = "word " * WORDS


def _alone(fake: FakeOpenAI, settings: ChatSettings) -> float:
    client = make_client(Endpoint("sk-bench", fake.base_url, "environment"), Timeouts())
    started = time.perf_counter()
    stream, _ = start_reply(client, settings, [{"role": "user", "content": PROMPT}])
    for _ in stream:
        pass
    return time.perf_counter() - started


def _together(fake: FakeOpenAI, store: Store) -> float:
    client = make_client(Endpoint("sk-bench", fake.base_url, "environment"), Timeouts())

    def start(column: Column, sent: list[dict[str, str]], watch: Watch) -> ReplyStream:
        stream, _ = start_reply(client, column.settings, sent, watch=watch)
        return stream

    def save(current: SideBySide) -> None:
        store.save_side_by_side(
            "local",
            current.id,
            current.title,
            current.created_at,
            current.updated_at,
            session_json(current),
        )

    live = LiveSession(new_session(COLUMNS), start, on_change=save)
    started = time.perf_counter()
    ends: dict[int, float] = {}
    live.send(PROMPT)
    while len(ends) < len(COLUMNS):
        for index in range(len(COLUMNS)):
            if index not in ends and not live.streaming(index):
                ends[index] = time.perf_counter() - started
        time.sleep(0.002)  # as the page polls (it polls every 0.1 s)
    if not all(c.answers[0].text for c in live.session.columns):
        raise RuntimeError("a column did not answer")
    return max(ends.values())


def main() -> bool:
    with (
        FakeOpenAI(default_reply=Reply(chunk_delay=CHUNK_DELAY)) as fake,
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}") as store,
    ):
        pairs = [
            (_together(fake, store), max(_alone(fake, s) for s in COLUMNS)) for _ in range(RUNS)
        ]
    together, alone = min(pairs, key=lambda pair: pair[0] / pair[1])
    factor = together / alone
    passed = factor <= BOUND
    print(
        f"columns two columns streaming at once, stored as they change: slower column "
        f"{together * 1000:.0f} ms vs the slower alone {alone * 1000:.0f} ms -> ratio "
        f"{factor:.3f} {'pass' if passed else 'FAIL'} (bound {BOUND})"
    )
    return passed


if __name__ == "__main__":
    main()
