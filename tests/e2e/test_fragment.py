"""Moving a slider reruns only the sidebar's settings fragment, and sending a message only
the chat's live fragment: neither redraws the conversation before the reply's first word.
Once the reply has ended the page is drawn whole: the sidebar's budget counts it, the
conversation list puts it on top."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e

WATCH_MAIN = """() => {
  window.__mainMutations = 0;
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  new MutationObserver((records) => { window.__mainMutations += records.length; })
    .observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def test_slider_move_leaves_the_conversation_untouched(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat.chat("hello", "Echo: hello")
    chat.chat("again", "Echo: again")
    chat.page.evaluate(WATCH_MAIN)
    chat.set_slider("Temperature", "ArrowRight", shows="0.75")
    chat.set_slider("Max tokens", "ArrowLeft", shows="1023")
    assert chat.page.evaluate("window.__mainMutations") == 0
    chat.chat("third", "Echo: third")
    body = fake.last_chat_body
    assert body is not None and (body["temperature"], body["max_tokens"]) == (0.75, 1023)


WATCH_HISTORY = """([first]) => {
  const history = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const seen = {touched: 0, first: false, messages: history.length};
  window.__history = seen;
  const inHistory = (node) => history.some((message) => message === node || message.contains(node));
  const shows = (node) => (node.textContent || "").includes(first);
  new MutationObserver((records) => {
    for (const record of records) {  // in order, up to the one that shows the first word
      if (seen.first) return;
      if (shows(record.target) || [...record.addedNodes].some(shows)) {
        seen.first = true;
        return;
      }
      const removed = [...record.removedNodes].some(
        (node) => history.some((message) => node === message || node.contains(message)));
      if (removed || inHistory(record.target)) seen.touched += 1;
    }
  }).observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def test_a_sent_message_leaves_the_history_untouched_until_its_first_word(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    """The chat box sends from the live fragment (components/chat/live.py): the browser
    redraws none of the history before the reply's first word, however long it is."""
    for text in ("one", "two", "three"):
        chat.chat(text, f"Echo: {text}")
    words = ["Firstword ", "of ", "the ", "fourth ", "reply."]
    fake.enqueue(Reply(chunks=words, first_token_delay=0.5, chunk_delay=0.2))
    chat.page.evaluate(WATCH_HISTORY, ["Firstword"])
    chat.send("four")
    expect(chat.replies.last).to_contain_text("Firstword of the fourth reply.")
    chat.wait_idle()
    seen = chat.page.evaluate("window.__history")
    assert seen["first"] and seen["messages"] == 6
    assert seen["touched"] == 0, f"{seen['touched']} changes to the history before the first word"
    expect(chat.user_texts).to_have_text(["one", "two", "three", "four"])
    expect(chat.replies).to_have_count(4)


BUDGET = re.compile(r"Context: ≈ ([\d,]+) \+ ([\d,]+) reply")


def budget(chat: ChatPage) -> tuple[int, int]:
    """The sidebar's context budget: tokens so far, and the reply's allowance."""
    shown = chat.sidebar.get_by_text("Context:")
    expect(shown).to_have_count(1)
    found = BUDGET.search(shown.inner_text())
    assert found is not None, shown.inner_text()
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


def test_the_sidebar_budget_counts_each_reply_and_the_allowance_set(chat: ChatPage) -> None:
    chat.chat("one", "Echo: one")
    so_far, allowance = budget(chat)
    assert so_far > 0
    chat.chat("two", "Echo: two")
    assert budget(chat)[0] > so_far  # the second question and its reply counted
    chat.set_slider("Max tokens", "ArrowLeft", shows=str(allowance - 1))
    expect(chat.sidebar.get_by_text("Context:")).to_contain_text(f"+ {allowance - 1:,} reply")


def test_a_reply_in_a_conversation_below_the_top_moves_it_up(chat: ChatPage) -> None:
    titles = chat.sidebar.locator("[class*='st-key-open-']")  # the list, newest first
    chat.chat("older", "Echo: older")
    chat.button("New chat").click()
    expect(chat.messages).to_have_count(0)  # the new chat's page is drawn
    chat.wait_idle()
    chat.chat("newer", "Echo: newer")
    # Newest first (conversations of earlier tests on this app below them).
    expect(titles.nth(0)).to_have_text("newer")
    expect(titles.nth(1)).to_have_text("older")
    titles.get_by_role("button", name="older", exact=True).click()
    expect(chat.user_texts).to_have_text(["older"])
    chat.wait_idle()
    chat.chat("again", "Echo: again")  # the list is drawn again: "older" is the newest now
    expect(titles.nth(0)).to_have_text("older")
    expect(titles.nth(1)).to_have_text("newer")
