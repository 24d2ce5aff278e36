"""A vote as data: two contestants, a verdict, when, the turns they answered, blind or not.

A contestant is a model id and the settings that matter to the comparison (temperature,
a system prompt's name...), kept as sorted ``(name, value)`` pairs so that the same
model with the same settings is always the same contestant; ``label`` is that identity in
words (``gpt-4o-mini · temperature=0.7``) and is what the leaderboard ranks. The model id
is kept whole (a file path is not shortened to its file name): two models with the same
file name in different folders stay two contestants.

The JSON form (``vote_json``) is what storage keeps and what an export writes; reading it
back (``vote_from``) treats it as untrusted, like ``chatlab.transfer`` treats an import:
every field is checked and the first bad one is named in ``VoteError.field``
(``a.model``, ``turns[2].b``). Limits bound what one vote may hold, so a hand-edited file
cannot make the leaderboard build something huge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chatlab.arena.fields import FieldReader
from chatlab.errors import ChatLabError

__all__ = [
    "MAX_NAME",
    "MAX_SETTINGS",
    "MAX_TAGS",
    "MAX_TURNS",
    "VOTE_FORMAT",
    "VOTE_VERSION",
    "Contestant",
    "Setting",
    "Turn",
    "Verdict",
    "Vote",
    "VoteError",
    "vote_from",
    "vote_json",
    "votes_from",
]

VOTE_FORMAT = "chatlab.vote"
VOTE_VERSION = 1
MAX_TURNS = 1_000
MAX_SETTINGS = 50
MAX_TAGS = 20
MAX_TEXT = 1_000_000  # one prompt or reply, as a conversation's import allows
MAX_NAME = 200  # a model id, a setting's name or text value, an id, a tag

Setting = tuple[str, str | int | float | bool]


class Verdict(StrEnum):
    """What the person said: A better, B better, a tie, or both bad."""

    A = "a"
    B = "b"
    TIE = "tie"
    BOTH_BAD = "both bad"


class VoteError(ChatLabError):
    """A vote that cannot be read; ``field`` names the first bad field (``a.model``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(
            f"This vote cannot be read: {field} {problem}.",
            "The vote was left out. Vote again, or fix the file.",
            retryable=False,
        )
        self.field = field


_read = FieldReader(VoteError)
_object, _text, _time = _read.json_object, _read.text, _read.time


@dataclass(frozen=True)
class Contestant:
    """A model and the settings that matter, as sorted (name, value) pairs."""

    model: str
    settings: tuple[Setting, ...] = ()

    def __post_init__(self) -> None:  # one order, whatever order they were given in
        object.__setattr__(self, "settings", tuple(sorted(self.settings, key=lambda s: s[0])))

    @property
    def label(self) -> str:
        """``gpt-4o-mini · temperature=0.7``: the contestant's identity in words."""
        return " · ".join([self.model, *(f"{n}={_shown(v)}" for n, v in self.settings)])


def _shown(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Turn:
    """One prompt and the two replies to it, A's and B's (text)."""

    prompt: str
    a: str
    b: str


@dataclass(frozen=True)
class Vote:
    """Who was compared, the verdict, when (UTC), the turns, blind or not, and where from:
    ``conversation`` is the side-by-side session (or Compare run) it was cast in, ``tags``
    the owner's labels; both are what the leaderboard's filters read."""

    id: str
    a: Contestant
    b: Contestant
    verdict: Verdict
    at: datetime
    turns: tuple[Turn, ...] = ()
    blind: bool = True
    conversation: str = ""
    tags: tuple[str, ...] = ()


def vote_json(vote: Vote) -> dict[str, Any]:
    """The vote as a JSON object (what storage keeps and exports write)."""
    return {
        "format": VOTE_FORMAT,
        "version": VOTE_VERSION,
        "id": vote.id,
        "a": _contestant_json(vote.a),
        "b": _contestant_json(vote.b),
        "verdict": vote.verdict.value,
        "at": vote.at.astimezone(UTC).isoformat(),
        "turns": [{"prompt": t.prompt, "a": t.a, "b": t.b} for t in vote.turns],
        "blind": vote.blind,
        "conversation": vote.conversation,
        "tags": list(vote.tags),
    }


def _contestant_json(contestant: Contestant) -> dict[str, Any]:
    return {"model": contestant.model, "settings": dict(contestant.settings)}


def vote_from(data: object) -> Vote:
    """A vote from its JSON form, every field checked; ``VoteError`` names the first bad one."""
    item = _object(data, "the vote")
    if item.get("format") != VOTE_FORMAT:
        raise VoteError("format", f'must be "{VOTE_FORMAT}"')
    if item.get("version") != VOTE_VERSION:
        raise VoteError("version", f"must be {VOTE_VERSION}")
    verdict = item.get("verdict")
    if not isinstance(verdict, str) or verdict not in {v.value for v in Verdict}:
        raise VoteError("verdict", f"must be one of {', '.join(v.value for v in Verdict)}")
    blind = item.get("blind")
    if not isinstance(blind, bool):
        raise VoteError("blind", "must be true or false")
    return Vote(
        id=_name(item.get("id"), "id"),
        a=_contestant(item.get("a"), "a"),
        b=_contestant(item.get("b"), "b"),
        verdict=Verdict(verdict),
        at=_time(item.get("at"), "at"),
        turns=_turns(item.get("turns"), "turns"),
        blind=blind,
        conversation=_text(item.get("conversation", ""), "conversation", MAX_NAME),
        tags=_tags(item.get("tags", []), "tags"),
    )


def votes_from(documents: Iterable[object]) -> tuple[list[Vote], list[VoteError]]:
    """The stored documents that read as votes, in order, and why each other did not: a
    damaged row is told, and never hides the rest (None, a row that is not JSON, too)."""
    found: list[Vote] = []
    problems: list[VoteError] = []
    for document in documents:
        try:
            found.append(vote_from(document))
        except VoteError as problem:
            problems.append(problem)
    return found, problems


def _name(value: object, where: str) -> str:
    return _text(value, where, MAX_NAME, blank=False)


def _contestant(value: object, where: str) -> Contestant:
    item = _object(value, where)
    settings = _object(item.get("settings", {}), f"{where}.settings")
    if len(settings) > MAX_SETTINGS:
        raise VoteError(f"{where}.settings", f"must hold at most {MAX_SETTINGS} settings")
    checked = [
        (_name(name, f"{where}.settings"), _value(v, f"{where}.settings.{name}"))
        for name, v in settings.items()
    ]
    return Contestant(_name(item.get("model"), f"{where}.model"), tuple(checked))


def _value(value: object, where: str) -> str | int | float | bool:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VoteError(where, "must be a finite number")
        return value
    if isinstance(value, str):
        return _text(value, where, MAX_NAME)
    raise VoteError(where, "must be a number, a string or true/false")


def _turns(value: object, where: str) -> tuple[Turn, ...]:
    if not isinstance(value, list) or len(value) > MAX_TURNS:
        raise VoteError(where, f"must be a list of at most {MAX_TURNS:,} turns")
    turns = []
    for index, raw in enumerate(value):
        at = f"{where}[{index}]"
        turn = _object(raw, at)
        texts = [_text(turn.get(key), f"{at}.{key}", MAX_TEXT) for key in ("prompt", "a", "b")]
        turns.append(Turn(*texts))
    return tuple(turns)


def _tags(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise VoteError(where, f"must be a list of at most {MAX_TAGS} tags")
    return tuple(_name(tag, f"{where}[{index}]") for index, tag in enumerate(value))
