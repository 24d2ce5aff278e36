"""Hostile text in every place Chat Lab shows text it did not write, judged in Chromium.

Each image or URL form points at a listener of our own on another port: the browser must
send nothing but its requests to the app (``page.on("request")``), and the listener must
hear nothing. The forms come from attacks that worked once (issue 11); keep adding to them.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import FilePayload, expect

from chatlab.model_names import display_name
from components import session
from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage, OpenPage
from tests.e2e.test_compare import ComparePage

pytestmark = pytest.mark.e2e


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it hears."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        heard = self.heard

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                heard.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@contextlib.contextmanager
def listening() -> Iterator[Listener]:
    """A ``Listener``, running until the block ends."""
    found = Listener()
    found.thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        found.thread.join()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening() as found:
        yield found


def image_forms(url: str) -> list[str]:
    """Markdown that draws (or once drew) an image from ``url``, one form each."""
    return [
        f"![plain]({url}/plain.png)",
        f"`` ![after unmatched backticks]({url}/backticks.png) `",
        f"```js`\n![fence info with a backtick]({url}/info.png)\n```",
        f"- ```\n  code\n\n![fence closed by the list end]({url}/list-fence.png)\n```",
        f"![ref]\n\n[ref]: {url}/reference.png",
        f"![a [nested] alt]({url}/nested.png)",
        f"[![image in a link]({url}/in-link.png)]({url}/link)",
        f"| a | b |\n|---|---|\n| ![in a table]({url}/table.png) | x |",
        f"> - ![in a quoted list]({url}/quote-list.png)",
        f'<img src="{url}/html.png"> <picture><source srcset="{url}/srcset.png"></picture>',
        f"<{url}/autolink.png> {url}/bare.png",
        f"[^1]\n\n[^1]: ![in a footnote]({url}/footnote.png)",
        f"**![in emphasis]({url}/emphasis.png)** ~~![struck]({url}/strike.png)~~",
    ]


def literally(text: str) -> re.Pattern[str]:
    """``text`` as shown: ``plain`` may add invisible word joiners to break autolinks."""
    return re.compile("\u2060?".join(map(re.escape, text)))


def is_app_url(url: str, app: AppProcess) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "ws"} and parts.netloc == f"127.0.0.1:{app.port}"


def assert_nothing_fetched(chat: ChatPage, listener: Listener) -> None:
    """No request left for any host but the app, and the listener heard nothing."""
    chat.wait_idle()
    assert [url for url in chat.traffic.urls if not is_app_url(url, chat.app)] == []
    assert listener.heard == []


def finished_replies(chat: ChatPage, count: int) -> None:
    """Wait until the page is drawn whole after a reply (components/chat/live.py) with
    ``count`` replies on screen, the last one finished."""
    expect(chat.replies).to_have_count(count)
    expect(chat.replies.last).to_contain_text("finish:")
    chat.wait_idle()


def test_replies_and_messages_fetch_nothing(
    chat: ChatPage, fake: FakeOpenAI, listener: Listener
) -> None:
    forms = image_forms(listener.url)
    for count, form in enumerate(forms, start=1):
        fake.enqueue(Reply(text=form))
        chat.send(form)  # the user's message is drawn the same way
        # The page drawn whole after the reply shows the last HISTORY_FIRST messages.
        finished_replies(chat, min(count, session.HISTORY_FIRST // 2))
    expect(chat.main.locator("img")).to_have_count(0)
    assert_nothing_fetched(chat, listener)

    chat.page.reload()  # drawn again from storage, as on every later visit
    chat.page.get_by_role("button", name="Show earlier messages").click()  # all of them
    finished_replies(chat, len(forms))
    expect(chat.main.locator("img")).to_have_count(0)
    assert_nothing_fetched(chat, listener)


def test_long_and_dense_replies_are_drawn_as_plain_text(
    chat: ChatPage, fake: FakeOpenAI, listener: Listener
) -> None:
    dense = "*a* " * 5_000 + f"![dense]({listener.url}/dense.png)"
    fake.enqueue(Reply(text=dense))
    chat.send("Something dense, please.")
    finished_replies(chat, 1)
    reply = chat.replies.last
    expect(reply).to_contain_text("Shown as plain text")
    expect(reply.locator("em")).to_have_count(0)  # no Markdown was drawn
    expect(reply.get_by_test_id("stCode")).to_contain_text(f"![dense]({listener.url}/dense.png)")
    assert_nothing_fetched(chat, listener)


def test_server_errors_and_model_names_are_shown_as_text(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, listener: Listener
) -> None:
    forms = image_forms(listener.url)
    model = f"![model]({listener.url}/model.png)"
    fake.models = [model, *forms[1:3]]
    chat = open_page(app)
    expect(chat.sidebar).to_contain_text(literally(f"not offered by this server; using {model}"))

    fake.enqueue(Reply(status=500, error={"message": "# Down\n\n" + "\n\n".join(forms)}))
    chat.send("Hello")
    expect(chat.error).to_be_visible()
    expect(chat.main).to_contain_text("· # Down")  # the text itself, no heading
    # No heading, no image. (A bare URL may show as a link: links are never fetched, and
    # a URL in an error message must copy out exactly as shown.)
    expect(chat.main.locator("h1, h2, img")).to_have_count(0)
    chat.wait_idle()

    fake.enqueue(Reply(text="fine", model=model, finish_reason=f"![finish]({listener.url}/f.png)"))
    chat.send("Again")
    expect(chat.replies.last).to_contain_text(literally(f"finish: ![finish]({listener.url}/f.png)"))
    # A model id with a path in it shows its last segment, as the picker does (llama.cpp).
    expect(chat.replies.last).to_contain_text(literally(f"{display_name(model)} · "))
    assert_nothing_fetched(chat, listener)


def test_a_failed_model_listing_is_shown_as_text(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, listener: Listener
) -> None:
    message = f"**Bad** ![listing]({listener.url}/listing.png) <img src={listener.url}/l.png>"
    fake.models_reply = Reply(status=500, error={"message": message})
    chat = open_page(app)
    expect(chat.sidebar).to_contain_text("Could not list models")
    expect(chat.sidebar.locator("img, strong")).to_have_count(0)
    assert_nothing_fetched(chat, listener)


def imported(title: str, text: str, url: str) -> bytes:
    """A Chat Lab export whose every free-text field is hostile."""
    stats = {
        "model": f"![stats]({url}/stats.png)",
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "estimated": False},
        "finish_reason": "stop",
        "time_to_first_token": 0.1,
        "total_time": 0.5,
        "cost_usd": None,
    }
    settings = {"model": "m", "temperature": 0.7, "max_tokens": 10, "system_prompt": ""}
    reply = {
        "id": "a1",
        "parent_id": "u1",
        "role": "assistant",
        "content": text,
        "status": "complete",
        "settings": settings,
        "stats": stats,
        "notices": [f"![notice]({url}/notice.png)"],
    }
    user = {"id": "u1", "parent_id": None, "role": "user", "content": text}
    document = {"format": "chatlab.conversation", "version": 1, "title": title}
    return json.dumps({**document, "messages": [user, reply]}).encode()


def test_imported_titles_and_messages_fetch_nothing(chat: ChatPage, listener: Listener) -> None:
    forms = image_forms(listener.url)
    for number, form in enumerate(forms):
        uploader = chat.open_import()
        text = f"imported {number}\n\n{form}"
        upload: FilePayload = {
            "name": f"hostile-{number}.json",
            "mimeType": "application/json",
            "buffer": imported(form, text, listener.url),
        }
        uploader.set_input_files(files=[upload])
        expect(chat.main).to_contain_text(f"imported {number}")
        chat.wait_idle()
    expect(chat.page.locator("img")).to_have_count(0)
    assert_nothing_fetched(chat, listener)

    chat.page.reload()  # every title in the list, drawn on a fresh load
    expect(chat.button("New chat")).to_be_visible()
    assert_nothing_fetched(chat, listener)


def test_compare_run_titles_fetch_nothing(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, listener: Listener
) -> None:
    forms = image_forms(listener.url)
    prompt = " ".join([forms[0], f'<img src="{listener.url}/title.png">', ":material/bolt:"])
    compare = ComparePage.opened(open_page, app)
    chat = compare.chat
    compare.fill(compare.field("Prompt"), prompt)
    compare.fill(compare.number("Samples per setting"), "1")
    compare.page.get_by_role("button", name="Run", exact=True).click()
    for index in range(3):
        expect(compare.card(index)).to_contain_text("finish: stop")
    chat.wait_idle()

    compare.open()  # a later visit: the stored run is listed by its title
    # Other tests' runs may be listed too (one app serves the suite): find this one's.
    listed = chat.sidebar.locator("[class*='st-key-compare_open_']")
    stored = listed.filter(has_text=f"{listener.url}/plain.png")
    expect(stored).to_have_count(1)
    expect(stored).to_contain_text(literally(f"![plain]({listener.url}/plain.png) <img"))
    expect(stored.locator("img, [data-testid='stIconMaterial']")).to_have_count(0)
    assert_nothing_fetched(chat, listener)
