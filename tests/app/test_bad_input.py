"""What users paste: no crash, a clear answer, nothing lost.

Each test sends odd input through the real page and checks three places: what the page
shows, what reached the (echoing) fake server, and the conversation kept in the session.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.messages import ChatMessage, Role
from components.chat.prompt import MAX_MESSAGE_CHARS
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import kept, plant

LIMIT = MAX_MESSAGE_CHARS
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input[0].set_value(text).run()


def bubbles(at: AppTest) -> list[tuple[str, str]]:
    """(role, text) of every chat message on the page: its Markdown, or its plain-text blocks."""
    return [
        (m.name, "".join(md.value for md in m.markdown) or "\n\n".join(c.value for c in m.code))
        for m in at.chat_message
    ]


def assert_calm(at: AppTest, *, saved: bool = True) -> None:
    """No exception, no error box and (when ``saved``) no failed save."""
    assert not at.exception
    assert not at.error
    if saved:
        assert not [t.value for t in at.toast if "Could not save" in t.value]


# -- nothing to send ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "blank", ["", " ", "   \n\t  \n", "\u3000\u00a0", "\u200b", " \ufeff\u200d "], ids=repr
)
def test_blank_message_sends_nothing_and_draws_no_bubble(
    app: AppTest, fake: FakeOpenAI, blank: str
) -> None:
    send(app, blank)
    assert_calm(app)
    assert fake.chat_requests == []
    assert bubbles(app) == [] and kept(app) == []
    assert len(app.chat_input) == 1  # the user can type again


def test_blank_message_after_a_turn_keeps_the_conversation(app: AppTest, fake: FakeOpenAI) -> None:
    send(app, "hello")
    send(app, "  \n ")
    assert_calm(app)
    assert len(fake.chat_requests) == 1
    assert kept(app) == [("user", "hello"), ("assistant", "Echo: hello")]
    assert bubbles(app) == kept(app)


# -- the length limit -----------------------------------------------------------------------


def long_text(length: int) -> str:
    """Distinct numbered lines, so a lost or repeated piece would show.

    It ends in a full stop: ``st.markdown`` strips the body's outer whitespace.
    """
    lines = "".join(f"line {i:06d} of a long paste\n" for i in range(length // 27 + 1))
    return lines[: length - 1] + "."


def test_chat_input_sets_no_browser_limit_that_would_empty_a_long_paste(app: AppTest) -> None:
    # With max_chars the browser silently empties the box on a paste over the limit;
    # the limit is checked by the page instead, where the user can be told.
    assert app.chat_input[0].proto.max_chars == 0


def test_message_at_the_limit_is_sent_and_drawn_whole(app: AppTest, fake: FakeOpenAI) -> None:
    text = long_text(LIMIT)
    fake.enqueue(Reply(text="Got it."))
    send(app, text)
    assert_calm(app)
    assert fake.last_chat_body["messages"][-1] == {"role": "user", "content": text}  # type: ignore[index]
    assert kept(app) == [("user", text), ("assistant", "Got it.")]
    assert bubbles(app)[0] == ("user", text)


def test_text_over_the_limit_is_refused_with_the_limit_and_kept_to_copy(
    app: AppTest, fake: FakeOpenAI
) -> None:
    text = long_text(LIMIT + 500)
    send(app, text)
    assert not app.exception
    assert fake.chat_requests == []
    assert kept(app) == []
    (error,) = app.error
    assert f"{LIMIT + 500:,}" in error.value and f"{LIMIT:,}" in error.value
    assert "Nothing was sent" in error.value
    assert [c.value for c in app.code] == [text[:LIMIT]]


# -- characters that are easy to mangle -------------------------------------------------------

UNUSUAL = {
    "emoji": "Hi 👋🏽 family 👨‍👩‍👧‍👦 flag 🇰🇷 keycap 1️⃣",
    "korean": "안녕하세요, 세계! 한국어 입력 테스트",
    "arabic-rtl": "مرحبا بالعالم، abc 123 \u200fنص\u200e",
    "zero-width": "zero\u200bwidth\u200djoiner\ufeffbom",
    "nul": "before\x00after",
    "ansi-escape": "\x1b[31mred\x1b[0m plain",
    "carriage-return": "over\rwritten and crlf\r\nline",
}


@pytest.mark.parametrize("text", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_unusual_characters_are_sent_and_echoed_intact(
    app: AppTest, fake: FakeOpenAI, text: str
) -> None:
    send(app, text)
    assert_calm(app)
    request = fake.chat_requests[-1]
    assert request.body["messages"] == [SYSTEM, {"role": "user", "content": text}]
    escaped = (json.dumps(text, ensure_ascii=flag)[1:-1].encode() for flag in (False, True))
    assert any(form in request.raw for form in escaped)  # byte for byte on the wire
    assert kept(app) == [("user", text), ("assistant", f"Echo: {text}")]
    (user, _), (assistant, reply) = bubbles(app)
    assert app.chat_message[0].markdown[0].value == text
    assert (user, assistant) == ("user", "assistant") and text.strip() in reply


# -- Markdown and HTML in what the user types -------------------------------------------------

INJECTIONS = {
    "script": "<script>alert('x')</script>",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "bold": "**bold** and _emphasis_",
    "js-link": "[click me](javascript:alert(1))",
}


@pytest.mark.parametrize("text", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_markup_in_user_text_is_shown_as_markdown_without_html(
    app: AppTest, fake: FakeOpenAI, text: str
) -> None:
    send(app, text)
    assert_calm(app)
    assert fake.last_chat_body["messages"][-1]["content"] == text  # type: ignore[index]
    assert bubbles(app)[0] == ("user", text)
    assert kept(app)[1] == ("assistant", f"Echo: {text}")
    assert all(not md.proto.allow_html for md in [*app.markdown, *app.caption])
    assert len(app.html) == 0


def test_image_in_user_text_becomes_a_link(app: AppTest, fake: FakeOpenAI) -> None:
    text = "look ![tracker](http://203.0.113.5/p.png) here"
    send(app, text)
    assert_calm(app)
    assert fake.last_chat_body["messages"][-1]["content"] == text  # type: ignore[index]
    assert kept(app)[0] == ("user", text)  # the user's words are kept as typed
    drawn = [md.value for md in app.markdown]
    assert not any("![" in body for body in drawn)
    assert "look [🖼 tracker](http://203.0.113.5/p.png) here" in drawn


# -- a lone code fence ---------------------------------------------------------------------


@pytest.mark.parametrize("fence", ["```", "```python\n", "~~~"], ids=repr)
def test_lone_code_fence_does_not_swallow_later_messages(
    app: AppTest, fake: FakeOpenAI, fence: str
) -> None:
    send(app, fence)
    send(app, "after the fence")
    assert_calm(app)
    assert [m["content"] for m in fake.chat_requests[0].body["messages"]][1:] == [fence]
    assert kept(app) == [
        ("user", fence),
        ("assistant", f"Echo: {fence}"),
        ("user", "after the fence"),
        ("assistant", "Echo: after the fence"),
    ]
    assert bubbles(app)[2:] == [("user", "after the fence"), ("assistant", "Echo: after the fence")]


# -- a very long conversation --------------------------------------------------------------


def test_three_thousand_messages_are_all_sent_but_only_twenty_drawn(
    app: AppTest, fake: FakeOpenAI
) -> None:
    roles: list[Role] = ["user", "assistant"]
    plant(app, [ChatMessage(roles[i % 2], f"message {i}") for i in range(3000)])
    app.run()
    assert_calm(app)
    assert len(app.chat_message) == 20
    assert [b.label for b in app.button if "earlier" in b.label] == [
        "Show earlier messages (2980 hidden)"
    ]

    send(app, "message 3000")
    # The planted history was never stored, so the store rightly refuses to save a
    # message that answers it ("Could not save" notice); only the page is checked here.
    assert_calm(app, saved=False)
    sent = fake.last_chat_body["messages"]  # type: ignore[index]
    assert sent[0] == SYSTEM
    assert sent[1:] == [{"role": roles[i % 2], "content": f"message {i}"} for i in range(3001)]
    # 20 from the history, the reply streamed under them
    assert len(app.chat_message) == 21
    assert bubbles(app)[-2:] == [("user", "message 3000"), ("assistant", "Echo: message 3000")]

    app.run()
    assert_calm(app, saved=False)
    assert len(app.chat_message) == 20
    assert len(kept(app)) == 3002
    assert [b.label for b in app.button if "earlier" in b.label] == [
        "Show earlier messages (2982 hidden)"
    ]
