"""A process killed mid-reply (SIGKILL: no cleanup, no atexit) loses nothing it had saved."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import IO

from chatlab.messages import Status
from chatlab.storage import Store
from tests.conftest import ROOT

pytest_plugins = ["tests.postgres"]

# Streams replies the way the chat page does: the question saved when sent, the reply
# saved as it grows, then once more when it ends. Each line is printed only after the
# save returned, so every line is a promise the database must keep.
WRITER = """
import sys, time
from chatlab.messages import ChatMessage, Status
from chatlab.storage import Store

store = Store.open(sys.argv[1])
conversation = store.create_conversation("alice")
print("conversation", conversation, flush=True)
parent = None
for turn in range(1000):
    question = ChatMessage("user", f"question {turn}", parent_id=parent)
    store.save_message("alice", conversation, question)
    print("finished", question.id, question.content, flush=True)
    answer = ChatMessage("assistant", "", Status.STREAMING, parent_id=question.id)
    for chunk in range(4):
        answer.content += f"answer {turn} chunk {chunk}. "
        store.save_message("alice", conversation, answer)
        print("partial", answer.id, answer.content, flush=True)
        time.sleep(0.1)
    answer.status = Status.COMPLETE
    store.save_message("alice", conversation, answer)
    print("finished", answer.id, answer.content, flush=True)
    parent = answer.id
"""


def read_until_mid_reply(stdout: IO[str], finished_wanted: int) -> list[list[str]]:
    """Lines read so far, once enough messages finished and a reply is streaming."""
    lines: list[list[str]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n").split(" ", 2))
        finished = sum(1 for kind, *_ in lines if kind == "finished")
        if finished >= finished_wanted and lines[-1][0] == "partial":
            return lines
    raise AssertionError(f"the writer stopped early after {lines[-3:]}")


def test_killed_writer_keeps_every_finished_message_and_a_recent_partial(
    database_url: str,
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        lines = read_until_mid_reply(writer.stdout, finished_wanted=5)
        time.sleep(random.uniform(0, 0.1))  # land anywhere, a save in flight included
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        for stream in (writer.stdout, writer.stderr):
            if stream is not None:
                stream.close()
    assert writer.returncode == -signal.SIGKILL

    conversation = lines[0][1]
    with Store.open(database_url) as store:
        exported = store.export_json("alice", conversation)
        path = store.load_messages("alice", conversation)
    assert exported is not None and path is not None
    saved = {m["id"]: m for m in exported["messages"]}

    finished = [(id_, text) for kind, id_, text in lines[1:] if kind == "finished"]
    for message_id, text in finished:
        assert saved[message_id]["content"] == text
        assert saved[message_id]["status"] == Status.COMPLETE
    _, partial_id, partial_text = lines[-1]
    # The reply may have grown (or finished) between the last line read and the kill.
    assert saved[partial_id]["content"].startswith(partial_text)
    assert path[-1].id == partial_id or path[-1].parent_id == partial_id
