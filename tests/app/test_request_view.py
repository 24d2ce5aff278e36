"""Under each reply, the exact request it came from (issue 8, "The exact request")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from chatlab.messages import ChatMessage
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, chat_state, send
from tests.conftest import TEST_KEY


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from _nodes(child)


def _page_text(at: AppTest) -> str:
    """Everything the page sends to the browser, element by element."""
    return "\n".join(str(getattr(node, "proto", "")) for node in _nodes(at._tree))


def _open_request(at: AppTest, reply: ChatMessage) -> dict[str, str]:
    """Open the reply's Request view; the code in its tabs, by language."""
    at.button(key=f"request-{reply.id}").click().run()
    return {code.language or "": code.value for code in at.code}


def _reply(at: AppTest) -> ChatMessage:
    leaf = chat_state(at).conversation.leaf
    assert leaf is not None and leaf.role == "assistant"
    return leaf


def test_the_request_viewer_shows_the_body_sent_and_survives_a_reload(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="Hello there"))
    send(at, 'Say "hi"\nin two lines')
    sent: Any = fake.last_chat_body
    reply = _reply(at)
    assert at.button(key=f"request-{reply.id}").label == "Request"
    assert not at.code, "closed, the viewer sends nothing to the browser"

    shown = _open_request(at, reply)

    assert json.loads(shown["json"]) == sent
    assert [tab.label for tab in at.tabs] == ["JSON", "Python"]
    snippet = shown["python"]
    assert "client.chat.completions.create(" in snippet
    assert f"OpenAI(base_url={fake.base_url!r})" in snippet
    assert repr('Say "hi"\nin two lines') in snippet
    assert "completions.create" in _page_text(at)  # the check below sees the code too
    assert TEST_KEY not in _page_text(at)

    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    reloaded = _open_request(again, reply)
    assert json.loads(reloaded["json"]) == sent
    assert reloaded["python"] == snippet
    assert TEST_KEY not in _page_text(again)


def test_the_request_shown_is_the_one_that_worked_after_a_rejection(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.reject_params = {"temperature"}
    send(app, "hello")
    assert len(fake.chat_requests) == 2  # the first was refused for its temperature
    shown = json.loads(_open_request(app, _reply(app))["json"])
    assert shown == fake.last_chat_body
    assert "temperature" not in shown


def test_each_reply_shows_its_own_request(app: AppTest, fake: FakeOpenAI) -> None:
    send(app, "first")
    first = _reply(app)
    first_body = fake.last_chat_body
    send(app, "second")

    shown = json.loads(_open_request(app, first)["json"])

    assert shown == first_body
    assert [m["content"] for m in shown["messages"]][-1] == "first"


def test_a_stored_reply_leaves_its_request_to_the_store(app: AppTest, fake: FakeOpenAI) -> None:
    """Each request holds the whole conversation so far: kept in the session, a long
    session's memory grew with the square of its length."""
    bodies = []
    for text in ("one", "two", "three"):
        send(app, text)
        bodies.append(fake.last_chat_body)
    path = chat_state(app).conversation.path()
    replies = [m for m in path if m.role == "assistant"]
    assert len(replies) == 3
    assert [m.request for m in replies] == [None, None, None]
    assert [json.loads(_open_request(app, m)["json"]) for m in replies] == bodies


def test_without_storage_the_request_stays_with_the_reply(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("CHATLAB_DATA_DIR", str(not_a_folder))
    at = make_app().run()
    assert any("not being saved" in w.value for w in at.warning)
    send(at, "hello")
    reply = _reply(at)
    assert reply.request == fake.last_chat_body
    assert json.loads(_open_request(at, reply)["json"]) == fake.last_chat_body
