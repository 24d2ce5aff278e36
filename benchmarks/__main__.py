"""``make bench``: how much Chat Lab adds on top of the model server.

Each benchmark measures Chat Lab and a baseline in the same run and reports the ratio,
so the numbers mean the same on a fast or a slow machine.

1. render: bytes Streamlit sends to the browser while a 3,000-word reply streams, with
   our block renderer vs ``st.write_stream`` (which resends the whole text per chunk).
2. stream: wall time of a streamed reply from the fake server through ``ReplyStream``
   vs iterating the raw SDK stream.
3. rerun: one rerun of the chat page with 2,000 messages in the history vs with 50 (the
   window drawn on each rerun): what the history beyond the window costs.
4. text: linear time of every text transformation (benchmarks/text.py).
5. sweep: a 3 x 3 compare sweep's wall time vs its slowest cell's own (benchmarks/sweep.py).
6. browser: Chat Lab vs a bare Streamlit page in Chromium: first token, long replies,
   start-up (benchmarks/browser.py).
7. eval: a 100-request evaluation (checked, stored) vs the same requests unchecked
   (benchmarks/evaluation.py).
8. balancer: 50 sessions at once through HAProxy with 1, 2 and 4 app processes
   (benchmarks/balancer.py; skipped without HAProxy).
9. summary: Compare's "what changed" of 1,000 results against its 50 ms budget
   (benchmarks/summary.py).
10. columns: two side-by-side columns streaming at once vs each alone
   (benchmarks/side_by_side.py).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    balancer,
    browser,
    evaluation,
    side_by_side,
    summary,
    sweep,
    text,
)
from chatlab.config import Endpoint, Timeouts  # noqa: E402
from chatlab.messages import ChatMessage, ChatSettings  # noqa: E402
from chatlab.provider import make_client, start_reply  # noqa: E402
from testing import load  # noqa: E402
from testing.fake_openai import FakeOpenAI, Reply  # noqa: E402


@contextmanager
def counting_bytes() -> Iterator[list[int]]:
    """Sum the size of every message the script enqueues for the browser."""
    original = ScriptRunner._enqueue_forward_msg
    sizes: list[int] = []

    def counted(self: ScriptRunner, msg: object) -> None:
        sizes.append(msg.ByteSize())  # type: ignore[attr-defined]
        original(self, msg)  # type: ignore[arg-type]

    ScriptRunner._enqueue_forward_msg = counted  # type: ignore[method-assign]
    try:
        yield sizes
    finally:
        ScriptRunner._enqueue_forward_msg = original  # type: ignore[method-assign]


def render_bytes(mode: str) -> tuple[int, float]:
    at = AppTest.from_file(str(ROOT / "benchmarks" / "render_app.py"), default_timeout=120)
    at.session_state["mode"] = mode
    with counting_bytes() as sizes:
        started = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - started
    return sum(sizes), elapsed


def best_of(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def stream_time(fake: FakeOpenAI, wrapped: bool) -> float:
    endpoint = Endpoint("sk-bench", fake.base_url, "environment")
    client = make_client(endpoint, Timeouts())
    settings = ChatSettings(model="gpt-4o-mini")
    messages = [{"role": "user", "content": "hi"}]
    fake.enqueue(Reply(text="token " * 2000))
    started = time.perf_counter()
    if wrapped:
        stream, _ = start_reply(client, settings, messages)
        for _ in stream:
            pass
    else:
        for _ in client.chat.completions.create(model="m", messages=messages, stream=True):  # type: ignore[arg-type]
            pass
    return time.perf_counter() - started


def rerun_time(fake: FakeOpenAI, messages: int) -> float:
    os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=fake.base_url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["messages"] = [
        ChatMessage("user" if i % 2 == 0 else "assistant", f"message {i} " * 40)
        for i in range(messages)
    ]
    at.run()  # first run: imports, client, model list
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    os.environ["CHATLAB_ENV_FILE"] = str(ROOT / "benchmarks" / "no.env")
    ours, our_time = render_bytes("chatlab")
    base, base_time = render_bytes("write_stream")
    print(
        f"render  bytes to browser, 3,000-word reply: chatlab {ours:,} B vs st.write_stream "
        f"{base:,} B -> ratio {ours / base:.3f} (script time ratio {our_time / base_time:.2f})"
    )
    with FakeOpenAI() as fake:
        raw = best_of(5, lambda: stream_time(fake, wrapped=False))
        wrapped = best_of(5, lambda: stream_time(fake, wrapped=True))
        print(
            f"stream  2,000-chunk reply: ReplyStream {wrapped * 1000:.0f} ms vs raw SDK "
            f"{raw * 1000:.0f} ms -> ratio {wrapped / raw:.2f}"
        )
        window = rerun_time(fake, 50)
        long = rerun_time(fake, 2000)
        print(
            f"rerun   chat page with 2,000 messages {long * 1000:.0f} ms vs 50 "
            f"{window * 1000:.0f} ms -> ratio {long / window:.2f}"
        )
    text.main()
    sweep.main()
    evaluation.main()
    summary.main()
    side_by_side.main()
    load.main()
    balancer.main()
    browser.main()


if __name__ == "__main__":
    main()
