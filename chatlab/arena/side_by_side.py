"""A side-by-side session as data: 2-4 columns, each a model with its own settings and its
own history, sent the same prompts; blind or not; its vote.

Decisions:

- **One list of prompts, one history per column.** Every column is sent the same prompts;
  each keeps its own answers, and turn *n* sends a column its own earlier answers (A's
  reply back to A, B's to B): ``request_messages``. A turn whose answer is empty (it failed
  before any text) is left out of later requests whole, prompt and all, so a server whose
  chat template insists that user and assistant alternate (Gemma's does) still takes them.
- **The shown order is data.** ``order`` maps the shown positions (A, B, ...) to columns.
  Blind sessions shuffle it once, when made, with the caller's random source, so a test
  can pin it; it never changes afterwards (a reload shows the same A and B).
- **Blind until the vote.** ``revealed`` is False while a blind session has no verdict;
  the page hides model names and telemetry then. A vote needs exactly two columns and a
  finished last turn; the vote (``vote_of``) records A and B as shown, the turns' texts,
  and the session's id as its ``conversation``, so the leaderboard can filter by session.
- **Settings that matter.** A contestant is its model and the temperature, plus each
  other declared parameter on which the two columns differ: the leaderboard ranks
  "gpt-4o · temperature=0.7" apart from "gpt-4o · temperature=1.2", and does not split a
  model's votes by settings nobody compared.
- **Continue with one.** ``conversation_messages`` turns a column into a chat's messages
  (user and assistant, parent-linked, the column's settings and telemetry on each reply).
- **The JSON form** (``session_json``) is what storage keeps and an export writes;
  ``session_from`` reads it back as untrusted, every field checked, the first bad one
  named (``columns[1].answers[0].text``), with limits, as an import is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeGuard

from chatlab.arena.fields import FieldReader
from chatlab.arena.votes import Contestant, Setting, Turn, Verdict, Vote
from chatlab.errors import ChatLabError
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Status, is_blank, new_id
from chatlab.params import declared
from chatlab.transfer import (
    InvalidDocument,
    clean_title,
    settings_from,
    settings_json,
    stats_from,
    stats_json,
    title_from,
)

__all__ = [
    "LETTERS",
    "MAX_COLUMNS",
    "MAX_SIDE_TURNS",
    "MIN_COLUMNS",
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "Answer",
    "Column",
    "SessionError",
    "SideBySide",
    "conversation_messages",
    "new_session",
    "request_messages",
    "session_from",
    "session_json",
    "vote_of",
    "with_answer",
    "with_prompt",
    "with_vote",
]

SESSION_FORMAT = "chatlab.side_by_side"
SESSION_VERSION = 1
MIN_COLUMNS = 2
MAX_COLUMNS = 4
MAX_SIDE_TURNS = 500
MAX_TEXT = 1_000_000  # one prompt or answer, as a conversation's import allows
MAX_ERROR = 2_000
MAX_URL = 2_000  # a column's server
MAX_SETTING = 200  # a setting's text value in a vote (a system prompt is cut to it)
LETTERS = "ABCD"
FINISHED = frozenset(Status) - {Status.STREAMING}


class SessionError(ChatLabError):
    """A side-by-side session that cannot be read; ``field`` names the first bad field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(
            f"This side-by-side session cannot be read: {field} {problem}.",
            "Nothing was opened. Choose another session, or fix the file.",
            retryable=False,
        )
        self.field = field


_read = FieldReader(SessionError)
_object, _list, _text, _time = _read.json_object, _read.json_list, _read.text, _read.time


@dataclass(frozen=True)
class Answer:
    """One column's answer to one prompt: its text, how it ended, telemetry, an error."""

    text: str = ""
    status: Status = Status.STREAMING
    stats: ReplyStats | None = None
    error: str = ""  # the error's words when it failed

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Column:
    """A model with its settings, its answers (one per prompt so far, at most), and the
    server it is asked on: ``base_url`` "" is the page's own connection. (A key typed for a
    column's server is never part of the session: it lives in the browser session only.)"""

    settings: ChatSettings
    answers: tuple[Answer, ...] = ()
    base_url: str = ""


