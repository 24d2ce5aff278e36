"""A side-by-side session as data: made with its shown order (shuffled when blind), grown
turn by turn, each column sent its own history, voted on as shown, continued as a chat,
and its JSON form read back whole, every bad field of an untrusted document named."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatlab.arena import (
    MAX_COLUMNS,
    SESSION_FORMAT,
    Answer,
    Contestant,
    SessionError,
    SideBySide,
    Turn,
    Verdict,
    conversation_messages,
    new_session,
    request_messages,
    session_from,
    session_json,
    vote_from,
    vote_json,
    vote_of,
    with_answer,
    with_prompt,
    with_vote,
)
from chatlab.messages import ChatSettings, ReplyStats, Status, Usage

AT = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)
FAST = ChatSettings(model="gpt-4o-mini", temperature=0.7, system_prompt="Be brief.")
SLOW = ChatSettings(model="qwen2.5:7b", temperature=0.2, system_prompt="Be brief.")
STATS = ReplyStats("gpt-4o-mini", Usage(12, 3), "stop", time_to_first_token=0.1, total_time=0.5)


def done(text: str, stats: ReplyStats | None = None) -> Answer:
    return Answer(text, Status.COMPLETE, stats)


def answered(session: SideBySide, prompt: str, *texts: str) -> SideBySide:
    """``session`` with ``prompt`` sent and each column's finished answer to it."""
    session = with_prompt(session, prompt, at=LATER)
    turn = len(session.prompts) - 1
    for column, text in enumerate(texts):
        session = with_answer(session, column, turn, done(text), at=LATER)
    return session


def two_turns(blind: bool = False, seed: int = 0) -> SideBySide:
    session = new_session([FAST, SLOW], blind=blind, rng=random.Random(seed), at=AT)
    session = answered(session, "Name a colour.", "Blue.", "Green.")
    return answered(session, "Why?", "It is calm.", "It is fresh.")


# -- a new session -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, MAX_COLUMNS])
def test_a_session_has_a_column_per_settings_in_the_order_given(count: int) -> None:
    settings = [replace(FAST, model=f"model-{n}") for n in range(count)]
    session = new_session(settings, rng=random.Random(1), at=AT)
    assert [c.settings for c in session.columns] == settings
    assert session.order == tuple(range(count))  # not blind: never shuffled
    assert [c.settings.model for c in session.shown] == [s.model for s in settings]
    assert session.columns[0].answers == () and session.prompts == ()
    assert session.created_at == session.updated_at == AT
    assert session.revealed and not session.blind
    assert session.title == "New side by side"


@pytest.mark.parametrize("count", [0, 1, MAX_COLUMNS + 1])
def test_a_session_needs_two_to_four_columns(count: int) -> None:
    with pytest.raises(ValueError, match="2 to 4 columns"):
        new_session([FAST] * count, at=AT)


def test_a_blind_session_shuffles_its_shown_order_with_the_random_source_given() -> None:
    settings = [replace(FAST, model=f"model-{n}") for n in range(4)]
    expected = [0, 1, 2, 3]
    random.Random(6).shuffle(expected)
    assert expected == [3, 2, 1, 0]  # the seed is one that moves every column
    session = new_session(settings, blind=True, rng=random.Random(6), at=AT)
    assert session.order == (3, 2, 1, 0)
    assert [c.settings.model for c in session.shown] == ["model-3", "model-2", "model-1", "model-0"]
    assert [c.settings for c in session.columns] == settings  # the columns stay as given
    assert session.blind and not session.revealed


def test_each_new_session_has_its_own_id() -> None:
    assert new_session([FAST, SLOW]).id != new_session([FAST, SLOW]).id


# -- growing it --------------------------------------------------------------------------


def test_a_prompt_is_sent_to_every_column_and_awaits_their_answers() -> None:
    session = new_session([FAST, SLOW], at=AT)
    sent = with_prompt(session, "Hello\nthere", at=LATER)
    assert sent.prompts == ("Hello\nthere",) and sent.title == "Hello there"
    assert [c.answers for c in sent.columns] == [(Answer(),), (Answer(),)]
    assert sent.columns[0].answers[0].status == Status.STREAMING
    assert sent.updated_at == LATER and sent.created_at == AT
    assert not sent.turn_done and not sent.can_vote
    assert session.prompts == ()  # the session it came from is unchanged


def test_an_answer_is_set_replaced_and_leaves_the_other_columns_alone() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Hi", at=AT)
    first = with_answer(session, 1, 0, done("Hello."), at=LATER)
    assert first.columns[1].answers == (done("Hello."),)
    assert first.columns[0].answers == (Answer(),)
    assert first.updated_at == LATER and not first.turn_done
    again = with_answer(first, 1, 0, done("Hi!"), at=LATER)
    assert again.columns[1].answers == (done("Hi!"),)
    both = with_answer(again, 0, 0, Answer("Hey", Status.STOPPED), at=LATER)
    assert both.turn_done and both.can_vote


