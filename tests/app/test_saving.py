"""The chat page while the database fails: nothing lost, one message, a link kept.

The store is made to fail the way an unreachable server does: every transaction raises a
retryable ``StorageError`` until the test heals it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pytest
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.messages import ChatMessage
from chatlab.storage import StorageError, Store
from components import store_opening
from components.session import SavingState
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, flushed, held, shown, wait_until

if TYPE_CHECKING:
    from tests.postgres import PostgresCluster

pytest_plugins = ["tests.postgres"]

OUTAGE = "Chat Lab cannot reach the PostgreSQL server at db:5432/chatlab (injected)."


class Outage:
    """Switch the database off and on (every ``Store`` transaction fails while off)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        real = Store._transaction

        def transaction(store: Store, *, write: bool) -> AbstractContextManager[Any]:
            if self.down:
                raise StorageError(OUTAGE, "Check that the server is running.")
            return real(store, write=write)

        monkeypatch.setattr(Store, "_transaction", transaction)


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(monkeypatch)


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.open(config.database_url()) as opened:
        yield opened


def type_in(at: AppTest, text: str) -> AppTest:
    return at.chat_input[0].set_value(text).run(timeout=10)


def paused(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Saving paused" in w.value]


def told(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def outbox_outage(at: AppTest) -> object:
    return held(at, SavingState).outbox.outage


def test_messages_sent_while_the_database_is_down_are_stored_once_it_is_back(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    at = make_app().run()
    outage.down = True
    type_in(at, "first, while it is down")
    type_in(at, "second, still down")
    assert [text for _, text in shown(at)] == [
        "first, while it is down",
        "Echo: first, while it is down",
        "second, still down",
        "Echo: second, still down",
    ]
    assert not any("not in this conversation" in text for text in told(at))
    conversation_id = at.query_params["c"]  # the link is right before anything is stored
    outage.down = False
    at.run()  # the next run wakes the writer
    assert flushed(at, 30)
    stored = store.load_messages("local", conversation_id) or []
    assert [m.content for m in stored] == [text for _, text in shown(at)]


def test_an_outage_is_said_once_and_cleared_when_it_heals(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage
) -> None:
    at = make_app().run()
    outage.down = True
    type_in(at, "one")
    wait_until(lambda: outbox_outage(at) is not None)
    for text in ("two", "three"):
        type_in(at, text)
    assert len(paused(at)) == 1
    assert "cannot reach the PostgreSQL server" in paused(at)[0]
    assert not [text for text in told(at) if "save" in text.lower()]  # no toast per run
    assert any(b.label == "Download what is not saved yet" for b in at.download_button)
    outage.down = False
    at.run()
    assert flushed(at, 30)
    at.run()
    assert paused(at) == []


def test_a_link_opened_during_an_outage_keeps_its_id_and_opens_when_it_is_back(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    conversation_id = store.create_conversation("local")
    store.save_message("local", conversation_id, ChatMessage("user", "stored before"))
    outage.down = True
    at = make_app()
    at.query_params["c"] = conversation_id
    at.run()
    assert not any("does not exist" in text for text in told(at))
    assert at.query_params["c"] == conversation_id
    outage.down = False
    at.run()
    assert shown(at) == [("user", "stored before")]
    assert at.query_params["c"] == conversation_id


def test_a_failure_while_the_reply_streams_shows_in_that_same_run(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(chunks=[f"w{index} " for index in range(14)], chunk_delay=0.3))

    def reply_partly_stored() -> bool:
        listed = store.list_conversations("local")
        found = store.load_messages("local", listed[0].id) if listed else None
        return any(m.role == "assistant" for m in found or [])

    def stop_the_database_mid_reply() -> None:
        wait_until(reply_partly_stored)  # the page is drawn; the reply is streaming
        outage.down = True

    stopper = threading.Thread(target=stop_the_database_mid_reply)
    stopper.start()
    type_in(at, "a slow reply")
    stopper.join()
    assert len(paused(at)) == 1  # drawn while it streamed, not at the next run
    assert "w13" in at.chat_message[-1].markdown[0].value  # and the reply went on
    assert shown(at)[-1][1].startswith("w0 w1")
    outage.down = False
    at.run()
    assert flushed(at, 30)
    stored = store.load_messages("local", at.query_params["c"]) or []
    assert [m.content.strip() for m in stored] == [text for _, text in shown(at)]


# -- a real PostgreSQL server stopped under the page, then started again ----------------------


@pytest.mark.postgres
def test_postgres_stopped_mid_chat_then_started_loses_nothing(
    make_app: AppFactory,
    fake: FakeOpenAI,
    own_cluster: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with own_cluster.database() as url:
        monkeypatch.setenv("DATABASE_URL", url)
        at = make_app().run()
        type_in(at, "before the stop")
        assert flushed(at, 30)
        own_cluster.pause()
        try:
            type_in(at, "while it is stopped")
            type_in(at, "still stopped")
            assert not any("not in this conversation" in text for text in told(at))
        finally:
            own_cluster.resume()
        at.run()
        assert flushed(at, 60)
        with Store.open(url) as store:
            stored = store.load_messages("local", at.query_params["c"]) or []
        assert [m.content for m in stored] == [text for _, text in shown(at)]
        assert len(stored) == 6
        at.run()
        assert paused(at) == []


def test_a_conversation_clicked_during_an_outage_is_not_called_gone(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    other = store.create_conversation("local")
    store.save_message("local", other, ChatMessage("user", "stored elsewhere"))
    at = make_app().run()
    type_in(at, "the open one")
    assert flushed(at, 10)
    open_one = at.query_params["c"]
    outage.down = True
    at.button(key=f"open-{other}").click().run()
    assert not any("gone" in text for text in told(at))
    assert any("could not read that conversation" in text for text in told(at))
    assert any("cannot reach the PostgreSQL server" in text for text in told(at))
    assert [text for _, text in shown(at)] == ["the open one", "Echo: the open one"]
    assert at.query_params["c"] == open_one


def compare_page(make_app: AppFactory, *, temperatures: str, samples: int) -> AppTest:
    """The Compare page set to ask "Name a colour." at ``temperatures``, ``samples`` each."""
    at = make_app().run().switch_page("pages/compare.py").run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value(temperatures)
    at.number_input(key="compare_samples").set_value(samples)
    return at


def test_a_compare_result_taken_to_the_chat_during_an_outage_is_stored_with_what_follows(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    at = compare_page(make_app, temperatures="0.3", samples=1)
    next(b for b in at.button if b.label == "Run").click().run()
    assert flushed(at, 10)
    outage.down = True
    next(b for b in at.button if b.label == "Open in chat").click().run()
    assert not [text for text in told(at) if "save" in text.lower()]
    at.switch_page("pages/chat.py").run()  # AppTest stays on the page it was sent to
    type_in(at, "and then?")
    assert not any("not in this conversation" in text for text in told(at))
    outage.down = False
    at.run()
    assert flushed(at, 30)
    stored = store.load_messages("local", at.query_params["c"]) or []
    assert [m.content for m in stored] == [
        "Name a colour.",
        "Echo: Name a colour.",
        "and then?",
        "Echo: and then?",
    ]


# -- a database that cannot be opened when the process starts ---------------------------------

LOCKED = "The chat history file chatlab.db is locked by another program."


class Unopenable:
    """``Store.open`` fails while ``down``; while ``held`` is clear it does not return."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = True
        self.held = threading.Event()
        self.held.set()
        real = Store.open

        def opening(cls: type[Store], url: str) -> Store:
            self.held.wait()
            if self.down:
                raise StorageError(LOCKED, "Try again in a moment.")
            return real(url)

        monkeypatch.setattr(Store, "open", classmethod(opening))


def test_a_store_that_never_opened_says_so_once_keeps_the_messages_and_saves_them_later(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    unopenable = Unopenable(monkeypatch)
    at = make_app().run()
    type_in(at, "sent before the store opened")
    (note,) = paused(at)
    assert "is locked by another program" in note  # the cause
    assert "not being saved" in note and "1 message not saved yet is kept" in note
    assert [w.value for w in at.warning] == [note]  # the one note, no generic warning
    assert any(b.label == "Download what is not saved yet" for b in at.download_button)
    unopenable.down = False
    wait_until(lambda: not paused(at.run()))  # a later run opens it
    assert flushed(at, 30)
    stored = store.load_messages("local", at.query_params["c"]) or []
    assert [m.content for m in stored] == [text for _, text in shown(at)]


def test_a_store_slow_to_open_delays_no_run_and_saves_once_it_opens(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.setattr(store_opening, "FIRST_WAIT", 0.5)
    unopenable = Unopenable(monkeypatch)
    unopenable.held.clear()  # opening hangs (an unreachable server, a lock)
    at = make_app().run()
    started = time.monotonic()
    type_in(at, "while it opens")
    assert time.monotonic() - started < 3  # the run waited a quarter second, not the open
    assert shown(at)[0] == ("user", "while it opens")
    assert len(paused(at)) == 1
    unopenable.down = False
    unopenable.held.set()  # it opens behind the page: the waiting messages are written
    wait_until(lambda: len(store.load_messages("local", at.query_params["c"]) or []) == 2)


def test_a_compare_run_made_during_an_outage_is_told_once_kept_and_stored_when_it_is_back(
    make_app: AppFactory, fake: FakeOpenAI, outage: Outage, store: Store
) -> None:
    at = compare_page(make_app, temperatures="0.3, 0.9", samples=2)
    outage.down = True
    next(b for b in at.button if b.label == "Run").click().run()
    said = [text for text in told(at) if "compare run" in text]
    for _ in range(3):
        said += [text for text in told(at.run()) if "compare run" in text]
    assert len(said) == 1 and "not saved yet" in said[0] and "keeps trying" in said[0]
    assert " ".join(md.value for md in at.markdown).count("Echo: Name a colour.") == 4
    outage.down = False
    wait_until(lambda: bool(store.list_runs("local")), timeout=30)  # retried on its own
    (summary,) = store.list_runs("local")
    stored = store.load_run("local", summary.id)
    assert stored is not None and [r.text for r in stored.results] == ["Echo: Name a colour."] * 4
    wait_until(lambda: any("compare run is saved now" in text for text in told(at.run())))
