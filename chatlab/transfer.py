"""The conversation formats: titles, the Markdown export, and the JSON document.

Kept apart from ``storage`` because none of it touches a database: an export is read
from rows and written as plain data, and an import is checked here whole, field by field,
before the store writes a single row of it. Settings and stats travel as dicts whose
keys are the dataclass field names, the same form the store keeps in its JSON columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Role, Status, Usage

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60
MAX_TITLE_LENGTH = 200
EXPORT_FORMAT = "chatlab.conversation"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 50_000_000
MAX_IMPORT_MESSAGES = 10_000
MAX_IMPORT_CHARS = 20_000_000
MAX_TEXT_LENGTH = 1_000_000
MAX_ID_LENGTH = 100
ROLES: tuple[str, ...] = get_args(Role)


# -- settings and stats as JSON ----------------------------------------------------------


def settings_from(data: Mapping[str, Any]) -> ChatSettings:
    """Settings from their JSON form (keys are the dataclass fields)."""
    return ChatSettings(
        model=str(data["model"]),
        temperature=float(data["temperature"]),
        max_tokens=int(data["max_tokens"]),
        system_prompt=str(data["system_prompt"]),
    )


def stats_from(data: Mapping[str, Any]) -> ReplyStats:
    """Telemetry from its JSON form (keys are the dataclass fields)."""
    usage = data["usage"]
    return ReplyStats(
        model=str(data["model"]),
        usage=Usage(
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            estimated=bool(usage.get("estimated", False)),
        ),
        finish_reason=data.get("finish_reason"),
        time_to_first_token=_optional_float(data.get("time_to_first_token")),
        total_time=float(data["total_time"]),
        cost_usd=_optional_float(data.get("cost_usd")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- titles ----------------------------------------------------------------------------


def title_from(text: str) -> str:
    """A conversation title from its first question: one line, cut at a word boundary."""
    words = " ".join(text.split())
    if len(words) <= TITLE_LENGTH:
        return words
    head = words[: TITLE_LENGTH + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head[:TITLE_LENGTH]
    return cut.rstrip(" ,.;:-") + "…"


def clean_title(title: str) -> str:
    """A title fit to store: one line, not too long, never empty."""
    return " ".join(title.split())[:MAX_TITLE_LENGTH] or DEFAULT_TITLE


# -- Markdown export ---------------------------------------------------------------------

_STATUS_NOTES = {
    Status.STREAMING: "unfinished",
    Status.STOPPED: "stopped before the end",
    Status.LENGTH: "cut off at the token limit",
    Status.CONTENT_FILTER: "stopped by the content filter",
    Status.FAILED: "interrupted by an error",
}


def markdown_document(title: str, path: Sequence[ChatMessage]) -> str:
    """A conversation's current path as a Markdown document."""
    now = datetime.now(UTC)
    lines = [f"# {title}", "", f"*Exported from Chat Lab, {now:%Y-%m-%d %H:%M} UTC*"]
    for message in path:
        heading = message.role.capitalize()
        if message.stats is not None:
            heading += f" · {message.stats.model}"
        lines += ["", f"## {heading}", "", message.content or "*(empty)*"]
        note = _STATUS_NOTES.get(message.status)
        if note:
            lines += ["", f"*({note})*"]
        if message.notices:
            lines += ["", *(f"> {notice}" for notice in message.notices)]
    return "\n".join(lines) + "\n"


# -- import validation -------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A validated import: fields checked, messages in parent-first order."""

    title: str
    created_at: datetime | None
    leaf_id: str | None
    messages: list[tuple[ChatMessage, datetime]]


FieldKind = Literal["text", "number", "count", "flag"]
_KIND_CHECKS: dict[FieldKind, tuple[Callable[[object], bool], str]] = {
    "text": (lambda v: isinstance(v, str) and len(v) <= MAX_TEXT_LENGTH, "a string"),
    "number": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        "a number",
    ),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a count"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
}
# name -> (kind, may be null)
_SETTINGS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "temperature": ("number", False),
    "max_tokens": ("count", False),
    "system_prompt": ("text", False),
}
_STATS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "finish_reason": ("text", True),
    "time_to_first_token": ("number", True),
    "total_time": ("number", False),
    "cost_usd": ("number", True),
}
_USAGE_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "prompt_tokens": ("count", False),
    "completion_tokens": ("count", False),
    "estimated": ("flag", True),
}