def test_an_answer_to_a_later_turn_fills_the_turns_before_it() -> None:
    session = with_answer(new_session([FAST, SLOW], at=AT), 0, 1, done("Two."))
    assert session.columns[0].answers == (Answer(), done("Two."))
    assert session.columns[1].answers == ()


def test_a_vote_is_given_and_withdrawn_and_blindness_follows_it() -> None:
    session = two_turns(blind=True)
    assert not session.revealed
    voted = with_vote(session, Verdict.TIE, "vote-1", at=LATER)
    assert (voted.verdict, voted.vote_id, voted.updated_at) == (Verdict.TIE, "vote-1", LATER)
    assert voted.revealed
    withdrawn = with_vote(voted, None, "vote-1")
    assert (withdrawn.verdict, withdrawn.vote_id) == (None, "")
    assert not withdrawn.revealed


# -- what each column is sent --------------------------------------------------------------


def test_the_first_turn_sends_the_system_prompt_then_the_prompt() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Name a colour.")
    assert request_messages(session, 1, 0) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
    ]


def test_a_later_turn_sends_each_column_its_own_earlier_answers() -> None:
    session = with_prompt(two_turns(), "And then?")
    assert request_messages(session, 0, 2) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "It is calm."},
        {"role": "user", "content": "And then?"},
    ]
    assert [m["content"] for m in request_messages(session, 1, 2)] == [
        "Be brief.",
        "Name a colour.",
        "Green.",
        "Why?",
        "It is fresh.",
        "And then?",
    ]


def test_a_failed_empty_answer_leaves_its_whole_exchange_out() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Name a colour.")
    session = with_answer(session, 0, 0, done("Blue."))
    session = with_answer(session, 1, 0, Answer("", Status.FAILED, error="Server down"))
    session = with_prompt(session, "Why?")
    assert request_messages(session, 1, 1) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why?"},  # user and assistant still alternate
    ]
    assert len(request_messages(session, 0, 1)) == 4  # the other column keeps its own


def test_a_stopped_answer_with_text_is_sent_back() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Count.")
    session = with_answer(session, 0, 0, Answer("1, 2", Status.STOPPED))
    session = with_prompt(session, "Go on.")
    assert [m["content"] for m in request_messages(session, 0, 1)][1:] == [
        "Count.",
        "1, 2",
        "Go on.",
    ]


@pytest.mark.parametrize("system_prompt", ["", "   \n"])
def test_a_blank_system_prompt_sends_no_system_message(system_prompt: str) -> None:
    settings = replace(FAST, system_prompt=system_prompt)
    session = with_prompt(new_session([settings, SLOW], at=AT), "Hi")
    assert request_messages(session, 0, 0) == [{"role": "user", "content": "Hi"}]


# -- the vote ------------------------------------------------------------------------------


def test_the_vote_names_a_and_b_as_shown_in_a_shuffled_blind_session() -> None:
    session = two_turns(blind=True, seed=1)
    assert session.order == (1, 0)  # A is the second column: qwen
    vote = vote_of(session, Verdict.A, vote_id="vote-9", at=LATER, tags=["colours"])
    assert vote.a == Contestant("qwen2.5:7b", (("temperature", 0.2),))
    assert vote.b == Contestant("gpt-4o-mini", (("temperature", 0.7),))
    assert vote.turns == (
        Turn("Name a colour.", "Green.", "Blue."),
        Turn("Why?", "It is fresh.", "It is calm."),
    )
    assert (vote.id, vote.verdict, vote.at, vote.tags) == ("vote-9", Verdict.A, LATER, ("colours",))
    assert vote.blind and vote.conversation == session.id
    assert vote_from(vote_json(vote)) == vote  # what is stored reads back


def test_an_open_session_votes_in_the_columns_order() -> None:
    vote = vote_of(two_turns(blind=False, seed=1), Verdict.B, at=LATER)
    assert (vote.a.model, vote.b.model, vote.blind) == ("gpt-4o-mini", "qwen2.5:7b", False)
    assert vote.turns[0] == Turn("Name a colour.", "Blue.", "Green.")
    assert vote.id  # a fresh one when none is given


