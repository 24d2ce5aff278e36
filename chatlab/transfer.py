"""The conversation formats: titles and the JSON document (the Markdown export is
``chatlab.chat.export``).

Kept apart from ``storage`` because none of it touches a database: an export is read
from rows and written as plain data, and an import is checked here whole, field by field,
before the store writes a single row of it. Settings and stats travel as dicts whose
keys are the dataclass field names, the same form the store keeps in its JSON columns.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, get_args

from chatlab.attachments import (
    MAX_FILES,
    MAX_IMAGE_BYTES,
    Attachment,
    AttachmentError,
    check_files,
)
from chatlab.errors import ChatLabError
from chatlab.logprobs import valid_logprob
from chatlab.messages import (
    SOURCES,
    ChatMessage,
    ChatSettings,
    ReplyStats,
    Role,
    Status,
    Usage,
)
from chatlab.params import Declared, declared
from chatlab.structured import MAX_SCHEMA_CHARS, format_from_json
from chatlab.tools import (
    MAX_ARGUMENT_CHARS,
    MAX_RESULT_CHARS,
    MAX_TOOL_CALLS,
    ToolCall,
    tool_calls_from,
)

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
MAX_NOTICES = 100
MAX_NOTICE_LENGTH = 10_000
# Bounds past which a number is not telemetry but a fault (a server's or a hand edit's).
MAX_TOKENS = 1_000_000_000
MAX_SECONDS = 1_000_000.0
MAX_COST_USD = 1_000_000.0
_MAX_BASE64 = (MAX_IMAGE_BYTES + 2) // 3 * 4  # the largest attachment, base64-encoded
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
# The most JSON containers (objects, lists) and values (commas) a file of at most
# MAX_IMPORT_MESSAGES messages can hold: a message is an object with settings (and their
# list of stop sequences and its response format), stats, usage and a list of notices,
# about thirty fields and at most MAX_NOTICES notices. (A response format's schema is text:
# its braces are inside a string, and strings are not counted.)
MAX_IMPORT_CONTAINERS = 7 * MAX_IMPORT_MESSAGES + 10
MAX_IMPORT_VALUES = (40 + MAX_NOTICES) * MAX_IMPORT_MESSAGES + 100
# A reply's stored request repeats the conversation before it, so requests dominate a
# long conversation's export: about n²/4 message objects for n messages. The allowance
# holds the requests of a conversation of about 1,000 messages and keeps what a file of
# empty objects can make the parser build to a few megabytes; a longer conversation's
# export keeps the requests of its newest replies (``fit_requests``).
MAX_REQUEST_CHARS = 4_000_000  # one request's JSON; a 1M-token context is about this
MAX_REQUEST_DEPTH = 32  # a request body nests a few levels; an import cannot go deeper
MAX_REQUEST_CONTAINERS = 250_000
MAX_REQUEST_VALUES = 3 * MAX_REQUEST_CONTAINERS
ROLES: tuple[str, ...] = get_args(Role)
_T = TypeVar("_T")
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidDocument(ChatLabError):
    """What is wrong with an import file (or a stored JSON field), in words."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"This file cannot be imported: {problem}.",
            "Nothing was imported. Choose a JSON file exported by Chat Lab, or fix the file.",
            retryable=False,
        )
        self.problem = problem


def _invalid(problem: str) -> InvalidDocument:
    return InvalidDocument(problem)


# -- field rules, shared by imports and the store ----------------------------------------


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (which no encoding can store) replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _is_text(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
        return False
    return value.isascii() or _SURROGATE.search(value) is None


def _is_number(value: object, top: float, bottom: float = 0) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and bottom <= value <= top


FieldKind = Literal["text", "seconds", "usd", "count", "flag", "logprob"]
_KIND_CHECKS: dict[FieldKind, tuple[Callable[[object], bool], str]] = {
    "text": (_is_text, "a string of valid Unicode text"),
    "seconds": (
        lambda v: _is_number(v, MAX_SECONDS),
        f"a number of seconds up to {MAX_SECONDS:,.0f}",
    ),
    "usd": (lambda v: _is_number(v, MAX_COST_USD), f"a number from 0 to {MAX_COST_USD:,.0f}"),
    "count": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_TOKENS,
        f"a count (a whole number from 0 to {MAX_TOKENS:,})",
    ),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "logprob": (lambda v: valid_logprob(v) is not None, "a number no greater than 0"),
}
# name -> (kind, may be null). The sampling parameters are checked by their declarations
# (``_check_params``).
_SETTINGS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "system_prompt": ("text", False),
}
_STATS_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "model": ("text", False),
    "finish_reason": ("text", True),
    "time_to_first_token": ("seconds", True),
    "total_time": ("seconds", False),
    "cost_usd": ("usd", True),
    "reasoning_tokens": ("count", True),
    "mean_logprob": ("logprob", True),
}
_USAGE_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "prompt_tokens": ("count", False),
    "completion_tokens": ("count", False),
    "estimated": ("flag", True),
}


