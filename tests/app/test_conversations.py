"""Conversations survive reloads and restarts; the sidebar lists, renames, deletes, imports."""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.storage import Store
from components import session
from components.conversations import UNTITLED
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import (
    AppFactory,
    click,
    flushed,
    send,
    shown,
    signed_in,
    wait_until,
)


@pytest.fixture
def store() -> Store:
    return Store.open(config.database_url())


def reopen(make_app: AppFactory, conversation_id: str, **user: object) -> AppTest:
    """A new browser session (a reload) at ``?c=conversation_id``."""
    at = make_app()
    at.query_params["c"] = conversation_id
    if user:
        at.user = dict(user)
    return at


def titles(at: AppTest) -> list[str]:
    """The conversation list's titles, as the escaped labels the page sends."""
    return [b.label for b in at.button if b.key and b.key.startswith("open-")]


def listed_ids(at: AppTest) -> list[str]:
    """The conversation list's ids, top first."""
    return [b.key.removeprefix("open-") for b in at.button if b.key and b.key.startswith("open-")]


def listed(*titles: str) -> list[str]:
    """Titles as they are drawn: escaped to show literally, never as Markdown."""
    return [plain(title, empty=UNTITLED) for title in titles]


def test_reload_brings_the_conversation_back(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="first answer"))
    send(at, "Tell me about otters")
    conversation = at.query_params["c"]
    st.cache_resource.clear()  # and a restart: a fresh store and clients
    again = reopen(make_app, conversation).run()
    assert shown(again) == [("user", "Tell me about otters"), ("assistant", "first answer")]
    assert titles(again) == listed("Tell me about otters")
    fake.enqueue(Reply(text="second answer"))
    send(again, "And beavers?")
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent[1:] == ["Tell me about otters", "first answer", "And beavers?"]


def test_settings_and_telemetry_are_stored_with_the_reply(
    make_app: AppFactory, fake: FakeOpenAI, store: Store
) -> None:
    at = make_app().run()
    at.slider(key="temperature").set_value(1.3).run()
    fake.enqueue(Reply(text="warm", prompt_tokens=9, completion_tokens=1))
    send(at, "hi")
    (reply,) = [
        m for m in store.load_messages("local", at.query_params["c"]) or [] if m.role == "assistant"
    ]
    assert reply.settings is not None and reply.settings.temperature == 1.3
    assert reply.stats is not None and reply.stats.usage.prompt_tokens == 9
    assert reply.stats.finish_reason == "stop"


def test_stopped_reply_is_saved_as_partial(
    make_app: AppFactory, fake: FakeOpenAI, store: Store
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="one two three four", fault="hang", fault_after=2))
    with pytest.raises(RuntimeError, match="timed out"):
        send(at, "count", timeout=2)
    fake.release()
    wait_until(lambda: bool(store.list_conversations("local")))  # saved behind the page
    conversation = store.list_conversations("local")[0].id
    # Saved behind the page: wait for the last save (the reply marked stopped).
    wait_until(
        lambda: (
            [m.status for m in store.load_messages("local", conversation) or []][-1:] == ["stopped"]
        )
    )
    saved = store.load_messages("local", conversation) or []
    assert [(m.role, m.content, m.status) for m in saved] == [
        ("user", "count", "complete"),
        ("assistant", "one two", "stopped"),
    ]


def test_switch_rename_search_and_delete(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = make_app().run()
    send(at, "About apples")
    click(at, "New chat")
    send(at, "About pears")
    assert titles(at) == listed("About pears", "About apples")  # newest first
    click(at, "About apples")
    assert shown(at)[0] == ("user", "About apples")
    conversation = at.query_params["c"]
    at.text_input(key=f"title_input-{conversation}").input("Fruit notes").run()
    assert titles(at) == listed("About pears", "Fruit notes")
    at.text_input(key="conversation_search").input("pear").run()
    assert titles(at) == listed("About pears")
    at.text_input(key="conversation_search").input("").run()
    click(at, "Delete conversation")
    click(at, "Delete")
    assert titles(at) == listed("About pears")
    assert shown(at) == [] and "c" not in at.query_params


def test_export_buttons_and_json_import(
    make_app: AppFactory, fake: FakeOpenAI, store: Store
) -> None:
    at = make_app().run()
    send(at, "Export me")
    assert {b.label for b in at.download_button} == {"Markdown", "JSON"}
    exported = store.export_json("local", at.query_params["c"])
    click(at, "New chat")
    at.session_state[session.IMPORT_MENU] = True  # the uploader is drawn while it is open
    at.run()
    at.file_uploader(key="import_file").set_value(
        ("chat.json", json.dumps(exported).encode(), "application/json")
    ).run()
    assert shown(at) == [("user", "Export me"), ("assistant", "Echo: Export me")]
    assert len(store.list_conversations("local")) == 2


def test_bad_import_is_refused_and_writes_nothing(
    make_app: AppFactory, fake: FakeOpenAI, store: Store
) -> None:
    at = make_app().run()
    before = len(store.list_conversations("local"))
    at.session_state[session.IMPORT_MENU] = True
    at.run()
    at.file_uploader(key="import_file").set_value(
        ("bad.json", b'{"format": "something else"}', "application/json")
    ).run()
    assert not at.exception
    assert any("Import failed" in t.value for t in at.toast)
    assert len(store.list_conversations("local")) == before


def test_with_auth_each_user_sees_only_their_conversations(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    def as_user(name: str | None) -> AppTest:
        return signed_in(make_app, name)

    anonymous = as_user(None).run()
    assert [b.label for b in anonymous.button] == ["Sign in"]
    assert not anonymous.chat_input
    alice = as_user("alice").run()
    send(alice, "alice's diary")
    secret = alice.query_params["c"]
    bob = as_user("bob")
    bob.query_params["c"] = secret
    bob.run()
    assert shown(bob) == []
    assert titles(bob) == []
    assert any("not yours" in t.value for t in bob.toast)
    assert titles(as_user("alice").run()) == listed("alice's diary")


def test_a_conversation_written_in_is_listed_first_while_its_save_is_on_its_way(
    make_app: AppFactory, fake: FakeOpenAI, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = store.create_conversation("local", "older")
    store.save_message("local", older, ChatMessage("user", "older"))
    newer = store.create_conversation("local", "newer")
    store.save_message("local", newer, ChatMessage("user", "newer"))
    at = reopen(make_app, older).run()
    assert listed_ids(at) == [newer, older]
    released = threading.Event()
    real = Store._transaction

    def transaction(store: Store, *, write: bool) -> AbstractContextManager[Any]:
        if write:
            released.wait(30)
        return real(store, write=write)

    monkeypatch.setattr(Store, "_transaction", transaction)  # the reply's save waits
    try:
        at.chat_input[0].set_value("again").run(timeout=10)
        assert shown(at)[-1] == ("assistant", "Echo: again")
        assert listed_ids(at) == [older, newer]  # what waits makes it the newest
    finally:
        released.set()
    assert flushed(at, 10)
    assert listed_ids(at.run()) == [older, newer]  # and so does what was stored