def test_contestants_carry_the_temperature_and_the_parameters_that_differ() -> None:
    first = replace(FAST, temperature=0.7, top_p=0.9, max_tokens=500, stop=("END", "STOP"))
    second = replace(FAST, temperature=0.7, top_p=None, max_tokens=500, seed=7)
    second = replace(second, system_prompt="You are a pirate.\nSpeak like one " + "arr " * 80)
    session = new_session([first, second], at=AT)
    session = answered(session, "Hi", "Hello.", "Ahoy.")
    vote = vote_of(session, Verdict.B, at=LATER)
    a, b = dict(vote.a.settings), dict(vote.b.settings)
    assert a == {
        "temperature": 0.7,
        "top_p": 0.9,  # set on A only: B's "not set" is left out
        "stop": "END, STOP",
        "system_prompt": "Be brief.",
    }
    assert set(b) == {"temperature", "stop", "seed", "system_prompt"}
    assert (b["seed"], b["stop"]) == (7, "")
    pirate = b["system_prompt"]
    assert isinstance(pirate, str) and pirate.startswith("You are a pirate. Speak like one arr")
    assert "\n" not in pirate and len(pirate) <= 200  # one line, as a vote's setting may hold
    assert "max_tokens" not in a  # the same on both: nobody compared it
    assert vote_from(vote_json(vote)) == vote


def test_the_same_settings_make_the_same_contestant_whatever_the_session() -> None:
    one = vote_of(two_turns(), Verdict.A, at=LATER)
    other = vote_of(two_turns(blind=True, seed=0), Verdict.B, at=LATER)
    assert one.a.label == other.a.label == "gpt-4o-mini · temperature=0.7"


def test_a_vote_needs_two_columns_and_every_answer_in() -> None:
    with pytest.raises(ValueError, match="two columns"):
        vote_of(new_session([FAST, SLOW], at=AT), Verdict.A)  # no prompt yet
    three = answered(new_session([FAST, SLOW, FAST], at=AT), "Hi", "a", "b", "c")
    assert three.turn_done and not three.can_vote
    with pytest.raises(ValueError, match="two columns"):
        vote_of(three, Verdict.A)
    unfinished = with_prompt(two_turns(), "One more?")
    unfinished = with_answer(unfinished, 0, 2, done("Sure."))
    with pytest.raises(ValueError, match="every answer in"):
        vote_of(unfinished, Verdict.A)
    streaming = with_answer(unfinished, 1, 2, Answer("Wai", Status.STREAMING))
    with pytest.raises(ValueError):
        vote_of(streaming, Verdict.A)
    assert vote_of(with_answer(unfinished, 1, 2, Answer("", Status.FAILED)), Verdict.B)


# -- continuing with one column --------------------------------------------------------------


def test_a_column_becomes_a_chat_parent_linked_with_its_settings_and_stats() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Name a colour.")
    session = with_answer(session, 0, 0, done("Blue.", STATS))
    session = with_prompt(session, "Why?")
    session = with_answer(session, 0, 1, Answer("Because", Status.STREAMING))
    messages = conversation_messages(session, 0)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "Name a colour."),
        ("assistant", "Blue."),
        ("user", "Why?"),
        ("assistant", "Because"),
    ]
    assert [m.parent_id for m in messages] == [None, *(m.id for m in messages[:-1])]
    assert len({m.id for m in messages}) == 4
    assert [m.status for m in messages[1::2]] == [Status.COMPLETE, Status.STOPPED]
    assert all(m.settings == FAST for m in messages[1::2])
    assert all(m.settings is None and m.stats is None for m in messages[::2])
    assert (messages[1].stats, messages[3].stats) == (STATS, None)


def test_a_chat_from_a_column_leaves_out_turns_without_an_answer() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "One")
    session = with_answer(session, 1, 0, Answer("", Status.FAILED, error="Timed out"))
    session = with_prompt(session, "Two")
    session = with_answer(session, 1, 1, Answer("Half", Status.FAILED))
    session = with_prompt(session, "Three")  # not answered yet
    messages = conversation_messages(session, 1)
    assert [(m.content, m.status) for m in messages] == [
        ("Two", Status.COMPLETE),
        ("Half", Status.FAILED),
    ]
    assert messages[0].parent_id is None and messages[1].settings == SLOW


# -- the JSON form ---------------------------------------------------------------------------


def a_full_session() -> SideBySide:
    """Four columns, blind and shuffled, every kind of answer, text from every script."""
    third = replace(SLOW, model="/models/llama-3.gguf", stop=("###",), top_p=0.5)
    session = new_session([FAST, SLOW, third, FAST], blind=True, rng=random.Random(6), at=AT)
    session = with_prompt(session, "naïve café — 東京 🎉", at=LATER)
    session = with_answer(session, 0, 0, done("Oui.", STATS), at=LATER)
    session = with_answer(session, 1, 0, Answer("", Status.FAILED, error="HTTP 500"), at=LATER)
    session = with_answer(session, 2, 0, Answer("Cut", Status.LENGTH), at=LATER)
    session = with_answer(session, 3, 0, Answer("", Status.CONTENT_FILTER), at=LATER)
    return with_vote(session, Verdict.BOTH_BAD, "v-3", at=LATER)


