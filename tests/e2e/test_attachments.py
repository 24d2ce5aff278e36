"""Attachments in a real browser: files picked in the chat box reach the model in the
OpenAI wire format, and come back after a reload."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def png_bytes() -> bytes:
    """A real, small PNG image."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


PNG = png_bytes()


def attach(chat: ChatPage, *files: FilePayload) -> None:
    """Pick files with the chat box's own file input, as its attach button does."""
    picker = chat.page.get_by_test_id("stChatInput").locator("input[type=file]")
    picker.set_input_files(list(files))
    for file in files:
        expect(chat.page.get_by_test_id("stChatInput")).to_contain_text(file["name"])
    # The box refuses to send while a file is still uploading; with files, it may send
    # as soon as they are all up.
    expect(chat.page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()


def test_attached_files_reach_the_model_and_survive_a_reload(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="A blue rectangle, and your notes."))
    attach(
        chat,
        {"name": "blue.png", "mimeType": "image/png", "buffer": PNG},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"remember the milk"},
    )
    chat.chat("What is in these?", "A blue rectangle")

    body = fake.last_chat_body
    assert body is not None
    assert body["messages"][-1]["content"] == [
        {
            "type": "text",
            "text": "What is in these?\n\nAttached file notes.txt:\n```\nremember the milk\n```",
        },
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ]
    question = chat.user_messages.last
    expect(question.get_by_test_id("stImage")).to_have_count(1)
    expect(question).to_contain_text("blue.png · notes.txt")

    chat.page.reload()  # drawn again from storage
    question = chat.user_messages.last
    expect(question.get_by_test_id("stImage")).to_have_count(1)
    expect(question).to_contain_text("blue.png · notes.txt")
    expect(chat.user_texts).to_have_text(["What is in these?"])
    chat.assert_no_exception()


def test_an_unreadable_file_is_refused_and_the_text_is_kept(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    attach(chat, {"name": "photo.png", "mimeType": "image/png", "buffer": b"GIF89a, really"})
    chat.send("Describe the photo")
    expect(chat.error).to_contain_text("photo.png is not a PNG image")
    expect(chat.main.get_by_test_id("stCode")).to_contain_text("Describe the photo")
    chat.wait_idle()
    assert fake.chat_requests == []
    expect(chat.user_messages).to_have_count(0)
