"""What must not happen in the browser: keys leaking, model output running code or
fetching things, and one session seeing another's."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Recorded, Reply, last_user_text
from tests.e2e.conftest import ENV_KEY, ChatPage, OpenPage

pytestmark = pytest.mark.e2e

UNAUTHORIZED = Reply(
    status=401,
    error={"message": "Incorrect API key provided.", "code": "invalid_api_key"},
)


def typed_key(owner: str) -> str:
    return f"sk-e2e-{owner}-{secrets.token_hex(12)}"


def assert_key_kept_secret(chat: ChatPage, fake: FakeOpenAI, key: str) -> None:
    """``key`` is nowhere the browser or the log can see it, and reached the model server
    only as an Authorization header."""
    assert key not in chat.page.content()
    assert key not in chat.page.url
    assert not [url for url in chat.traffic.urls if key in url]
    assert not [f for f in chat.traffic.frames_received if key.encode() in f], "sent to page"
    assert key not in chat.app.log()
    for request in fake.requests:
        assert key.encode() not in request.raw, f"key in the body of {request.path}"
        assert key not in request.path + request.query
        for name, value in request.headers.items():
            assert key not in value or name == "authorization", f"key in header {name}"


def authorizations(requests: list[Recorded]) -> set[str | None]:
    return {r.headers.get("authorization") for r in requests}


def chat_then_rejected(chat: ChatPage, fake: FakeOpenAI) -> None:
    """One good turn, then one the server rejects with 401: the key is on screen twice over."""
    chat.chat("Hello", "Echo: Hello")
    fake.enqueue(UNAUTHORIZED)
    chat.send("Hello again")
    expect(chat.error).to_contain_text("The API key was not accepted.")
    chat.wait_idle()


def test_server_key_stays_on_the_server(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat_then_rejected(chat, fake)

    assert len(fake.chat_requests) == 2
    assert authorizations(fake.chat_requests) == {f"Bearer {ENV_KEY}"}
    assert_key_kept_secret(chat, fake, ENV_KEY)


def test_typed_key_is_used_by_its_session_and_never_sent_back(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    key = typed_key("typed")
    chat.type_key(key)
    expect(chat.textbox("OpenAI API key")).to_have_count(0)  # the field made way for a note
    chat_then_rejected(chat, fake)

    assert len(fake.chat_requests) == 2
    assert authorizations(fake.chat_requests) == {f"Bearer {key}"}
    assert_key_kept_secret(chat, fake, key)
    assert_key_kept_secret(chat, fake, ENV_KEY)

    chat.button("Forget key").click()
    expect(chat.textbox("OpenAI API key")).to_be_visible()
    chat.chat("And now?", "Echo: And now?")
    assert fake.chat_requests[-1].headers.get("authorization") == f"Bearer {ENV_KEY}"
    assert_key_kept_secret(chat, fake, key)


def test_server_key_is_not_sent_to_a_base_url_typed_in_the_browser(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    with FakeOpenAI() as elsewhere:
        chat.set_base_url(elsewhere.base_url)
        chat.send("Hello")
        expect(chat.user_texts).to_have_text(["Hello"])
        expect(chat.replies.or_(chat.error).first).to_be_visible()
        chat.wait_idle()
        leaked = [r.path for r in elsewhere.requests if ENV_KEY in str(r.headers)]
    assert leaked == []


UNSAFE_REPLY = """Before <script>window.__pwned=1</script> after.

<img src=x onerror="window.__pwned=1">

[click](javascript:window.__pwned=1)

![cat](http://203.0.113.5/cat.png)
"""


def test_model_output_runs_no_code_and_fetches_nothing(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text=UNSAFE_REPLY))
    chat.chat("Say something nasty.", "Before")
    reply = chat.replies.last

    expect(reply.locator("script, iframe, object, embed")).to_have_count(0)
    expect(reply.locator("img")).to_have_count(0)  # the Markdown image became a link
    image_link = reply.get_by_role("link", name="cat")
    expect(image_link).to_have_attribute("href", "http://203.0.113.5/cat.png")
    javascript_link = reply.get_by_role("link", name="click", exact=True)
    expect(javascript_link).not_to_have_attribute("href", re.compile(r"^\s*javascript:", re.I))
    javascript_link.click()
    chat.wait_idle()
    assert chat.page.evaluate("typeof window.__pwned") == "undefined"
    assert len(chat.page.context.pages) == 1  # nothing opened a window either
    elsewhere = [url for url in chat.traffic.urls if not is_app_url(url, chat.app)]
    assert elsewhere == []


def is_app_url(url: str, app: AppProcess) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "ws"} and parts.netloc == f"127.0.0.1:{app.port}"


def test_two_sessions_at_once_share_nothing(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI
) -> None:
    alice, bob = open_page(app), open_page(app, own_context=True)  # two people
    alice_key, bob_key = typed_key("alice"), typed_key("bob")
    alice.type_key(alice_key)
    bob.type_key(bob_key)
    alice.set_slider("Temperature", "Home", shows="0.00")
    expect(bob.slider_value("Temperature")).to_have_text("0.70")
    # Echoes stream for a couple of seconds, so the two replies are written at the same time.
    fake.default_reply = Reply(chunk_delay=0.15)
    alice_says = "Alice asks about apples, apricots, avocados and almonds, please."
    bob_says = "Bob asks about bananas, blueberries, blackberries and beans, please."
    alice.send(alice_says)
    bob.send(bob_says)
    for chat, says in ((alice, alice_says), (bob, bob_says)):
        expect(chat.replies.last).to_contain_text(f"Echo: {says}")
        expect(chat.replies.last).to_contain_text("finish: stop")
        chat.wait_idle()

    expect(alice.user_texts).to_have_text([alice_says])
    expect(bob.user_texts).to_have_text([bob_says])
    expect(alice.main).not_to_contain_text("Bob")
    expect(bob.main).not_to_contain_text("Alice")
    expect(bob.slider_value("Temperature")).to_have_text("0.70")
    for chat, other_key in ((alice, bob_key), (bob, alice_key)):
        assert other_key not in chat.page.content()
        assert not [f for f in chat.traffic.frames_received if other_key.encode() in f]

    asked = {last_user_text(r.body): r for r in fake.chat_requests}
    assert set(asked) == {alice_says, bob_says}
    by_alice, by_bob = asked[alice_says], asked[bob_says]
    assert by_alice.headers["authorization"] == f"Bearer {alice_key}"
    assert by_bob.headers["authorization"] == f"Bearer {bob_key}"
    assert (by_alice.body["temperature"], by_bob.body["temperature"]) == (0, 0.7)
    assert [m["content"] for m in by_alice.body["messages"][1:]] == [alice_says]
    assert [m["content"] for m in by_bob.body["messages"][1:]] == [bob_says]
    # Both replies were being written at once: each began before the other's last chunk.
    assert by_alice.at < by_bob.sent[-1][0] and by_bob.at < by_alice.sent[-1][0]
