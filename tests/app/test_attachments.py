"""Attachments in the chat page: sent in the right form, refused clearly, kept on reload."""

from __future__ import annotations

import base64
import io

import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from chatlab import attachments
from chatlab.markdown import plain
from components.chat.prompt import PLACEHOLDER
from testing.fake_openai import NO_VISION_ERROR, FakeOpenAI, Reply
from tests.app.conftest import AppFactory, kept, shown


def png_bytes() -> bytes:
    """A real, tiny PNG image."""
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


PNG = png_bytes()


def send_files(at: AppTest, text: str, *files: tuple[str, bytes]) -> AppTest:
    """Type ``text``, attach ``files`` to the chat box and send them together."""
    box = at.chat_input[0]
    for name, data in files:
        box.upload(name, data)
    return box.set_value(text).run()


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def user_content(fake: FakeOpenAI) -> object:
    body = fake.last_chat_body
    assert body is not None
    return body["messages"][-1]["content"]


def test_the_limits_are_stated_in_the_chat_box(app: AppTest) -> None:
    assert app.chat_input[0].placeholder == PLACEHOLDER
    assert "up to 5 images or text files" in PLACEHOLDER
    assert "5 MB per image" in PLACEHOLDER and "10 MB in all" in PLACEHOLDER


def test_an_image_and_a_text_file_reach_the_server_as_content_parts(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="A tiny picture."))
    send_files(app, "What is this?", ("dot.png", PNG), ("notes.md", b"# Notes"))
    assert user_content(fake) == [
        {"type": "text", "text": "What is this?\n\nAttached file notes.md:\n```\n# Notes\n```"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ]
    assert shown(app)[-1] == ("assistant", "A tiny picture.")
    assert len(app.image) == 1  # the thumbnail, drawn from the bytes we hold
    assert f":material/attach_file: {plain('dot.png')} · {plain('notes.md')}" in captions(app)


def test_files_come_back_after_a_reload(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="Seen."))
    send_files(at, "Look", ("dot.png", PNG))
    conversation = at.query_params["c"]
    st.cache_resource.clear()  # and a restart: a fresh store
    again = make_app()
    again.query_params["c"] = conversation
    again.run()
    assert shown(again)[0] == ("user", "Look")
    assert len(again.image) == 1
    assert f":material/attach_file: {plain('dot.png')}" in captions(again)
    fake.enqueue(Reply(text="Still seen."))
    again.chat_input[0].set_value("And now?").run()
    body = fake.last_chat_body
    assert body is not None
    first_question = body["messages"][1]["content"]
    assert first_question[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


def test_an_unreadable_text_file_is_refused_and_the_text_kept(
    app: AppTest, fake: FakeOpenAI
) -> None:
    # Types the box does not offer never arrive (Streamlit refuses them by extension);
    # a file of an offered type can still be unreadable.
    send_files(app, "Please read my notes", ("notes.csv", "café;1".encode("latin-1")))
    assert fake.chat_requests == []
    (error,) = app.error
    assert "Nothing was sent" in error.value
    assert f"{plain('notes.csv')} is not UTF\\-8 text" in error.value
    assert app.code[0].value == "Please read my notes"
    assert kept(app) == []


def test_an_image_that_is_not_what_its_name_says_is_refused(app: AppTest, fake: FakeOpenAI) -> None:
    send_files(app, "hi", ("cat.png", b"GIF89a not a png"))
    assert fake.chat_requests == []
    assert "is not a PNG image" in app.error[0].value
    assert app.code[0].value == "hi"


def test_an_oversized_file_is_refused_with_the_limit(app: AppTest, fake: FakeOpenAI) -> None:
    big = b"a" * (attachments.MAX_TEXT_BYTES + 1)
    send_files(app, "summarise", ("log.txt", big))
    assert fake.chat_requests == []
    assert "over 1 MB for a text file" in app.error[0].value
    assert app.code[0].value == "summarise"


def test_a_model_without_vision_is_named_and_the_message_stays(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.dialect.vision = False
    send_files(app, "Describe it", ("dot.png", PNG))
    model = app.session_state["model"]
    messages = [e.value for e in app.error]
    assert any("does not accept images" in m and plain(model) in m for m in messages), messages
    assert NO_VISION_ERROR not in " ".join(messages)  # our words, not the server's
    assert kept(app) == [("user", "Describe it")]
    assert len(app.image) == 1
