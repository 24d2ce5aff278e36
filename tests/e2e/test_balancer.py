"""Two app processes behind a real HAProxy (deploy/haproxy.cfg), as `make serve` runs them.

Both processes share one SQLite database (WAL). HAProxy's SERVERID cookie says which
process a browser is stuck to; the tests read it from the browser context.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from components.chat.turn import SAVE_EVERY
from deploy.serve import Balancer, start_balancer
from testing.app_process import AppProcess, stop
from testing.fake_openai import FakeOpenAI, Reply, unused_port
from tests.e2e.conftest import LOGS, ChatPage, OpenPage, start_app
from tests.e2e.test_attachments import attach

WORD_DELAY = 0.05  # seconds between the slow reply's words
SLOW_REPLY = " ".join(f"w{index}" for index in range(600))  # ~30 s: still streaming at the kill

NOTES = b"notes uploaded through the balancer"
STOPPED = "Stopped. The partial reply is kept"  # the note under a cut reply


@dataclass
class Balanced:
    """Two app processes (``w1``, ``w2`` in HAProxy's config) and HAProxy in front."""

    workers: dict[str, AppProcess]
    balancer: Balancer
    front: AppProcess  # HAProxy as the pages see it: its URL, its log

    def worker_of(self, chat: ChatPage) -> str:
        """The process HAProxy has stuck this browser to (its SERVERID cookie)."""
        cookies = chat.page.context.cookies(self.balancer.url)
        return next(c["value"] for c in cookies if c["name"] == "SERVERID")


@pytest.fixture
def haproxy() -> None:
    if shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin"):
        return
    message = "HAProxy is missing: run `apt-get install haproxy`."
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} CI must run the balancer tests (.ci/run installs it).")
    pytest.skip(message)


@pytest.fixture
def balanced(
    haproxy: None, browser: Browser, fake: FakeOpenAI, tmp_path: Path
) -> Iterator[Balanced]:
    """Two app processes on one SQLite file (one scratch folder) behind HAProxy."""
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url}
    workers: dict[str, AppProcess] = {}
    log_path = LOGS / f"haproxy-{os.getpid()}.log"
    try:
        for name in ("w1", "w2"):
            workers[name] = start_app(f"balanced-{name}", env, tmp_path)
        with log_path.open("wb") as log:
            ports = [workers["w1"].port, workers["w2"].port]
            balancer = start_balancer(ports, "127.0.0.1", unused_port(), tmp_path / "lb", log)
        try:
            front = AppProcess("haproxy", balancer.port, log_path, balancer.process)
            yield Balanced(workers, balancer, front)
        finally:
            stop(balancer.process)
    finally:
        for worker in workers.values():
            stop(worker.process)


def assert_no_traceback(worker: AppProcess) -> None:
    assert "Traceback" not in worker.log(), f"{worker.name} logged a traceback:\n{worker.log()}"


@pytest.mark.e2e
def test_two_browsers_land_on_two_processes_and_a_reload_keeps_the_conversation(
    open_page: OpenPage, balanced: Balanced, fake: FakeOpenAI
) -> None:
    first = open_page(balanced.front, own_context=True)  # two browsers, two sticky cookies
    second = open_page(balanced.front, own_context=True)
    assert {balanced.worker_of(first), balanced.worker_of(second)} == {"w1", "w2"}

    first.chat("hello from the first browser", "Echo: hello from the first browser")
    # An upload is an HTTP request beside the websocket; it must reach the same process.
    attach(second, {"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES})
    fake.enqueue(Reply(text="Got your notes."))
    second.chat("hello from the second browser", "Got your notes.")
    assert any("/_stcore/upload_file/" in url for url in second.traffic.urls)
    sent = " ".join(str(m["content"]) for r in fake.chat_requests for m in r.body["messages"])
    assert "hello from the first browser" in sent
    assert "hello from the second browser" in sent
    assert NOTES.decode() in sent

    expect(first.page).to_have_url(re.compile(r"[?&]c="))
    stuck_to = balanced.worker_of(first)
    first.page.reload()
    expect(first.user_texts).to_have_text(["hello from the first browser"])
    expect(first.replies).to_have_count(1)
    assert first.reply_text() == "Echo: hello from the first browser"
    first.wait_idle()
    assert balanced.worker_of(first) == stuck_to
    for worker in balanced.workers.values():
        assert_no_traceback(worker)


@pytest.mark.e2e
def test_killing_one_process_keeps_its_conversation_and_spares_the_other(
    open_page: OpenPage, balanced: Balanced, fake: FakeOpenAI
) -> None:
    victim = open_page(balanced.front, own_context=True)
    bystander = open_page(balanced.front, own_context=True)
    victim_worker, bystander_worker = balanced.worker_of(victim), balanced.worker_of(bystander)
    assert victim_worker != bystander_worker
    bystander.chat("before the crash", "Echo: before the crash")
    victim.chat("a finished turn", "Echo: a finished turn")

    fake.enqueue(Reply(text=SLOW_REPLY, chunk_delay=WORD_DELAY))
    victim.send("a long answer please")
    expect(victim.replies.last).to_contain_text("w40 ")  # streaming, two seconds in
    shown = len(victim.reply_text().split())
    balanced.workers[victim_worker].process.send_signal(signal.SIGKILL)

    # Streamlit's frontend reconnects at once; HAProxy hands it to the other process, which
    # draws the conversation from the database with the cut reply marked as stopped.
    expect(victim.replies.last).to_contain_text(STOPPED)
    # A reload finds the same conversation, served by the other process.
    victim.page.reload()
    expect(victim.replies.last).to_contain_text(STOPPED)
    expect(victim.user_texts).to_have_text(
        ["a finished turn", "a long answer please"], timeout=30_000
    )
    victim.wait_idle()
    assert balanced.worker_of(victim) == bystander_worker
    assert victim.reply_text(0) == "Echo: a finished turn"
    kept = victim.reply_text(1).split()
    assert kept == SLOW_REPLY.split()[: len(kept)], "the stored reply is not a prefix"
    words_per_save = round(SAVE_EVERY / WORD_DELAY) + 1  # one save interval, plus one word
    assert len(kept) >= shown - words_per_save, f"{shown} words were shown, {len(kept)} kept"

    # The other process's browser never noticed.
    expect(bystander.replies.last).not_to_contain_text(STOPPED)
    bystander.chat("after the crash", "Echo: after the crash")
    expect(bystander.user_texts).to_have_text(["before the crash", "after the crash"])
    assert_no_traceback(balanced.workers[bystander_worker])
