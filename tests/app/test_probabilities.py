"""The Probabilities toggle: what it asks for, and the reply shown token by token (issue 8)."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.logprobs import NO_LOGPROBS, visible
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.provider import fork_refusal, server_kind
from components import session
from components.chat.probabilities_view import FORK_LABEL, REWEIGHT_NOTE
from testing.fake_openai import CONTINUATION, Dialect, FakeOpenAI, Reply, fake_logprob
from tests.app.conftest import AppFactory, chat_state, flushed, send
from tests.app.test_compare_page import COMPARE_PAGE, results_table, run_sweep


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def _reply(at: AppTest) -> ChatMessage:
    leaf = chat_state(at).conversation.leaf
    assert leaf is not None and leaf.role == "assistant"
    return leaf


def _open_probabilities(at: AppTest, reply: ChatMessage) -> None:
    at.button(key=f"probabilities-{reply.id}").click().run()


def _table(at: AppTest, column: str) -> Any:
    """The first table on the page with ``column``."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def _probabilities_on(at: AppTest, top: int) -> None:
    at.toggle(key=session.LOGPROBS).set_value(True).run()
    at.number_input(key=session.TOP_LOGPROBS).set_value(top).run()


def test_probabilities_are_asked_for_only_when_switched_on(app: AppTest, fake: FakeOpenAI) -> None:
    send(app, "first")
    assert not {"logprobs", "top_logprobs"} & set(fake.last_chat_body or {})
    _probabilities_on(app, 3)
    fake.enqueue(Reply(text="Hello there"))
    send(app, "second")
    body = fake.last_chat_body or {}
    assert (body.get("logprobs"), body.get("top_logprobs")) == (True, 3)
    mean = (fake_logprob("Hello") + fake_logprob(" there")) / 2
    assert f"mean logprob \u2212{-mean:.2f} · perplexity" in _captions(app)
    assert not app.exception and not app.error


def test_the_view_lists_tokens_and_reweights_a_chosen_tokens_alternatives(
    app: AppTest, fake: FakeOpenAI
) -> None:
    _probabilities_on(app, 3)
    fake.enqueue(Reply(text="Hello there"))
    send(app, "hi")
    reply = _reply(app)
    assert not app.dataframe, "closed, the view sends nothing to the browser"
    _open_probabilities(app, reply)
    table = _table(app, "token")
    assert list(table["token"]) == ["Hello", "␣there"]
    assert "␣there~1" in table["alternatives"][1] and "␣there~2" in table["alternatives"][1]
    token_map = app.pills(key=f"probabilities-token-{reply.id}")
    assert token_map.value == 0  # the first token is chosen until another is clicked
    assert list(_table(app, "alternative")["alternative"]) == ["Hello", "Hello~1", "Hello~2"]

    token_map.set_value(1).run()

    assert "Token 2:" in " ".join(m.value for m in app.markdown)
    assert list(_table(app, "alternative")["alternative"]) == ["␣there", "␣there~1", "␣there~2"]
    assert REWEIGHT_NOTE.format(k=3) in _captions(app)
    assert not app.exception


def test_token_labels_in_the_map_are_escaped(app: AppTest, fake: FakeOpenAI) -> None:
    _probabilities_on(app, 2)
    fake.enqueue(Reply(text="**bold** :red[x]"))
    send(app, "hi")
    reply = _reply(app)
    _open_probabilities(app, reply)
    labels = app.pills(key=f"probabilities-token-{reply.id}").options
    tokens = reply.token_logprobs
    assert len(labels) == len(tokens) > 1
    for label, token in zip(labels, tokens, strict=True):
        assert plain(visible(token.token), empty="∅") in str(label)


def _fork_from_the_second_token(at: AppTest, fake: FakeOpenAI) -> ChatMessage:
    """A reply "Hello there" with its Probabilities open at " there"; the reply."""
    _probabilities_on(at, 3)
    fake.enqueue(Reply(text="Hello there"))
    send(at, "hi")
    reply = _reply(at)
    _open_probabilities(at, reply)
    at.pills(key=f"probabilities-token-{reply.id}").set_value(1).run()
    return reply


VLLM_FLAGS = {"continue_final_message": True, "add_generation_prompt": False}


@pytest.mark.parametrize(
    ("dialect", "flags"), [("llamacpp", {}), ("vllm", VLLM_FLAGS), ("ollama", {})]
)
def test_a_fork_sends_the_start_as_a_final_assistant_message(
    make_app: AppFactory, fake: FakeOpenAI, dialect: str, flags: dict[str, bool]
) -> None:
    fake.dialect = Dialect(name=dialect)
    app = make_app().run()
    reply = _fork_from_the_second_token(app, fake)
    picked = app.pills(key=f"fork-alternative-{reply.id}-1")
    assert picked.value == 1  # the first alternative other than the token itself
    fork = app.button(key=f"fork-{reply.id}")
    assert fork.label == FORK_LABEL and not fork.disabled

    fork.click().run()

    assert flushed(app, 10)
    body = fake.last_chat_body or {}
    assert body["messages"][-1] == {"role": "assistant", "content": "Hello there~1"}
    assert {name: body[name] for name in VLLM_FLAGS if name in body} == flags
    forked = _reply(app)
    assert forked.content == "Hello there~1" + CONTINUATION
    siblings = chat_state(app).conversation.siblings(forked)
    assert [m.id for m in siblings] == [reply.id, forked.id]  # shown as ‹ 2/2 ›
    assert "2/2" in _captions(app)
    assert not app.exception and not app.error


def test_a_fork_is_disabled_with_its_reason_on_an_openai_server(
    app: AppTest, fake: FakeOpenAI
) -> None:
    reply = _fork_from_the_second_token(app, fake)
    fork = app.button(key=f"fork-{reply.id}")
    reason = fork_refusal(server_kind([{"owned_by": "fake"}]))
    assert fork.disabled and reason is not None
    assert reason in _captions(app) and fork.help == reason


def test_a_server_ignoring_probabilities_gets_a_note_not_an_error(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.dialect = Dialect(logprobs=False)
    _probabilities_on(app, 5)
    fake.enqueue(Reply(text="no numbers here"))
    send(app, "hi")
    assert plain(NO_LOGPROBS) in _captions(app)
    assert _reply(app).content == "no numbers here" and _reply(app).token_logprobs == ()
    assert not app.exception and not app.error
    assert "mean logprob" not in _captions(app)


def test_a_sweep_with_probabilities_on_fills_the_mean_logprob_column(
    app: AppTest, fake: FakeOpenAI
) -> None:
    _probabilities_on(app, 2)
    fake.enqueue(Reply(text="red"), Reply(text="blue"))
    at = run_sweep(app.switch_page(COMPARE_PAGE).run(), temperatures="0", samples=2, at_once=1)
    table = results_table(at)
    assert sorted(table["mean logprob"]) == sorted([fake_logprob("red"), fake_logprob("blue")])
    assert all(body.get("top_logprobs") == 2 for body in (r.body for r in fake.chat_requests))


def test_the_probabilities_of_a_stored_reply_are_read_when_opened_after_a_reload(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    _probabilities_on(at, 2)
    fake.enqueue(Reply(text="Hello there"))
    send(at, "hi")
    reply = _reply(at)

    again = make_app()
    again.query_params["c"] = at.query_params["c"]
    again.run()
    assert _reply(again).token_logprobs == ()  # not read when the conversation opens
    _open_probabilities(again, reply)
    assert list(_table(again, "token")["token"]) == ["Hello", "␣there"]
    assert "mean logprob" in _captions(again)
    assert not again.exception
