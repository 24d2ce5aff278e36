"""Moving a slider reruns only the sidebar's settings fragment, not the conversation."""

from __future__ import annotations

import pytest

from testing.fake_openai import FakeOpenAI
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
