"""Attachments: checked files, request content, the context estimate, storage and transfer."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any, cast

import openai
import pytest
import sqlalchemy as sa
from PIL import Image

from chatlab import attachments
from chatlab.attachments import Attachment, AttachmentError, check_file, check_files
from chatlab.chat import turns
from chatlab.chat.export import markdown_document
from chatlab.conversation import Conversation
from chatlab.errors import Kind
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, ChatSettings
from chatlab.provider.server_errors import to_chat_error
from chatlab.storage import InvalidImport, Store
from chatlab.tokens import IMAGE_TOKENS, estimate_prompt_tokens
from testing.fake_openai import FakeOpenAI, Reply

pytest_plugins = ["tests.postgres"]


def image_bytes(kind: str, size: tuple[int, int] = (4, 3)) -> bytes:
    """A real, tiny image in the format Pillow calls ``kind``."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, kind)
    return out.getvalue()


PNG, JPEG, WEBP, GIF = (image_bytes(kind) for kind in ("PNG", "JPEG", "WEBP", "GIF"))
SETTINGS = ChatSettings(model="gpt-4o-mini", system_prompt="Be brief.")
ALICE, BOB = "alice", "bob"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


# -- checking files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("a.png", PNG, "image/png"),
        ("b.JPG", JPEG, "image/jpeg"),
        ("c.jpeg", JPEG, "image/jpeg"),
        ("d.webp", WEBP, "image/webp"),
        ("e.gif", GIF, "image/gif"),
        ("notes.md", "# héllo".encode(), "text/plain"),
        ("main.py", b"print(1)\n", "text/plain"),
    ],
)
def test_images_and_text_files_are_accepted_by_extension_and_content(
    name: str, data: bytes, mime: str
) -> None:
    checked = check_file(name, data)
    assert (checked.name, checked.mime, checked.data) == (name, mime, data)


def test_an_image_whose_bytes_are_not_what_its_name_says_is_refused() -> None:
    with pytest.raises(AttachmentError, match=r"photo\.png is not a PNG image"):
        check_file("photo.png", JPEG)
    with pytest.raises(AttachmentError, match="is not a JPEG image"):
        check_file("fake.jpg", b"<html>not an image</html>")


def test_an_image_cut_short_is_refused() -> None:
    with pytest.raises(AttachmentError, match=r"cut\.png is damaged or not a complete image"):
        check_file("cut.png", PNG[:30])


def test_text_that_is_not_utf8_or_is_binary_is_refused() -> None:
    with pytest.raises(AttachmentError, match=r"notes\.txt is not UTF-8 text"):
        check_file("notes.txt", "café".encode("latin-1"))
    with pytest.raises(AttachmentError, match="binary data"):
        check_file("data.csv", b"a,b\x00c")


def test_an_unsupported_type_is_refused_by_name() -> None:
    with pytest.raises(AttachmentError, match=r"report\.pdf is not a file type"):
        check_file("report.pdf", b"%PDF-1.7")


def test_oversized_files_are_refused_with_the_limit() -> None:
    big_image = PNG + b"\x00" * (attachments.MAX_IMAGE_BYTES + 1 - len(PNG))
    with pytest.raises(
        AttachmentError, match=r"big\.png is 5,000,001 bytes, over 5 MB for an image"
    ):
        check_file("big.png", big_image)
    with pytest.raises(AttachmentError, match="over 1 MB for a text file"):
        check_file("big.txt", b"a" * (attachments.MAX_TEXT_BYTES + 1))
    many_chars = ("é" * (attachments.MAX_TEXT_CHARS + 1)).encode()[: attachments.MAX_TEXT_BYTES]
    with pytest.raises(AttachmentError, match="characters, over 200,000"):
        check_file("wide.txt", many_chars)


def test_every_problem_of_a_batch_is_named_at_once() -> None:
    files = [("a.png", JPEG), ("b.exe", b"MZ"), *[(f"{i}.txt", b"x") for i in range(5)]]
    with pytest.raises(AttachmentError) as caught:
        check_files(files)
    message = caught.value.message
    assert message.startswith("Nothing was sent")
    assert "7 files were attached; at most 5" in message
    assert "a.png is not a PNG image" in message
    assert "b.exe is not a file type" in message
    assert "your text is kept" in caught.value.action


