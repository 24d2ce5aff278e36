"""Nothing lost across retries, failures, other tabs and deletions (issue 11 §2, issue 12 #6)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.storage import Store
from components import session
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, chat_state, click, send, shown


@pytest.fixture
def store() -> Store:
    return Store.open(config.database_url())


def stored_contents(store: Store, conversation_id: str) -> list[tuple[str, str]]:
    tree = store.load_tree("local", conversation_id)
    assert tree is not None
    return [(m.role, m.content) for m in tree.messages]


def sent_roles(fake: FakeOpenAI) -> list[str]:
    return [m["role"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]


def test_retry_keeps_the_failed_partial_until_a_new_reply_replaces_it(
    app: AppTest, fake: FakeOpenAI, store: Store
) -> None:
    fake.enqueue(Reply(text="a partial answer that was cut", fault="cut", fault_after=3))
    send(app, "question")
    assert shown(app)[-1] == ("assistant", "a partial answer")
    conversation_id = app.query_params["c"]
    fake.enqueue(Reply(status=500, error={"message": "still down"}))
    click(app, "Retry")
    # The server is still down: the partial is still on screen and still stored.
    assert shown(app)[-1] == ("assistant", "a partial answer")
    assert ("assistant", "a partial answer") in stored_contents(store, conversation_id)
    fake.enqueue(Reply(text="a whole answer"))
    click(app, "Retry")
    assert shown(app)[-1] == ("assistant", "a whole answer")
    assert [c for r, c in stored_contents(store, conversation_id) if r == "assistant"] == [
        "a partial answer",
        "a whole answer",
    ]
    # Both are reachable: 2/2 now, and the previous one is one click away.
    assert "2/2" in [c.value for c in app.caption]
    partial = next(
        m for m in chat_state(app).conversation.messages.values() if "partial" in m.content
    )
    new = chat_state(app).conversation.leaf
    assert new is not None
    app.button(key=f"previous-{new.id}").click().run()
    assert shown(app)[-1] == ("assistant", "a partial answer")
    send(app, "next")
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent[-2:] == ["a partial answer", "next"], "the shown alternative is what is sent"
    assert chat_state(app).conversation.path()[1].id == partial.id


def test_after_a_failed_turn_the_next_request_still_alternates(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(status=500, error={"message": "boom"}))
    send(app, "first")
    fake.enqueue(Reply(text="ok"))
    send(app, "second")
    assert sent_roles(fake) == ["system", "user"]
    assert fake.last_chat_body["messages"][1]["content"] == "second"  # type: ignore[index]
    assert shown(app) == [("user", "first"), ("user", "second"), ("assistant", "ok")]
    assert any("left out of what the model sees" in c.value for c in app.caption)
    fake.enqueue(Reply(text="fine"))
    send(app, "third")
    assert sent_roles(fake) == ["system", "user", "assistant", "user"]


def test_a_conversation_reopened_after_a_failure_still_alternates(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(status=500, error={"message": "boom"}))
    send(at, "lonely question")
    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    fake.enqueue(Reply(text="answered"))
    send(again, "follow-up")
    assert sent_roles(fake) == ["system", "user"]
    assert shown(again)[-1] == ("assistant", "answered")


def test_regenerate_keeps_both_replies_and_sends_the_shown_one(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="first take"))
    send(app, "write a line")
    first = chat_state(app).conversation.leaf
    assert first is not None
    fake.enqueue(Reply(text="second take"))
    app.button(key=f"regenerate-{first.id}").click().run()
    assert shown(app)[-1] == ("assistant", "second take")
    assert [m["content"] for m in fake.last_chat_body["messages"]][-1] == "write a line"  # type: ignore[index]
    assert "2/2" in [c.value for c in app.caption]


def test_two_tabs_writing_one_conversation_branch_visibly(
    make_app: AppFactory, fake: FakeOpenAI, store: Store
) -> None:
    first = make_app().run()
    fake.enqueue(Reply(text="a1"))
    send(first, "q1")
    conversation_id = first.query_params["c"]
    second = make_app()
    second.query_params["c"] = conversation_id
    second.run()
    fake.enqueue(Reply(text="from tab one"))
    send(first, "tab one asks")
    fake.enqueue(Reply(text="from tab two"))
    send(second, "tab two asks")
    assert any("changed in another tab" in t.value for t in second.toast)
    # Tab two's message went under the reply it saw, beside tab one's: a visible branch.
    assert shown(second)[-2:] == [("user", "tab two asks"), ("assistant", "from tab two")]
    assert "2/2" in [c.value for c in second.caption]
    fresh = make_app()
    fresh.query_params["c"] = conversation_id
    fresh.run()
    assert "2/2" in [c.value for c in fresh.caption]
    tab_two_question = chat_state(fresh).conversation.path()[2]
    fresh.button(key=f"previous-{tab_two_question.id}").click().run()
    assert shown(fresh)[-2:] == [("user", "tab one asks"), ("assistant", "from tab one")]


def test_deleted_in_another_tab_keeps_the_text_and_offers_to_save_it(
    app: AppTest, fake: FakeOpenAI, store: Store
) -> None:
    fake.enqueue(Reply(text="kept answer"))
    send(app, "keep me")
    conversation_id = app.query_params["c"]
    assert store.delete_conversation("local", conversation_id)
    fake.enqueue(Reply(text="an answer nobody saved"))
    send(app, "after the delete")
    assert not app.exception
    assert shown(app)[-2:] == [
        ("user", "after the delete"),
        ("assistant", "an answer nobody saved"),
    ]
    assert any("deleted in another tab" in w.value for w in app.warning)
    click(app, "Save it as a new conversation")
    saved = app.query_params["c"]
    assert saved != conversation_id
    assert stored_contents(store, saved) == [
        ("user", "keep me"),
        ("assistant", "kept answer"),
        ("user", "after the delete"),
        ("assistant", "an answer nobody saved"),
    ]
    assert not any("deleted in another tab" in w.value for w in app.warning)


def test_one_tab_alone_is_never_told_of_another(app: AppTest, fake: FakeOpenAI) -> None:
    for question in ("one", "two", "three"):
        fake.enqueue(Reply(text=f"answer {question}"))
        send(app, question)
        app.run()
        assert not [t.value for t in app.toast if "another tab" in t.value]


def test_a_full_context_is_told_apart_from_max_tokens(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="an older answer"))
    send(app, "an older question")
    # The server stopped at 12 tokens although 1,024 were allowed: its window is full.
    fake.enqueue(Reply(text="The window is full", finish_reason="length", completion_tokens=12))
    send(app, "a long conversation's question")
    app.run()
    notes = " ".join(c.value for c in app.caption)
    assert "context window is full" in notes and "max\\-tokens" not in notes
    assert not [b for b in app.button if b.label == "Continue"]
    fake.enqueue(Reply(text="fits"))
    click(app, "Drop oldest turns and retry")
    assert shown(app)[-1] == ("assistant", "fits")


def test_a_full_context_with_the_question_alone_offers_neither_continue_nor_dropping(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="The window is full", finish_reason="length", completion_tokens=12))
    send(app, "one long question")
    app.run()
    assert "context window is full" in " ".join(c.value for c in app.caption)
    labels = [b.label for b in app.button]
    assert "Continue" not in labels and "Drop oldest turns and retry" not in labels


def test_edit_and_resend_makes_a_branch_that_survives_a_reload(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="answer one"), Reply(text="answer two"))
    send(at, "one")
    send(at, "two")
    first = chat_state(at).conversation.path()[0]
    at.button(key=f"edit-{first.id}").click().run()
    box = at.text_area(key="edit_text")
    assert box.value == "one"
    box.input("one, edited").run()
    fake.enqueue(Reply(text="a new answer"))
    at.button(key=f"send-edit-{first.id}").click().run()
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent == ["You are a helpful assistant.", "one, edited"]
    assert shown(at) == [("user", "one, edited"), ("assistant", "a new answer")]

    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    assert shown(again) == [("user", "one, edited"), ("assistant", "a new answer")]
    assert "2/2" in [c.value for c in again.caption]
    edited = chat_state(again).conversation.path()[0]
    again.button(key=f"previous-{edited.id}").click().run()
    assert shown(again) == [
        ("user", "one"),
        ("assistant", "answer one"),
        ("user", "two"),
        ("assistant", "answer two"),
    ]


def test_copy_shows_the_markdown_and_delete_takes_the_branch_for_good(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="**answer** one"), Reply(text="answer two"))
    send(at, "one")
    send(at, "two")
    at.run()
    first_reply = chat_state(at).conversation.path()[1]
    assert f"source-{first_reply.id}" not in [b.key for b in at.button]  # drawn when opened
    at.session_state[f"{session.MORE_MENU}-{first_reply.id}"] = True  # open its More menu
    at.run()
    at.button(key=f"source-{first_reply.id}").click().run()
    assert [c.value for c in at.code] == ["**answer** one"]
    when = f"Written {first_reply.created_at:%Y-%m-%d %H:%M:%S} UTC"
    assert when in [c.value for c in at.caption]

    second_question = chat_state(at).conversation.path()[2]
    at.session_state[f"{session.MORE_MENU}-{second_question.id}"] = True
    at.run()
    at.button(key=f"delete-{second_question.id}").click().run()
    assert shown(at)[-1] == ("assistant", "answer two")  # nothing gone before confirming
    at.button(key=f"confirm-delete-{second_question.id}").click().run()
    assert shown(at) == [("user", "one"), ("assistant", "**answer** one")]

    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    assert shown(again) == [("user", "one"), ("assistant", "**answer** one")]
    fake.enqueue(Reply(text="fresh"))
    send(again, "three")
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent[1:] == ["one", "**answer** one", "three"]


def test_thinking_is_shown_apart_stored_and_never_sent_back(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="Forty-two.", reasoning="Let me add six and seven, times..."))
    send(at, "What is six times seven?")
    (thinking,) = [e for e in at.expander if e.label == "Thinking"]
    assert "Let me add six" in thinking.markdown[0].value
    assert shown(at)[-1][1].endswith("Forty-two.")
    assert any("(7 thinking)" in c.value for c in at.caption)
    fake.enqueue(Reply(text="Yes."))
    send(at, "Sure?")
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent[1:] == ["What is six times seven?", "Forty-two.", "Sure?"]
    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    assert [e.label for e in again.expander if e.label == "Thinking"] == ["Thinking"]


def test_a_reply_that_only_thought_explains_itself_and_offers_more_tokens(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="", reasoning="On and on and on", finish_reason="length"))
    send(app, "Hard question")
    (error,) = app.error
    assert "before writing any answer" in error.value and "5 of them went to" in error.value
    assert [e.label for e in app.expander if e.label == "Thinking"] == ["Thinking"]
    fake.enqueue(Reply(text="An answer at last."))
    click(app, "Raise max tokens and retry")
    assert fake.last_chat_body["max_tokens"] == 4096  # type: ignore[index]
    assert shown(app)[-1] == ("assistant", "An answer at last.")


def test_reopening_a_conversation_brings_back_its_settings(app: AppTest, fake: FakeOpenAI) -> None:
    app.slider(key="temperature").set_value(1.3)
    app.text_area(key="system_prompt").input("Answer like a pirate.")
    app.checkbox(key="top_p_set").check()
    app.run()
    fake.enqueue(Reply(text="Arr."))
    send(app, "Hello")
    first = app.query_params["c"]
    click(app, "New chat")
    app.slider(key="temperature").set_value(0.2)
    app.text_area(key="system_prompt").input("Be plain.")
    app.checkbox(key="top_p_set").uncheck()
    app.run()
    app.button(key=f"open-{first}").click().run()
    assert app.slider(key="temperature").value == 1.3
    assert app.text_area(key="system_prompt").value == "Answer like a pirate."
    fake.enqueue(Reply(text="Aye."))
    send(app, "Again")
    body = fake.last_chat_body
    assert body is not None
    assert (body["temperature"], body["messages"][0]["content"]) == (1.3, "Answer like a pirate.")
    assert body["top_p"] == 1.0