def test_a_session_reads_back_from_its_json_equal() -> None:
    for session in (a_full_session(), two_turns(), new_session([FAST, SLOW], at=AT)):
        document = session_json(session)
        assert document["format"] == SESSION_FORMAT and document["title"] == session.title
        assert session_from(json.loads(json.dumps(document))) == session


def test_times_read_back_in_utc() -> None:
    document = session_json(two_turns())
    document["created_at"] = "2026-12-04T20:30:00+02:00"
    assert session_from(document).created_at == AT
    assert session_from(document).created_at.utcoffset() == timedelta(0)


def test_an_answer_stored_while_streaming_reads_back_stopped() -> None:
    session = with_prompt(new_session([FAST, SLOW], at=AT), "Hi")
    session = with_answer(session, 0, 0, Answer("Hal", Status.STREAMING))
    read = session_from(session_json(session))
    assert read.columns[0].answers[0] == Answer("Hal", Status.STOPPED)
    assert read.columns[1].answers[0].status == Status.STOPPED


Change = Callable[[dict[str, Any]], object]


def _set(path: str, value: object) -> Change:
    """A change that sets ``path`` (``columns.0.answers``) of a document to ``value``."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _columns(count: int) -> Change:
    def change(document: dict[str, Any]) -> None:
        document["columns"] = [copy.deepcopy(document["columns"][0]) for _ in range(count)]
        document["order"] = list(range(count))

    return change


def _extra_answer(document: dict[str, Any]) -> None:
    document["columns"][0]["answers"].append(document["columns"][0]["answers"][0])


NAIVE = "2026-12-04T18:30:00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set("format", "chatlab.conversation"), "format"),
        (_set("format", None), "format"),
        (_set("version", 2), "version"),
        (_columns(1), "columns"),
        (_columns(5), "columns"),
        (_set("columns", {"0": {}}), "columns"),
        (_set("columns.1", ["settings"]), "columns[1]"),
        (_set("columns.0.settings", {"model": "m"}), "columns[0].settings"),
        (_set("columns.0.settings.temperature", "hot"), "columns[0].settings"),
        (_set("columns.1.answers", "Blue."), "columns[1].answers"),
        (_extra_answer, "columns[0].answers"),  # more answers than prompts
        (_set("columns.0.answers.1", "It is calm."), "columns[0].answers[1]"),
        (_set("columns.1.answers.0.status", "done"), "columns[1].answers[0].status"),
        (_set("columns.1.answers.0.status", ["complete"]), "columns[1].answers[0].status"),
        (_set("columns.0.answers.0.text", 42), "columns[0].answers[0].text"),
        (_set("columns.0.answers.0.text", "half \ud83d"), "columns[0].answers[0].text"),
        (_set("columns.0.answers.0.error", "x" * 2_001), "columns[0].answers[0].error"),
        (_set("columns.0.answers.0.stats", {"model": 1}), "columns[0].answers[0].stats"),
        (_set("prompts", "Name a colour."), "prompts"),
        (_set("prompts.1", "half \udc00"), "prompts[1]"),
        (_set("prompts.0", None), "prompts[0]"),
        (_set("order", [0, 0]), "order"),
        (_set("order", [0]), "order"),
        (_set("order", [1, 2]), "order"),
        (_set("order", [1.0, 0.0]), "order"),
        (_set("order", ["a", 0]), "order"),
        (_set("order", [True, False]), "order"),
        (_set("order", "10"), "order"),
        (_set("blind", "yes"), "blind"),
        (_set("verdict", "maybe"), "verdict"),
        (_set("verdict", ["a"]), "verdict"),
        (_set("id", "  "), "id"),
        (_set("id", "x" * 201), "id"),
        (_set("vote_id", 7), "vote_id"),
        (_set("created_at", NAIVE), "created_at"),
        (_set("updated_at", "yesterday"), "updated_at"),
        (_set("updated_at", 1733337000), "updated_at"),
    ],
)
def test_a_bad_field_is_refused_by_name(change: Change, field: str) -> None:
    document = session_json(with_vote(two_turns(), Verdict.A, "vote-1"))
    change(document)
    with pytest.raises(SessionError) as raised:
        session_from(document)
    assert raised.value.field == field
    assert field in raised.value.message and not raised.value.retryable


@pytest.mark.parametrize("document", [None, [], "{}", 3, True])
def test_a_document_that_is_not_an_object_is_refused(document: object) -> None:
    with pytest.raises(SessionError) as raised:
        session_from(document)
    assert raised.value.field == "the session"


def test_too_many_prompts_are_refused() -> None:
    document = session_json(two_turns())
    document["prompts"] = ["Hi"] * 501
    with pytest.raises(SessionError) as raised:
        session_from(document)
    assert raised.value.field == "prompts"