def test_the_total_size_is_limited() -> None:
    image = PNG + b"\x00" * 4_000_000
    with pytest.raises(AttachmentError, match="add up to 12 MB, over 10 MB in all"):
        check_files([("a.png", image), ("b.png", image), ("c.png", image)])


def test_a_file_name_loses_folders_and_control_characters() -> None:
    assert check_file("C:\\Users\\me\\x\x07.txt", b"hi").name == "x.txt"
    assert check_file("../../etc/passwd.txt", b"hi").name == "passwd.txt"


# -- request content --------------------------------------------------------------------------


def _sent(*files: Attachment, text: str = "look") -> list[dict[str, Any]]:
    conversation = Conversation()
    plan = turns.plan_send(conversation, text, SETTINGS, files)
    assert plan is not None
    return plan.request


def test_an_image_becomes_a_data_url_part_after_the_text() -> None:
    request = _sent(check_file("a.png", PNG))
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert request[-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }


def test_a_text_file_is_fenced_under_its_name_in_the_text() -> None:
    request = _sent(check_file("a.png", PNG), check_file("notes.md", b"has ``` inside"))
    text_part = request[-1]["content"][0]
    assert text_part == {
        "type": "text",
        "text": "look\n\nAttached file notes.md:\n````\nhas ``` inside\n````",
    }


def test_text_files_alone_keep_the_content_a_plain_string() -> None:
    request = _sent(check_file("n.txt", b"body"), text="")
    assert request[-1] == {"role": "user", "content": "Attached file n.txt:\n```\nbody\n```"}


def test_files_without_text_can_be_sent_but_nothing_at_all_cannot() -> None:
    assert turns.plan_send(Conversation(), "", SETTINGS, (check_file("a.png", PNG),))
    assert turns.plan_send(Conversation(), "", SETTINGS) is None


def test_an_unanswered_question_with_files_is_left_out_and_roles_alternate() -> None:
    conversation = Conversation()
    first = turns.plan_send(conversation, "", SETTINGS, (check_file("a.png", PNG),))
    assert first is not None
    turns.begin(conversation, first)
    turns.settle(conversation, first, "", finish_reason=None, failed=True, stats=None)
    second = turns.plan_send(conversation, "again", SETTINGS)
    assert second is not None
    assert [m["role"] for m in second.request] == ["system", "user"]
    assert second.request[-1]["content"] == "again"
    assert first.user is not None and second.user is not None
    assert turns.unanswered([*conversation.path(), second.user]) == {first.user.id}


def test_an_edited_question_keeps_its_files() -> None:
    conversation = Conversation()
    plan = turns.plan_send(conversation, "q", SETTINGS, (check_file("a.png", PNG),))
    assert plan is not None and plan.user is not None
    turns.begin(conversation, plan)
    edit = turns.plan_edit(conversation, plan.user.id, "better q", SETTINGS)
    assert edit is not None
    assert edit.request[-1]["content"][1]["type"] == "image_url"


def test_the_context_estimate_counts_text_files_and_images() -> None:
    text = check_file("n.txt", b"word " * 400)
    plain_request = _sent(text=("look"))
    with_text = _sent(text)
    with_image = _sent(check_file("a.png", PNG))
    base = estimate_prompt_tokens(plain_request)
    assert estimate_prompt_tokens(with_text) >= base + 400  # 400 words
    assert estimate_prompt_tokens(with_image) == base + IMAGE_TOKENS


def test_a_stored_request_keeps_a_note_instead_of_the_image_bytes() -> None:
    request = {"model": "m", "messages": _sent(check_file("a.png", PNG))}
    elided = attachments.elide_images(request)
    assert elided is not None
    url = elided["messages"][-1]["content"][1]["image_url"]["url"]
    assert url == f"data:image/png;base64,… ({len(PNG)} bytes, stored with the message)"
    original = request["messages"][-1]["content"][1]["image_url"]["url"]  # type: ignore[index]
    assert original == check_file("a.png", PNG).data_url  # the request sent is untouched


# -- a model without vision ----------------------------------------------------------------