def settings_from(data: object, where: str = "settings") -> ChatSettings:
    """Settings from their JSON form; ``InvalidDocument`` names the first bad field."""
    item = _check_fields(_object(data, where), _SETTINGS_FIELDS, where)
    values = _check_params(item, where)
    return ChatSettings(model=item["model"], system_prompt=item["system_prompt"], **values)


def _check_params(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The sampling parameters of ``item``, checked against their declarations: pydantic's
    strict types (no text for a number, no true for a count), finite numbers, the declared
    range; the first error's ``loc`` names the field. Absent or null reads as "not set"
    (settings written before a parameter existed lack it); those always sent are required."""
    from pydantic import ValidationError

    declarations = declared()
    try:
        checked = _params_adapter(declarations).validate_python(item)
    except ValidationError as exc:
        raise _invalid(_problem(exc.errors()[0]["loc"], declarations, where)) from None
    values = {}
    for found in declarations:
        value = checked.get(found.name)
        values[found.name] = found.default if value is None else value
    return values


def _problem(loc: tuple[int | str, ...], declarations: tuple[Declared, ...], where: str) -> str:
    name = str(loc[0])
    (found,) = [d for d in declarations if d.name == name]
    return f"{where}.{name} must be {_words(found)}" + (" or null" if found.nullable else "")


def _words(found: Declared) -> str:
    """What a valid value of parameter ``found`` is, in words."""
    kind, param = found.kind, found.param
    low, high = param.stored or (param.low, param.high)
    if isinstance(kind, tuple):
        return f"one of {', '.join(kind)}"
    if param.control == "format":
        return (
            "an object with type json_object or json_schema and, for json_schema, the schema "
            f"as text of at most {MAX_SCHEMA_CHARS:,} characters"
        )
    if kind is bool:
        return "true or false"
    if kind is tuple:
        return (
            f"a list of at most {high:g} non-empty strings of at most {param.max_length} characters"
        )
    number = "a whole number" if kind is int else "a number"
    return f"{number} from {low:,.10g} to {high:,.10g}"


@functools.cache
def _params_adapter(declarations: tuple[Declared, ...]) -> Any:
    """A pydantic ``TypeAdapter`` for the declared parameters, as a JSON object holds them.

    Built on first use: pydantic takes a while to import, and a page that reads no
    settings needs none of it (the openai SDK loads it later anyway)."""
    from typing import NotRequired, Required

    from pydantic import TypeAdapter
    from typing_extensions import TypedDict

    shape: dict[str, Any] = {}
    for found in declarations:
        value = _json_type(found)
        shape[found.name] = NotRequired[value | None] if found.nullable else Required[value]
    return TypeAdapter(TypedDict("SettingsJSON", shape))  # type: ignore[operator]


def _json_type(found: Declared) -> Any:
    """The declared type with its range, strict: what a JSON value of it may be."""
    import annotated_types as limits
    from pydantic import AfterValidator, AllowInfNan, PlainValidator, Strict

    kind, param = found.kind, found.param
    low, high = param.stored or (param.low, param.high)
    if isinstance(kind, tuple):
        return Literal[kind]
    if param.control == "format":  # {"type", "schema"}, read by chatlab.structured
        return Annotated[Any, PlainValidator(_response_format)]
    if kind is tuple:
        item = Annotated[
            str, Strict(), limits.Len(1, param.max_length), AfterValidator(_valid_text)
        ]
        return Annotated[tuple[item, ...], limits.Len(0, int(high or 0))]
    bounds = [limits.Ge(low), limits.Le(high)] if low is not None and high is not None else []
    if kind is float:  # a whole number is a number too (JSON writes 2.0 as 2)
        return Annotated[float, Strict(), AllowInfNan(False), *bounds]
    return Annotated[kind, Strict(), *bounds]


def _response_format(value: object) -> object:
    if value is None:
        return None
    found = format_from_json(value)
    _valid_text(found.schema)
    return found


def _valid_text(value: str) -> str:
    if not _is_text(value):
        raise ValueError("not valid Unicode text")
    return value


def stats_from(data: object, where: str = "stats") -> ReplyStats:
    """Telemetry from its JSON form; ``InvalidDocument`` names the first bad field."""
    item = _check_fields(_object(data, where), _STATS_FIELDS, where)
    usage = _check_fields(
        _object(item.get("usage"), f"{where}.usage"), _USAGE_FIELDS, f"{where}.usage"
    )
    return ReplyStats(
        model=item["model"],
        usage=Usage(
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            estimated=bool(usage.get("estimated") or False),
        ),
        finish_reason=item.get("finish_reason"),
        time_to_first_token=_optional_float(item.get("time_to_first_token")),
        total_time=float(item["total_time"]),
        cost_usd=_optional_float(item.get("cost_usd")),
        parts=_parts(item.get("parts")),
        reasoning_tokens=item.get("reasoning_tokens"),
        mean_logprob=_optional_float(item.get("mean_logprob")),
        source=_source(item.get("source")),
    )


def _source(value: object) -> str:
    # Absent before Usage told pages apart: every stored reply then came from the chat.
    return value if isinstance(value, str) and value in SOURCES else "chat"


def _parts(value: object) -> int:
    # Absent in exports from before Continue added parts up: one request.
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TOKENS
    return value if ok and isinstance(value, int) else 1


def settings_json(settings: ChatSettings | None) -> dict[str, Any] | None:
    """Settings as stored: their JSON form, or None (unknown) when a field is out of bounds."""
    if settings is None:
        return None
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}
    return _readable(data, settings_from)


def stats_json(stats: ReplyStats | None) -> dict[str, Any] | None:
    """Telemetry as stored: optional fields out of bounds become null; None if more is bad."""
    if stats is None:
        return None
    data = asdict(stats)
    for name, (kind, nullable) in _STATS_FIELDS.items():
        if nullable and not _KIND_CHECKS[kind][0](data.get(name)):
            data[name] = None
    return _readable(data, stats_from)


def request_json(request: dict[str, Any] | None) -> dict[str, Any] | None:
    """A request body as stored: lone surrogates replaced; None when it cannot be stored."""
    if request is None:
        return None
    try:  # the round trip also copies it, so later changes to the sent lists do not leak in
        text = json.dumps(request, ensure_ascii=False, allow_nan=False)
        copied = json.loads(clean_text(text))
        return request_from(copied)
    except (TypeError, ValueError, RecursionError, InvalidDocument):
        return None


def fit_requests(exported: list[dict[str, Any]]) -> None:
    """Drop the oldest replies' requests from an export until the rest fit an import."""
    room = MAX_REQUEST_CONTAINERS
    for message in reversed(exported):
        request = message.get("request")
        if request is None:
            continue
        text = json.dumps(request)  # counts braces inside strings too: errs on the safe side
        room -= text.count("{") + text.count("[")
        if room < 0:
            message["request"] = None


def request_from(data: object, where: str = "request") -> dict[str, Any]:
    """A request body from its JSON form: an object of valid, bounded JSON values."""
    request = dict(_object(data, where))
    _check_json_values(request, where)
    if len(json.dumps(request, ensure_ascii=False)) > MAX_REQUEST_CHARS:
        raise _invalid(f"{where} must be at most {MAX_REQUEST_CHARS:,} characters of JSON")
    return request


def _check_json_values(data: object, where: str) -> None:
    """Every value valid JSON of valid text, finite numbers, nested at most a few levels."""
    pending: list[tuple[object, int]] = [(data, 0)]  # a loop, not recursion: imports nest
    while pending:
        value, depth = pending.pop()
        if depth > MAX_REQUEST_DEPTH:
            raise _invalid(f"{where} nests deeper than {MAX_REQUEST_DEPTH} levels")
        if isinstance(value, dict):
            if not all(_is_text(key) for key in value):
                raise _invalid(f"{where} must have only keys of valid Unicode text")
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if not _is_text(value):
                raise _invalid(f"{where} must hold only strings of valid Unicode text")
        elif isinstance(value, float) and not math.isfinite(value):
            raise _invalid(f"{where} must hold only finite numbers")
        elif value is not None and not isinstance(value, bool | int | float):
            raise _invalid(f"{where} must hold only JSON values")


def _readable(data: dict[str, Any], read: Callable[[object], object]) -> dict[str, Any] | None:
    """``data`` if it reads back, else None: never store what cannot be read back."""
    try:
        read(data)
    except InvalidDocument:
        return None
    return data


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
    """A title fit to store: one line, not too long, valid Unicode, never empty."""
    return clean_text(" ".join(title.split())[:MAX_TITLE_LENGTH]) or DEFAULT_TITLE


# -- import validation -------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A validated import: fields checked, messages in parent-first order."""

    title: str
    created_at: datetime | None
    leaf_id: str | None
    messages: list[tuple[ChatMessage, datetime]]


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
    if not _is_text(title) or len(title) > MAX_TITLE_LENGTH:
        raise _invalid(f'"title" must be a string of at most {MAX_TITLE_LENGTH} characters')
    raw_messages = doc.get("messages")
    if not isinstance(raw_messages, list) or len(raw_messages) > MAX_IMPORT_MESSAGES:
        raise _invalid(f'"messages" must be a list of at most {MAX_IMPORT_MESSAGES} messages')
    messages = _parse_messages(raw_messages)
    leaf_id = doc.get("current_leaf_id") or (messages[-1][0].id if messages else None)
    if leaf_id is not None and (
        not isinstance(leaf_id, str) or leaf_id not in {m.id for m, _ in messages}
    ):
        raise _invalid('"current_leaf_id" must be the id of one of the messages')
    created_at = _time(doc.get("created_at"), "created_at")
    return Document(clean_title(title), created_at, leaf_id, messages)


def _decoded(data: object) -> object:
    if not isinstance(data, str | bytes):
        return data
    if len(data) > MAX_IMPORT_BYTES:
        raise _invalid(f"it is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    _check_shape(data)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _invalid(f"it is not valid JSON ({exc})") from exc


# A JSON string, quotes included (the unrolled loop keeps the regex linear).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_STRING_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _check_shape(data: str | bytes) -> None:
    """Refuse, before parsing, a file with more objects, lists or values than an export holds.

    Parsing builds a Python object per JSON value (16 million ``{}`` took 1.3 GB), so the
    limits are checked on the text: counting brackets and commas outside strings costs at
    most one copy of the text, and only when a plain count is over the limit.
    """
    if _counts_fit(data):
        return
    structure: str | bytes = (
        _JSON_STRING_BYTES.sub(b"", data) if isinstance(data, bytes) else _JSON_STRING.sub("", data)
    )
    if not _counts_fit(structure):
        raise _invalid(
            f"it holds more JSON objects, lists or values than {MAX_IMPORT_MESSAGES:,} "
            "messages can (a Chat Lab export is never this shape)"
        )


def _counts_fit(data: str | bytes) -> bool:
    def count(char: str) -> int:
        return data.count(char.encode()) if isinstance(data, bytes) else data.count(char)

    containers = count("{") + count("[")
    values = count(",")
    return (
        containers <= MAX_IMPORT_CONTAINERS + MAX_REQUEST_CONTAINERS
        and values <= MAX_IMPORT_VALUES + MAX_REQUEST_VALUES
    )


def _parse_messages(raw_messages: list[object]) -> list[tuple[ChatMessage, datetime]]:
    parsed: list[tuple[ChatMessage, datetime]] = []
    seen: set[str] = set()
    total = 0
    for index, raw in enumerate(raw_messages):
        message, created_at = _parse_message(raw, f"messages[{index}]", seen)
        seen.add(message.id)
        total += len(message.content) + len(message.reasoning)
        total += sum(len(c.arguments) + len(c.result or "") for c in message.tool_calls)
        if total > MAX_IMPORT_CHARS:
            raise _invalid(f"its messages hold more than {MAX_IMPORT_CHARS:,} characters")
        parsed.append((message, created_at))
    return parsed


def _parse_message(raw: object, where: str, seen: set[str]) -> tuple[ChatMessage, datetime]:
    item = _object(raw, where)
    message_id = item.get("id")
    if not isinstance(message_id, str) or not _is_text(message_id):
        message_id = ""
    if not 0 < len(message_id) <= MAX_ID_LENGTH:
        raise _invalid(f"{where}.id must be a non-empty string of at most {MAX_ID_LENGTH}")
    if message_id in seen:
        raise _invalid(f"{where}.id repeats an earlier message's id")
    parent_id = item.get("parent_id")
    if parent_id is not None and (not isinstance(parent_id, str) or parent_id not in seen):
        raise _invalid(f"{where}.parent_id must be null or the id of an earlier message")
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise _invalid(f"{where}.role must be one of {', '.join(ROLES)}")
    _check_fields(item, {"content": ("text", False), "reasoning": ("text", True)}, where)
    status = item.get("status", Status.COMPLETE.value)
    if not isinstance(status, str) or status not in STATUSES:
        raise _invalid(f"{where}.status must be one of {', '.join(STATUSES)}")
    message = ChatMessage(
        role=role,  # type: ignore[arg-type]  # checked against ROLES above
        content=item["content"],
        status=Status(status),
        id=message_id,
        parent_id=parent_id,
        settings=_parse_optional(item.get("settings"), f"{where}.settings", settings_from),
        stats=_parse_optional(item.get("stats"), f"{where}.stats", stats_from),
        notices=notices_from(item.get("notices", []), f"{where}.notices"),
        request=_parse_optional(item.get("request"), f"{where}.request", request_from),
        reasoning=item.get("reasoning") or "",  # exports from before it have none
        attachments=_parse_optional(
            item.get("attachments"), f"{where}.attachments", attachments_from
        )
        or (),
        tool_calls=_parse_optional(
            item.get("tool_calls"), f"{where}.tool_calls", tool_calls_checked
        )
        or (),
    )
    return message, _time(item.get("created_at"), f"{where}.created_at") or datetime.now(UTC)


_TOOL_CALL_FIELDS: dict[str, tuple[FieldKind, bool]] = {
    "id": ("text", False),
    "name": ("text", False),
    "arguments": ("text", False),
    "result": ("text", True),
}


def tool_calls_checked(raw: object, where: str = "tool_calls") -> tuple[ToolCall, ...]:
    """A reply's tool calls, checked whole: ``InvalidDocument`` names the first bad field."""
    if not isinstance(raw, list) or len(raw) > MAX_TOOL_CALLS:
        raise _invalid(f"{where} must be a list of at most {MAX_TOOL_CALLS} calls")
    for index, item in enumerate(raw):
        call = _object(item, f"{where}[{index}]")
        _check_fields(call, _TOOL_CALL_FIELDS, f"{where}[{index}]")
        if len(call["arguments"]) > MAX_ARGUMENT_CHARS or len(call.get("result") or "") > (
            MAX_RESULT_CHARS
        ):
            raise _invalid(f"{where}[{index}] is longer than a tool call may be")
    return tool_calls_from(raw)


def attachments_json(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """A message's files in the export: name, media type and base64 bytes."""
    return [
        {"name": a.name, "mime": a.mime, "data": base64.b64encode(a.data).decode("ascii")}
        for a in attachments
    ]


def attachments_from(raw: object, where: str = "attachments") -> tuple[Attachment, ...]:
    """A message's files from an export, checked as if they had just been attached."""
    if not isinstance(raw, list) or len(raw) > MAX_FILES:
        raise _invalid(f"{where} must be a list of at most {MAX_FILES} files")
    files: list[tuple[str, bytes]] = []
    for index, item in enumerate(raw):
        entry = _object(item, f"{where}[{index}]")
        name, data = entry.get("name"), entry.get("data")
        if not isinstance(name, str) or not _is_text(name):
            name = None
        if name is None or not isinstance(data, str) or len(data) > _MAX_BASE64:
            raise _invalid(
                f"{where}[{index}] must have a name and base64 data of at most "
                f"{MAX_IMAGE_BYTES // 1_000_000} MB"
            )
        try:
            files.append((name, base64.b64decode(data, validate=True)))
        except ValueError:
            raise _invalid(f"{where}[{index}].data is not base64") from None
    try:
        return check_files(files)
    except AttachmentError as exc:
        raise _invalid(f"{where}: {exc.message.removeprefix('Nothing was sent: ')}") from exc


def _parse_optional(raw: object, where: str, read: Callable[[object, str], _T]) -> _T | None:
    return None if raw is None else read(raw, where)


def notices_from(raw: object, where: str = "notices") -> tuple[str, ...]:
    """Notices from their JSON form; ``InvalidDocument`` says what is wrong."""
    if not isinstance(raw, list) or len(raw) > MAX_NOTICES:
        raise _invalid(f"{where} must be a list of at most {MAX_NOTICES} strings")
    if not all(_is_text(n) and len(n) <= MAX_NOTICE_LENGTH for n in raw):
        raise _invalid(
            f"{where} must hold only strings of valid Unicode text of at most "
            f"{MAX_NOTICE_LENGTH:,} characters"
        )
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
        if parsed is not None:
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise _invalid(
            f"{where} must be a date and time between {EARLIEST.year} and {LATEST.year}, "
            "like 2025-01-31T12:00:00+00:00"
        )
    return parsed
