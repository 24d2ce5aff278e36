"""Twenty sessions chatting with one app process at once: each gets its own reply, whole.

The sessions are the websocket clients of ``benchmarks/load.py``, speaking Streamlit's
browser protocol, so twenty cost seconds rather than twenty browsers. Correctness only:
how fast is ``make bench``'s question. The fixtures live here, not in conftest.py: they
start their own fake server and app, so they share no state with the browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import load
from testing.aio import run_async
from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e

SESSIONS = 20
TURNS = 2  # the second request shows whether a session's history stayed its own
KEY = "sk-load-test-key"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
DEADLINE_S = 90.0


@pytest.fixture
def echo_server() -> Iterator[FakeOpenAI]:
    """A fake model that echoes each message back a word at a time."""
    with FakeOpenAI(default_reply=Reply(chunk_delay=load.CHUNK_DELAY)) as server:
        yield server


@pytest.fixture
def app_process(echo_server: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    """One ``streamlit run app.py`` talking to the echo server; stopped after the test."""
    with load.running_app(echo_server.base_url, KEY, tmp_path) as app:
        yield app


def expected_requests(conversations: list[list[str]]) -> list[list[dict[str, str]]]:
    """Each turn's request: the system prompt and that session's conversation only."""
    requests = []
    for messages in conversations:
        history: list[dict[str, str]] = [SYSTEM]
        for text in messages:
            history = [*history, {"role": "user", "content": text}]
            requests.append(history)
            history = [*history, {"role": "assistant", "content": f"Echo: {text}"}]
    return requests


def test_twenty_sessions_at_once_each_get_their_own_whole_reply(
    app_process: AppProcess, echo_server: FakeOpenAI
) -> None:
    conversations = [load.conversation(index, TURNS) for index in range(SESSIONS)]

    sessions = load.run_sessions(app_process.stream_url, conversations, DEADLINE_S)

    # On each page: no error, and exactly this session's messages with their whole echoes.
    assert load.problems(sessions, conversations) == [], app_process.log()[-4000:]
    # At the model: one request per turn, each carrying one session's history and no other.
    sent = sorted(repr(request.body["messages"]) for request in echo_server.chat_requests)
    assert sent == sorted(repr(request) for request in expected_requests(conversations))
    assert "Traceback" not in app_process.log()


def test_the_chat_box_keeps_its_fragment_from_one_turn_to_the_next(
    app_process: AppProcess,
) -> None:
    """The page is drawn whole after each reply; the chat's live end must keep its place
    (and so its fragment's id) meanwhile, or a message sent at that moment goes to a
    fragment that no longer exists and is dropped (it happened: test_enter)."""

    async def turns() -> list[str]:
        session = await load.Session.open(app_process.stream_url)
        try:
            seen = [session.page.chat_fragment]
            for text in load.conversation(0, 3):
                turn = await session.chat(text)
                assert turn.errors == []
                seen.append(session.page.chat_fragment)
            return seen
        finally:
            await session.close()

    seen = run_async(turns())
    assert seen[0] and len(set(seen)) == 1, seen