def test_a_model_without_vision_is_named_in_a_clear_error() -> None:
    with FakeOpenAI() as fake:
        fake.dialect.vision = False
        fake.enqueue(Reply(text="never"))
        client = openai.OpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="gpt-3.5-turbo", messages=cast(Any, _sent(check_file("a.png", PNG)))
            )
        assert fake.queued == 1  # refused before a reply was taken
    err = to_chat_error(caught.value, model="gpt-3.5-turbo")
    assert err.kind == Kind.NO_VISION
    assert err.message == "The model 'gpt-3.5-turbo' does not accept images."
    assert "your message is kept" in err.action


def test_a_model_without_vision_still_takes_text_files() -> None:
    with FakeOpenAI() as fake:
        fake.dialect.vision = False
        fake.enqueue(Reply(text="read it"))
        client = openai.OpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
        done = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=cast(Any, _sent(check_file("n.txt", b"hello")))
        )
    assert done.choices[0].message.content == "read it"


# -- storage, export and import --------------------------------------------------------------


def _question(*files: Attachment) -> ChatMessage:
    return ChatMessage("user", "what is this?", attachments=files)


def test_files_are_stored_with_the_message_and_read_back(store: Store) -> None:
    chat = store.create_conversation(ALICE)
    files = (check_file("a.png", PNG), check_file("n.txt", b"notes"))
    store.save_message(ALICE, chat, _question(*files))
    (loaded,) = store.load_messages(ALICE, chat) or []
    assert loaded.attachments == files
    tree = store.load_tree(ALICE, chat)
    assert tree is not None and tree.messages[0].attachments == files


def test_the_same_bytes_are_stored_once_per_owner(store: Store, database_url: str) -> None:
    image = check_file("a.png", PNG)
    mine, theirs = store.create_conversation(ALICE), store.create_conversation(BOB)
    store.save_message(ALICE, mine, _question(image))
    store.save_message(ALICE, mine, _question(check_file("again.png", PNG)))
    store.save_message(BOB, theirs, _question(image))
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        owners = conn.execute(sa.text("SELECT owner FROM attachments ORDER BY owner")).all()
    engine.dispose()
    assert [row.owner for row in owners] == [ALICE, BOB]
    names = [m.attachments[0].name for m in store.load_tree(ALICE, mine).messages]  # type: ignore[union-attr]
    assert names == ["a.png", "again.png"]


def test_deleting_the_last_message_with_a_file_deletes_its_bytes(
    store: Store, database_url: str
) -> None:
    chat = store.create_conversation(ALICE)
    question = _question(check_file("a.png", PNG))
    store.save_message(ALICE, chat, question)
    store.delete_message(ALICE, chat, question.id)
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM attachments")).scalar()
    engine.dispose()
    assert left == 0


def test_export_and_import_carry_the_files(store: Store) -> None:
    chat = store.create_conversation(ALICE)
    files = (check_file("a.png", PNG), check_file("n.txt", b"notes"))
    store.save_message(ALICE, chat, _question(*files))
    exported = store.export_json(ALICE, chat)
    assert exported is not None
    sent = exported["messages"][0]["attachments"]
    assert sent[0] == {"name": "a.png", "mime": "image/png", "data": base64.b64encode(PNG).decode()}
    copy = store.import_json(BOB, json.dumps(exported))
    (loaded,) = store.load_messages(BOB, copy) or []
    assert loaded.attachments == files
    names = f"{plain('a.png')}, {plain('n.txt')}"  # escaped: names come from anyone's disk
    shown = store.load_path(BOB, copy)
    assert shown is not None
    assert f"*(attached: {names})*" in markdown_document(shown.title, shown.messages)


@pytest.mark.parametrize(
    ("attached", "problem"),
    [
        ([{"name": "a.png", "data": "not base64!"}], "is not base64"),
        ([{"name": "a.png", "data": base64.b64encode(JPEG).decode()}], "is not a PNG image"),
        ([{"name": "a.exe", "data": ""}], "is not a file type"),
        ("a.png", "must be a list"),
    ],
)
def test_an_import_with_a_bad_file_changes_nothing(
    store: Store, attached: object, problem: str
) -> None:
    chat = store.create_conversation(ALICE)
    store.save_message(ALICE, chat, _question(check_file("a.png", PNG)))
    exported = store.export_json(ALICE, chat)
    assert exported is not None
    exported["messages"][0]["attachments"] = attached
    before = store.list_conversations(BOB)
    with pytest.raises(InvalidImport, match=problem):
        store.import_json(BOB, exported)
    assert store.list_conversations(BOB) == before
