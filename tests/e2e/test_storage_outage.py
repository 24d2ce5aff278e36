"""The database locked by another program while a user chats, in a real browser.

Another process holds the SQLite file in an exclusive transaction (as a backup tool or a
second program might) until the test lets go. The page must go on as if nothing happened,
and once the lock ends every message must be stored, in order.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, expect

from testing.app_process import AppProcess, stop
from testing.fake_openai import FakeOpenAI
from testing.sqlite_lock import ForeignLock
from tests.e2e.conftest import ChatPage, OpenPage, start_app

# The app's connections wait this long for a lock (the URL's timeout): far past any wait
# of the test's. A run that waited on the lock would then show nothing while it is held,
# so the user's bubble showing at all, under the usual state waits, proves no run waited
# (no time bound: under load a bound of a few seconds failed with nothing wrong).
LOCK_WAIT_S = 3600


@pytest.fixture
def own_app(browser: Browser, fake: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    database = tmp_path / "data" / "chatlab.db"
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "DATABASE_URL": f"sqlite:///{database}?timeout={LOCK_WAIT_S}",
    }
    app = start_app("locked-db", env, tmp_path)
    yield app
    stop(app.process)


def finished_reply(chat: ChatPage, text: str) -> Locator:
    """The newest message, once it is the finished reply ``text`` (its telemetry shows)."""
    assistant = chat.page.get_by_test_id("stChatMessageAvatarAssistant")
    return chat.messages.last.filter(has=assistant).filter(has_text=text).filter(has_text="finish:")


def stored_texts(path: Path, conversation_id: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT content FROM messages WHERE conversation_id = ? ORDER BY created_at, id",
            (conversation_id,),
        )
        return [row[0] for row in found]


@pytest.mark.e2e
def test_a_locked_database_delays_nothing_and_loses_nothing(
    open_page: OpenPage, own_app: AppProcess, tmp_path: Path
) -> None:
    chat = open_page(own_app)
    database = tmp_path / "data" / "chatlab.db"
    assert database.exists()  # opened by the first page
    lock = ForeignLock(database)
    try:
        for text in ("first, while it is locked", "second, still locked"):
            chat.send(text)
            expect(chat.user_texts.last).to_have_text(text)
            expect(finished_reply(chat, f"Echo: {text}")).to_be_visible()
            chat.wait_idle()
        expect(chat.user_texts).to_have_count(2)  # both bubbles, with the lock still held
        conversation = chat.page.url.split("c=")[1].split("&")[0]
        assert stored_texts(database, conversation) == []  # nothing could be written yet
    finally:
        lock.release()
    expected = [
        "first, while it is locked",
        "Echo: first, while it is locked",
        "second, still locked",
        "Echo: second, still locked",
    ]
    # The writer's save, waiting in the busy timeout, goes through once the lock is gone:
    # wait on the database's state, never on time; then a reload shows what was stored.
    deadline = time.monotonic() + 120
    while stored_texts(database, conversation) != expected:
        assert time.monotonic() < deadline, stored_texts(database, conversation)
        time.sleep(0.1)  # polling another process's writes
    chat.page.goto(f"{own_app.url}?c={conversation}")
    expect(chat.user_texts).to_have_count(2)
    expect(chat.replies).to_have_count(2)
    chat.assert_no_exception()
