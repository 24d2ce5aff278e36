"""In a real browser: regenerate and alternatives, edit and resend, the message menu, thinking,
and a reopened conversation's settings (issue 9)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage


def sent(fake: FakeOpenAI) -> list[tuple[str, str]]:
    body: dict[str, Any] | None = fake.last_chat_body
    assert body is not None
    return [(m["role"], m["content"]) for m in body["messages"]]


def finished(chat: ChatPage, text: str) -> None:
    reply = chat.replies.last.filter(has_text=text).filter(has_text="finish:")
    expect(reply).to_be_visible()
    chat.wait_idle()


def tool(message: Locator, name: str) -> Locator:
    return message.get_by_role("button", name=name)


def test_regenerate_keeps_both_replies_and_the_shown_one_is_sent(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="First take."), Reply(text="Second take."))
    chat.chat("Write one line.", "First take.")
    tool(chat.replies.last, "Regenerate").click()
    finished(chat, "Second take.")
    expect(chat.replies.last).to_contain_text("2/2")

    chat.page.locator("[class*='st-key-previous-']").get_by_role("button").click()
    expect(chat.replies.last).to_contain_text("First take.")
    expect(chat.replies.last).to_contain_text("1/2")
    chat.wait_idle()
    chat.chat("And another?", "Echo: And another?")
    assert sent(fake)[-2:] == [("assistant", "First take."), ("user", "And another?")]

    chat.page.reload()  # both alternatives survive, the chosen branch is shown
    expect(chat.replies.first).to_contain_text("First take.")
    expect(chat.replies.first).to_contain_text("1/2")


def test_edit_and_resend_branches_and_both_branches_survive_a_reload(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    chat.chat("Name a fruit.", "Echo: Name a fruit.")
    tool(chat.user_messages.last, "Edit").click()
    box = chat.user_messages.last.get_by_role("textbox")
    expect(box).to_have_value("Name a fruit.")
    box.fill("Name a vegetable.")
    box.press("Tab")  # a text area applies its value when it loses focus
    chat.wait_idle()
    chat.user_messages.last.get_by_role("button", name="Send").click()
    finished(chat, "Echo: Name a vegetable.")
    assert sent(fake)[1:] == [("user", "Name a vegetable.")]

    chat.page.reload()
    expect(chat.user_texts).to_have_text(["Name a vegetable."])
    expect(chat.user_messages.first).to_contain_text("2/2")
    chat.page.locator("[class*='st-key-previous-']").get_by_role("button").click()
    expect(chat.user_texts).to_have_text(["Name a fruit."])
    expect(chat.replies.last).to_contain_text("Echo: Name a fruit.")


def test_the_menu_copies_a_message_and_deletes_a_branch(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="**Bold** answer"))
    chat.chat("One", "Bold answer")
    chat.chat("Two", "Echo: Two")
    first_reply = chat.replies.first
    copy = chat.page.get_by_role("button", name="Copy as Markdown")
    chat.open_and_click(tool(first_reply, "More"), copy)
    expect(first_reply.get_by_test_id("stCode")).to_contain_text("**Bold** answer")
    chat.wait_idle()

    delete = chat.page.get_by_role("button", name="Delete…")
    chat.open_and_click(tool(chat.user_messages.last, "More"), delete)
    expect(chat.page.get_by_text("Delete this message and everything after it")).to_be_visible()
    chat.page.get_by_role("button", name="Delete", exact=True).click()
    expect(chat.user_texts).to_have_text(["One"])
    chat.wait_idle()
    chat.page.reload()
    expect(chat.user_texts).to_have_text(["One"])
    expect(chat.replies).to_have_count(1)


def test_thinking_streams_apart_and_is_never_sent_back(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(
        Reply(
            text="It is 42.",
            reasoning="Six times seven: six sevens are forty-two.",
            chunk_delay=0.05,
        )
    )
    chat.chat("What is six times seven?", "It is 42.")
    thinking = chat.replies.last.get_by_test_id("stExpander").filter(has_text="Thinking")
    expect(thinking).to_have_count(1)
    thinking.locator("summary").click()
    expect(thinking).to_contain_text("six sevens are forty-two")
    chat.chat("Sure?", "Echo: Sure?")
    assert sent(fake)[1:] == [
        ("user", "What is six times seven?"),
        ("assistant", "It is 42."),
        ("user", "Sure?"),
    ]


def test_a_reply_spent_on_thinking_explains_itself(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="", reasoning="Hmm hmm hmm", finish_reason="length"))
    chat.send("A hard one.")
    expect(chat.error).to_contain_text("before writing any answer")
    chat.wait_idle()
    fake.enqueue(Reply(text="Done thinking."))
    chat.button("Raise max tokens and retry").click()
    finished(chat, "Done thinking.")
    body = fake.last_chat_body
    assert body is not None and body["max_tokens"] == 4096
    expect(chat.slider_value("Max tokens")).to_have_text("4096")


def test_reopening_a_conversation_brings_its_settings_back(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    chat.set_slider("Temperature", *["ArrowRight"] * 4, shows="0.90")
    chat.chat("Warm question", "Echo: Warm question")
    chat.button("New chat").click()
    # The new chat's run is over once its page is drawn: an empty chat, the list below.
    expect(chat.messages).to_have_count(0)
    listed = chat.sidebar.get_by_role("button", name="Warm question")
    expect(listed).to_be_visible()
    chat.wait_idle()
    chat.set_slider("Temperature", "Home", shows="0.00")
    listed.click()
    expect(chat.slider_value("Temperature")).to_have_text("0.90")
    chat.wait_idle()
    chat.chat("Still warm?", "Echo: Still warm?")
    body = fake.last_chat_body
    assert body is not None and body["temperature"] == 0.9
