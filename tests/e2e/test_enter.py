"""One Enter sends one message, whatever the sidebar's settings fragment is doing.

`ChatPage.send` presses Enter once and fails if the box does not clear, so every browser
test also checks this; the tests here aim at the moments a fragment rerun is in flight.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, last_user_text
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e

# Streamlit's browser sends every widget change made in one event-loop task as one rerun,
# scoped to the first fragment among them. This makes that happen on purpose: the system
# prompt (in the settings fragment) is applied by the blur and the message is sent, with
# only microtasks between them (so React sees each step, but no timer runs in between).
SETTING_AND_MESSAGE_IN_ONE_TASK = """async ([systemPrompt, box]) => {
  const tick = () => new Promise((resolve) => queueMicrotask(resolve));
  const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
  const type = async (area, text) => {
    setValue.call(area, text);
    area.dispatchEvent(new Event('input', {bubbles: true}));
    await tick(); await tick();
  };
  systemPrompt.focus();
  await type(systemPrompt, 'Answer in one word.');
  box.focus();  // the system prompt's blur applies it
  await tick();
  await type(box, 'sent with a setting');
  box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 13,
                                                  bubbles: true, cancelable: true}));
}"""


def sent_once(fake: FakeOpenAI, text: str) -> dict[str, Any]:
    """The one request whose newest user message is ``text``."""
    bodies: list[dict[str, Any]] = [
        r.body for r in fake.chat_requests if last_user_text(r.body) == text
    ]
    assert len(bodies) == 1, f"{text!r} reached the model {len(bodies)} times"
    return bodies[0]


def press_enter_once(chat: ChatPage, text: str) -> None:
    chat.input.fill(text)
    chat.input.press("Enter")


def expect_reply(chat: ChatPage, text: str) -> None:
    reply = chat.replies.filter(has_text=f"Echo: {text}").filter(has_text="finish:")
    expect(reply).to_have_count(1)


def test_enter_right_after_a_slider_move_sends_once(chat: ChatPage, fake: FakeOpenAI) -> None:
    thumb = chat.slider("Temperature")
    thumb.focus()
    thumb.press("ArrowRight")  # the settings fragment reruns; nothing waits for it
    press_enter_once(chat, "after the slider")

    expect(chat.user_texts).to_have_text(["after the slider"])
    expect_reply(chat, "after the slider")
    chat.wait_idle()
    body = sent_once(fake, "after the slider")
    assert body["temperature"] == 0.75  # the move made just before counts
    assert len(fake.chat_requests) == 1


def test_enter_while_the_system_prompt_applies_sends_once(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat.textbox("System prompt").fill("Answer in French.")
    # Typing in the message box blurs the system prompt, which applies it in a fragment
    # rerun; Enter follows while that rerun runs.
    press_enter_once(chat, "while it applies")

    expect(chat.user_texts).to_have_text(["while it applies"])
    expect_reply(chat, "while it applies")
    chat.wait_idle()
    body = sent_once(fake, "while it applies")
    assert body["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "while it applies"},
    ]


def test_messages_sent_as_fast_as_the_box_allows_each_arrive_once(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    texts = ["first", "second", "third"]
    for text in texts:
        # fill waits until the box is enabled again: as soon as a person could type.
        press_enter_once(chat, text)
        expect(chat.user_texts.last).to_have_text(text)
    expect_reply(chat, "third")
    chat.wait_idle()

    expect(chat.user_texts).to_have_text(texts)
    for text in texts:
        sent_once(fake, text)
    assert len(fake.chat_requests) == len(texts)


def test_a_message_sent_in_the_same_task_as_a_setting_is_not_lost(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    system_prompt = chat.textbox("System prompt").element_handle()
    box = chat.input.element_handle()
    chat.page.evaluate(SETTING_AND_MESSAGE_IN_ONE_TASK, [system_prompt, box])

    expect(chat.user_texts).to_have_text(["sent with a setting"])
    expect_reply(chat, "sent with a setting")
    chat.wait_idle()
    expect(chat.input).to_be_enabled()
    body = sent_once(fake, "sent with a setting")
    assert body["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "sent with a setting"},
    ]