@dataclass(frozen=True)
class SideBySide:
    """A session: its columns, the prompts sent to all, the shown order, blind, its vote."""

    id: str
    columns: tuple[Column, ...]
    prompts: tuple[str, ...] = ()
    order: tuple[int, ...] = ()  # shown position -> column index
    blind: bool = False
    verdict: Verdict | None = None
    vote_id: str = ""
    created_at: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    updated_at: datetime = datetime(2000, 1, 1, tzinfo=UTC)

    @property
    def title(self) -> str:
        return clean_title(title_from(self.prompts[0])) if self.prompts else "New side by side"

    @property
    def revealed(self) -> bool:
        """Whether model names and telemetry may be shown: not blind, or voted."""
        return not self.blind or self.verdict is not None

    @property
    def shown(self) -> tuple[Column, ...]:
        """The columns in their shown order (A first)."""
        return tuple(self.columns[index] for index in self.order)

    @property
    def turn_done(self) -> bool:
        """Every column has finished answering every prompt."""
        return all(
            len(c.answers) == len(self.prompts) and all(a.finished for a in c.answers)
            for c in self.columns
        )

    @property
    def can_vote(self) -> bool:
        """Two columns, a prompt, and every answer in: a verdict can be given."""
        return len(self.columns) == 2 and bool(self.prompts) and self.turn_done


def new_session(
    settings: Sequence[ChatSettings],
    *,
    blind: bool = False,
    rng: random.Random | None = None,
    at: datetime | None = None,
    base_urls: Sequence[str] = (),
) -> SideBySide:
    """A new session with a column per settings (on the server of its ``base_urls`` entry;
    none or "": the page's); blind ones get a shuffled shown order."""
    if not MIN_COLUMNS <= len(settings) <= MAX_COLUMNS:
        raise ValueError(f"a side-by-side session has {MIN_COLUMNS} to {MAX_COLUMNS} columns")
    order = list(range(len(settings)))
    if blind:
        (rng or random.SystemRandom()).shuffle(order)
    now = at or datetime.now(UTC)
    return SideBySide(
        id=new_id(),
        columns=tuple(
            Column(s, base_url=base_urls[i] if i < len(base_urls) else "")
            for i, s in enumerate(settings)
        ),
        order=tuple(order),
        blind=blind,
        created_at=now,
        updated_at=now,
    )


def with_prompt(session: SideBySide, prompt: str, at: datetime | None = None) -> SideBySide:
    """The session with ``prompt`` sent to every column (their answers to come)."""
    return replace(
        session,
        prompts=(*session.prompts, prompt),
        columns=tuple(replace(c, answers=(*c.answers, Answer())) for c in session.columns),
        updated_at=at or datetime.now(UTC),
    )


def with_answer(
    session: SideBySide, column: int, turn: int, answer: Answer, at: datetime | None = None
) -> SideBySide:
    """The session with column ``column``'s answer to prompt ``turn`` set (or replaced)."""
    target = session.columns[column]
    answers = list(target.answers)
    while len(answers) <= turn:
        answers.append(Answer())
    answers[turn] = answer
    columns = list(session.columns)
    columns[column] = replace(target, answers=tuple(answers))
    return replace(session, columns=tuple(columns), updated_at=at or datetime.now(UTC))


def with_vote(
    session: SideBySide, verdict: Verdict | None, vote_id: str = "", at: datetime | None = None
) -> SideBySide:
    """The session with its verdict (None: withdrawn; a blind session hides names again)."""
    return replace(
        session,
        verdict=verdict,
        vote_id=vote_id if verdict is not None else "",
        updated_at=at or datetime.now(UTC),
    )