class InvalidDocument(ValueError):
    """What is wrong with an import file, in words."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _invalid(problem: str) -> InvalidDocument:
    return InvalidDocument(problem)


def parse_document(data: object) -> Document:
    """Check a whole export (parsed, or its text/bytes); raise ``InvalidDocument`` if wrong."""
    doc = _object(_decoded(data), "the file")
    if doc.get("format") != EXPORT_FORMAT:
        raise _invalid(f'it is not a Chat Lab conversation ("format" is not "{EXPORT_FORMAT}")')
    version = doc.get("version")
    if not _KIND_CHECKS["count"][0](version):
        raise _invalid('"version" must be a whole number')
    if version != EXPORT_VERSION:
        raise _invalid(f"it has format version {version}; this Chat Lab reads {EXPORT_VERSION}")
    title = doc.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH:
        raise _invalid(f'"title" must be a string of at most {MAX_TITLE_LENGTH} characters')
    raw_messages = doc.get("messages")
    if not isinstance(raw_messages, list) or len(raw_messages) > MAX_IMPORT_MESSAGES:
        raise _invalid(f'"messages" must be a list of at most {MAX_IMPORT_MESSAGES} messages')
    messages = _parse_messages(raw_messages)
    leaf_id = doc.get("current_leaf_id") or (messages[-1][0].id if messages else None)
    if leaf_id is not None and leaf_id not in {m.id for m, _ in messages}:
        raise _invalid('"current_leaf_id" must be the id of one of the messages')
    created_at = _time(doc.get("created_at"), "created_at")
    return Document(clean_title(title), created_at, leaf_id, messages)


def _decoded(data: object) -> object:
    if not isinstance(data, str | bytes):
        return data
    if len(data) > MAX_IMPORT_BYTES:
        raise _invalid(f"it is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _invalid(f"it is not valid JSON ({exc})") from exc


def _parse_messages(raw_messages: list[object]) -> list[tuple[ChatMessage, datetime]]:
    parsed: list[tuple[ChatMessage, datetime]] = []
    seen: set[str] = set()
    total = 0
    for index, raw in enumerate(raw_messages):
        message, created_at = _parse_message(raw, f"messages[{index}]", seen)
        seen.add(message.id)
        total += len(message.content)
        if total > MAX_IMPORT_CHARS:
            raise _invalid(f"its messages hold more than {MAX_IMPORT_CHARS:,} characters")
        parsed.append((message, created_at))
    return parsed


def _parse_message(raw: object, where: str, seen: set[str]) -> tuple[ChatMessage, datetime]:
    item = _object(raw, where)
    message_id = item.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_LENGTH:
        raise _invalid(f"{where}.id must be a non-empty string of at most {MAX_ID_LENGTH}")
    if message_id in seen:
        raise _invalid(f"{where}.id repeats an earlier message's id")
    parent_id = item.get("parent_id")
    if parent_id is not None and parent_id not in seen:
        raise _invalid(f"{where}.parent_id must be null or the id of an earlier message")
    role = item.get("role")
    if role not in ROLES:
        raise _invalid(f"{where}.role must be one of {', '.join(ROLES)}")
    _check_fields(item, {"content": ("text", False)}, where)
    status = item.get("status", Status.COMPLETE.value)
    if status not in {s.value for s in Status}:
        raise _invalid(f"{where}.status must be one of {', '.join(s.value for s in Status)}")
    message = ChatMessage(
        role=role,
        content=item["content"],
        status=Status(status),
        id=message_id,
        parent_id=parent_id,
        settings=_parse_settings(item.get("settings"), f"{where}.settings"),
        stats=_parse_stats(item.get("stats"), f"{where}.stats"),
        notices=_parse_notices(item.get("notices", []), f"{where}.notices"),
    )
    return message, _time(item.get("created_at"), f"{where}.created_at") or datetime.now(UTC)


def _parse_settings(raw: object, where: str) -> ChatSettings | None:
    if raw is None:
        return None
    return settings_from(_check_fields(_object(raw, where), _SETTINGS_FIELDS, where))


def _parse_stats(raw: object, where: str) -> ReplyStats | None:
    if raw is None:
        return None
    stats = _check_fields(_object(raw, where), _STATS_FIELDS, where)
    _check_fields(_object(stats.get("usage"), f"{where}.usage"), _USAGE_FIELDS, f"{where}.usage")
    return stats_from(stats)


def _parse_notices(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > 100:
        raise _invalid(f"{where} must be a list of at most 100 strings")
    if not all(isinstance(n, str) and len(n) <= 10_000 for n in raw):
        raise _invalid(f"{where} must hold only strings of at most 10,000 characters")
    return tuple(raw)


def _object(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise _invalid(f"{where} must be a JSON object")
    return raw


def _check_fields(
    item: Mapping[str, Any], fields: Mapping[str, tuple[FieldKind, bool]], where: str
) -> Mapping[str, Any]:
    for name, (kind, nullable) in fields.items():
        value = item.get(name)
        check, words = _KIND_CHECKS[kind]
        if not (value is None and nullable) and not check(value):
            raise _invalid(f"{where}.{name} must be {words}" + (" or null" if nullable else ""))
    return item


def _time(raw: object, where: str) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _invalid(f"{where} must be a date and time like 2025-01-31T12:00:00+00:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
