"""A vote as data: contestants' stable labels, the JSON round trip, and every bad field of
an untrusted document refused with its name."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chatlab.arena import (
    MAX_TURNS,
    Contestant,
    Turn,
    Verdict,
    Vote,
    VoteError,
    vote_from,
    vote_json,
    votes_from,
)

WHEN = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)


def a_vote(**changes: Any) -> Vote:
    fields: dict[str, Any] = {
        "id": "vote-1",
        "a": Contestant("gpt-4o-mini", (("temperature", 0.7),)),
        "b": Contestant("/models/qwen2.5-7b.gguf", (("top_p", 0.9), ("temperature", 1.0))),
        "verdict": Verdict.A,
        "at": WHEN,
        "turns": (Turn("Hello?", "Hi!", "Hello there."), Turn("And?", "Bye.", "Well…")),
        "blind": True,
        "conversation": "session-7",
        "tags": ("french", "code"),
    }
    return Vote(**(fields | changes))


def test_a_contestant_is_its_model_and_sorted_settings() -> None:
    first = Contestant("gpt-4o-mini", (("top_p", 0.9), ("temperature", 0.7)))
    second = Contestant("gpt-4o-mini", (("temperature", 0.7), ("top_p", 0.9)))
    assert first == second  # the order settings were given in does not make a new contestant
    assert first.label == "gpt-4o-mini · temperature=0.7 · top_p=0.9"
    assert Contestant("gpt-4o-mini").label == "gpt-4o-mini"
    assert Contestant("m", (("json", True),)).label == "m · json=true"
    # the model id is kept whole: two files of one name are two contestants
    assert Contestant("/a/model.gguf").label != Contestant("/b/model.gguf").label


def test_a_vote_round_trips_through_json_text() -> None:
    vote = a_vote()
    document = json.loads(json.dumps(vote_json(vote)))
    assert document["format"] == "chatlab.vote" and document["version"] == 1
    assert document["verdict"] == "a" and document["at"] == "2026-12-04T18:30:00+00:00"
    assert document["a"] == {"model": "gpt-4o-mini", "settings": {"temperature": 0.7}}
    assert vote_from(document) == vote
    for verdict in Verdict:
        assert vote_from(vote_json(a_vote(verdict=verdict))).verdict is verdict


def test_a_time_in_another_zone_is_read_as_the_same_moment_in_utc() -> None:
    document = vote_json(a_vote())
    document["at"] = "2026-12-04T20:30:00+02:00"
    read = vote_from(document)
    assert read.at == WHEN and read.at.tzinfo == UTC
    later = a_vote(at=WHEN.astimezone(timezone(timedelta(hours=-5))))
    assert vote_json(later)["at"] == "2026-12-04T18:30:00+00:00"


def test_optional_fields_may_be_absent() -> None:
    document = vote_json(a_vote())
    for key in ("conversation", "tags"):
        del document[key]
    del document["a"]["settings"]
    read = vote_from(document)
    assert read.conversation == "" and read.tags == () and read.a == Contestant("gpt-4o-mini")


def _broken(path: str, value: object) -> dict[str, Any]:
    """The round-tripped vote with the field at ``path`` (dots, [index]) set to ``value``."""
    document = copy.deepcopy(vote_json(a_vote()))
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target: Any = document
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("format", "chatlab.conversation", "format"),
        ("version", 2, "version"),
        ("id", "", "id"),
        ("id", 7, "id"),
        ("verdict", "A", "verdict"),
        ("verdict", None, "verdict"),
        ("verdict", ["a"], "verdict"),  # unhashable: a TypeError before the check
        ("at", "yesterday", "at"),
        ("at", "2026-12-04T18:30:00", "at"),  # no time zone: which moment is it?
        ("blind", "yes", "blind"),
        ("a", "gpt-4o-mini", "a"),
        ("a.model", "", "a.model"),
        ("b.model", None, "b.model"),
        ("a.settings", [0.7], "a.settings"),
        ("a.settings.temperature", float("nan"), "a.settings.temperature"),
        ("b.settings.top_p", [0.9], "b.settings.top_p"),
        ("turns", "Hello?", "turns"),
        ("turns[1]", "And?", "turns[1]"),
        ("turns[1].b", None, "turns[1].b"),
        ("turns[0].prompt", "\ud800", "turns[0].prompt"),
        ("conversation", 3, "conversation"),
        ("tags", "french", "tags"),
        ("tags[1]", "", "tags[1]"),
    ],
)
def test_a_bad_field_is_refused_by_name(path: str, value: object, named: str) -> None:
    with pytest.raises(VoteError) as raised:
        vote_from(_broken(path, value))
    assert raised.value.field == named
    assert named in raised.value.message and not raised.value.retryable


def test_not_an_object_and_too_many_turns_are_refused() -> None:
    with pytest.raises(VoteError, match="the vote must be a JSON object"):
        vote_from([vote_json(a_vote())])
    document = vote_json(a_vote())
    document["turns"] = [{"prompt": "", "a": "", "b": ""}] * (MAX_TURNS + 1)
    with pytest.raises(VoteError) as raised:
        vote_from(document)
    assert raised.value.field == "turns"


def test_stored_documents_read_as_votes_and_the_bad_ones_are_told_apart() -> None:
    first, second = a_vote(), a_vote(id="vote-2", verdict=Verdict.TIE)
    damaged = vote_json(a_vote(id="vote-3"))
    damaged["verdict"] = "maybe"
    found, problems = votes_from([vote_json(first), None, damaged, vote_json(second)])
    assert found == [first, second]
    assert [problem.field for problem in problems] == ["the vote", "verdict"]
