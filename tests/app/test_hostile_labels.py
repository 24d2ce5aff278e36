"""Every label, caption and title built from text Chat Lab did not write is escaped.

Hostile text goes into every source of such text a page draws (a conversation's title, a
compare run's prompt, a preset's name, the server's model ids, the OIDC ``name`` claim),
then every page is drawn and every field the browser renders as Markdown (labels, bodies,
help, placeholders, radio options) is walked in the element tree: none may hold the
hostile Markdown as written. The browser-level check (nothing fetched) is
tests/e2e/test_hostile_text.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from google.protobuf.message import Message  # type: ignore[import-untyped]
from streamlit.testing.v1 import AppTest

from chatlab.arena import (
    Answer,
    Contestant,
    Turn,
    Verdict,
    Vote,
    new_session,
    session_json,
    vote_json,
    with_answer,
    with_prompt,
)
from chatlab.grid import Grid, new_run
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Status, Usage
from chatlab.presets import from_settings
from components.session import PageState
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, held, signed_in

SINK = "http://127.0.0.1:9"
HOSTILE = f"![HOSTILE]({SINK}/i.png) <img src={SINK}> :material/bolt: $x^2$ **HOSTILE**"
# What Markdown would act on, as written: an image, HTML, an icon, LaTeX, emphasis.
RAW = ("![HOSTILE]", f"]({SINK}", "<img", ":material/bolt:", "$x^2$", "**HOSTILE**")
ESCAPED = re.compile(r"\\.", re.DOTALL)  # a backslash escape: Markdown shows the character
MARKDOWN_FIELDS = {"label", "body", "help", "placeholder", "caption", "captions"}
MARKDOWN_OPTIONS = {"radio", "button_group"}  # widgets whose options are Markdown too


def markdown_texts(message: Message, kind: str = "") -> Iterator[tuple[str, str]]:
    """(field, text) of every field of ``message`` (nested too) drawn as Markdown."""
    for field, value in message.ListFields():
        values = list(value) if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from markdown_texts(item, kind)
            elif isinstance(item, str) and (
                field.name in MARKDOWN_FIELDS
                or (field.name == "options" and kind in MARKDOWN_OPTIONS)
            ):
                yield f"{kind}.{field.name}", item


def page_texts(at: AppTest) -> list[tuple[str, str]]:
    """(field, text) of every Markdown field on the page: main, sidebar, toasts."""
    found: list[tuple[str, str]] = []
    stack: list[object] = [at._tree]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", {}).values())
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            found += markdown_texts(proto, str(getattr(node, "type", "")))
    return found


def unescaped(at: AppTest) -> list[tuple[str, str]]:
    """Markdown fields on the page that hold hostile Markdown as written."""
    return [
        (field, text)
        for field, text in page_texts(at)
        if any(raw in ESCAPED.sub("", text) for raw in RAW)
    ]


def seeded(make_app: AppFactory, fake: FakeOpenAI) -> AppTest:
    """Sign-in on, the user's name hostile, and hostile text in every stored source."""
    fake.models = [HOSTILE, "gpt-4o-mini"]
    at = signed_in(make_app, "alice")
    at.user = {**at.user, "name": HOSTILE}  # the OIDC claim shown as "Signed in as"
    at.run()
    page = held(at, PageState)
    store, owner = page.store, page.owner
    assert store is not None
    settings = ChatSettings(model=HOSTILE)
    conversation_id = store.create_conversation(owner, HOSTILE)
    question = ChatMessage("user", HOSTILE)
    stats = ReplyStats(HOSTILE, Usage(1, 2), HOSTILE, 0.1, 0.5, None)
    reply = ChatMessage(
        "assistant", HOSTILE, parent_id=question.id, settings=settings, stats=stats,
        notices=(HOSTILE,),
    )  # fmt: skip
    for message in (question, reply):
        store.save_message(owner, conversation_id, message)
    at.query_params["c"] = conversation_id  # the chat page opens it
    store.save_run(owner, new_run(Grid(settings, samples=1), HOSTILE, []))
    store.save_preset(owner, from_settings("", HOSTILE, settings))
    cast = Vote(
        "hostile-vote", Contestant(HOSTILE, (("style", HOSTILE),)), Contestant("gpt-4o-mini"),
        Verdict.A, datetime.now(UTC), (Turn(HOSTILE, HOSTILE, HOSTILE),),
        conversation=HOSTILE, tags=(HOSTILE,),
    )  # fmt: skip
    store.save_vote(owner, cast.id, cast.at, vote_json(cast))
    hostile = with_prompt(new_session([settings, ChatSettings(model="gpt-4o-mini")]), HOSTILE)
    hostile = with_answer(hostile, 0, 0, Answer(HOSTILE, Status.FAILED, stats, HOSTILE))
    store.save_side_by_side(
        owner, hostile.id, HOSTILE, hostile.created_at, hostile.updated_at, session_json(hostile)
    )
    return at.run()


# The usage page shows models and titles only in tables and charts, never as Markdown.
# (The leaderboard's table and charts neither; its list of votes does, through plain.)
@pytest.mark.parametrize(
    ("page", "labels_hostile_text"),
    [
        ("pages/chat.py", True),
        ("pages/compare.py", True),
        ("pages/usage.py", False),
        ("pages/leaderboard.py", True),  # a vote's contestants, in the recent votes
        ("pages/side_by_side.py", True),  # a stored session's title, in its list
    ],
)
def test_no_page_draws_hostile_text_as_markdown(
    make_app: AppFactory, fake: FakeOpenAI, page: str, labels_hostile_text: bool
) -> None:
    at = seeded(make_app, fake)
    at = at.switch_page(page).run()
    assert not at.exception
    assert any("HOSTILE" in text for _, text in page_texts(at)) == labels_hostile_text
    found = unescaped(at)
    assert found == [], "drawn as Markdown:\n" + "\n".join(map(repr, found))


def test_a_stored_run_opened_draws_no_hostile_markdown(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = seeded(make_app, fake).switch_page("pages/compare.py").run()
    (stored,) = [b for b in at.button if b.key and b.key.startswith("compare_open_")]
    at = stored.click().run()
    assert not at.exception
    found = unescaped(at)
    assert found == [], "drawn as Markdown:\n" + "\n".join(map(repr, found))


def test_the_walk_finds_hostile_markdown_where_it_is() -> None:
    """The check itself can fail: a label drawn as written is found."""
    script = AppTest.from_string(f"import streamlit as st\nst.button({HOSTILE!r})\n").run()
    assert unescaped(script) == [("button.label", HOSTILE)]