def request_messages(session: SideBySide, column: int, turn: int) -> list[dict[str, str]]:
    """What column ``column`` is sent for prompt ``turn``: its system prompt, its own
    earlier exchanges (those with an answer), then the prompt."""
    settings = session.columns[column].settings
    sent: list[dict[str, str]] = []
    if not is_blank(settings.system_prompt):
        sent.append({"role": "system", "content": settings.system_prompt})
    answers = session.columns[column].answers
    for index in range(turn):
        reply = answers[index].text if index < len(answers) else ""
        if reply:
            sent.append({"role": "user", "content": session.prompts[index]})
            sent.append({"role": "assistant", "content": reply})
    sent.append({"role": "user", "content": session.prompts[turn]})
    return sent


def vote_of(
    session: SideBySide,
    verdict: Verdict,
    *,
    vote_id: str | None = None,
    at: datetime | None = None,
    tags: Sequence[str] = (),
) -> Vote:
    """The vote for ``verdict`` on a two-column session: A and B as shown."""
    if not session.can_vote:
        raise ValueError("a vote needs two columns and every answer in")
    a, b = session.shown
    differ = _differing(a.settings, b.settings)
    return Vote(
        id=vote_id or new_id(),
        a=Contestant(a.settings.model, _contestant_settings(a.settings, differ)),
        b=Contestant(b.settings.model, _contestant_settings(b.settings, differ)),
        verdict=verdict,
        at=at or datetime.now(UTC),
        turns=tuple(
            Turn(prompt, a.answers[i].text, b.answers[i].text)
            for i, prompt in enumerate(session.prompts)
        ),
        blind=session.blind,
        conversation=session.id,
        tags=tuple(tags),
    )


def _differing(first: ChatSettings, second: ChatSettings) -> set[str]:
    names = {found.name for found in declared()} - {"temperature"} | {"system_prompt"}
    return {n for n in names if getattr(first, n) != getattr(second, n)}


def _contestant_settings(settings: ChatSettings, differ: set[str]) -> tuple[Setting, ...]:
    pairs: list[Setting] = [("temperature", settings.temperature)]
    for name in sorted(differ):
        value = getattr(settings, name)
        if isinstance(value, str):
            pairs.append((name, title_from(value)[:MAX_SETTING]))
        elif isinstance(value, bool | int | float):
            pairs.append((name, value))
        elif value is not None:
            pairs.append((name, ", ".join(map(str, value))))
    return tuple(pairs)


def conversation_messages(session: SideBySide, column: int) -> list[ChatMessage]:
    """Column ``column`` as a chat: each prompt and its answer, parent-linked, with the
    column's settings and telemetry (turns without an answer are left out)."""
    target = session.columns[column]
    messages: list[ChatMessage] = []
    parent: str | None = None
    for prompt, answer in zip(session.prompts, target.answers, strict=False):
        if not answer.text:
            continue
        question = ChatMessage("user", prompt, parent_id=parent)
        reply = ChatMessage(
            "assistant",
            answer.text,
            Status.STOPPED if answer.status == Status.STREAMING else answer.status,
            parent_id=question.id,
            settings=target.settings,
            stats=answer.stats,
        )
        messages += [question, reply]
        parent = reply.id
    return messages


# -- the JSON form ------------------------------------------------------------------------


def session_json(session: SideBySide) -> dict[str, Any]:
    """The session as a JSON object (what storage keeps and an export writes)."""
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "id": session.id,
        "title": session.title,
        "prompts": list(session.prompts),
        "columns": [
            {
                "settings": settings_json(column.settings),
                "answers": [_answer_json(a) for a in column.answers],
                "base_url": column.base_url,
            }
            for column in session.columns
        ],
        "order": list(session.order),
        "blind": session.blind,
        "verdict": session.verdict.value if session.verdict is not None else None,
        "vote_id": session.vote_id,
        "created_at": session.created_at.astimezone(UTC).isoformat(),
        "updated_at": session.updated_at.astimezone(UTC).isoformat(),
    }


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "text": answer.text,
        "status": answer.status.value,
        "stats": stats_json(answer.stats),
        "error": answer.error,
    }


def session_from(data: object) -> SideBySide:
    """A session from its JSON form, every field checked; ``SessionError`` names the first
    bad one. An answer still streaming when it was stored reads as stopped."""
    item = _object(data, "the session")
    if item.get("format") != SESSION_FORMAT:
        raise SessionError("format", f'must be "{SESSION_FORMAT}"')
    if item.get("version") != SESSION_VERSION:
        raise SessionError("version", f"must be {SESSION_VERSION}")
    prompts = _list(item.get("prompts"), "prompts", MAX_SIDE_TURNS)
    raw_columns = _list(item.get("columns"), "columns", MAX_COLUMNS)
    if len(raw_columns) < MIN_COLUMNS:
        raise SessionError("columns", f"must hold {MIN_COLUMNS} to {MAX_COLUMNS} columns")
    columns = tuple(
        _column(raw, f"columns[{index}]", len(prompts)) for index, raw in enumerate(raw_columns)
    )
    order = item.get("order")
    if not _is_permutation(order, len(columns)):
        raise SessionError("order", "must list each column's index once")
    blind = item.get("blind")
    if not isinstance(blind, bool):
        raise SessionError("blind", "must be true or false")
    verdict = item.get("verdict")
    if verdict is not None and (
        not isinstance(verdict, str) or verdict not in {v.value for v in Verdict}
    ):
        raise SessionError("verdict", "must be a, b, tie, both bad or null")
    return SideBySide(
        id=_text(item.get("id"), "id", 200, blank=False),
        columns=columns,
        prompts=tuple(_text(p, f"prompts[{i}]", MAX_TEXT) for i, p in enumerate(prompts)),
        order=tuple(order),
        blind=blind,
        verdict=Verdict(verdict) if verdict is not None else None,
        vote_id=_text(item.get("vote_id", ""), "vote_id", 200),
        created_at=_time(item.get("created_at"), "created_at"),
        updated_at=_time(item.get("updated_at"), "updated_at"),
    )


def _is_permutation(order: object, size: int) -> TypeGuard[list[int]]:
    """Whether ``order`` lists 0 .. size-1 once each, as integers (not 1.0, not true)."""
    if not isinstance(order, list) or any(type(index) is not int for index in order):
        return False
    return sorted(order) == list(range(size))


def _column(value: object, where: str, turns: int) -> Column:
    item = _object(value, where)
    try:
        settings = settings_from(item.get("settings"), f"{where}.settings")
    except InvalidDocument as err:
        raise SessionError(f"{where}.settings", f"is not valid ({err.message})") from None
    answers = _list(item.get("answers"), f"{where}.answers", turns)
    return Column(
        settings,
        tuple(_answer(a, f"{where}.answers[{i}]") for i, a in enumerate(answers)),
        _text(item.get("base_url", ""), f"{where}.base_url", MAX_URL),
    )


def _answer(value: object, where: str) -> Answer:
    item = _object(value, where)
    status = item.get("status")
    if not isinstance(status, str) or status not in {s.value for s in Status}:
        raise SessionError(f"{where}.status", "is not a known status")
    stats = item.get("stats")
    try:
        read = stats_from(stats, f"{where}.stats") if stats is not None else None
    except InvalidDocument as err:
        raise SessionError(f"{where}.stats", f"is not valid ({err.message})") from None
    shown = Status(status)
    return Answer(
        text=_text(item.get("text"), f"{where}.text", MAX_TEXT),
        status=Status.STOPPED if shown == Status.STREAMING else shown,
        stats=read,
        error=_text(item.get("error", ""), f"{where}.error", MAX_ERROR),
    )
