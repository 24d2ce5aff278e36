"""Structured output: the response format as data, a JSON Schema checked before it is sent,
and a reply checked against it (a list of violations, each with its JSON path).

A reply's format is one declared parameter, ``ChatSettings.response_format``
(``chatlab.params``): ``None`` is plain text (nothing sent), otherwise a ``ResponseFormat``,
sent as OpenAI's ``response_format``: ``{"type": "json_object"}``, or ``{"type":
"json_schema", "json_schema": {"name", "schema", "strict": true}}``.

What the servers do with it (read in their sources and docs):

- OpenAI: both types; ``strict: true`` makes the model follow the schema exactly, and a
  schema strict mode cannot take (every property ``required``, ``additionalProperties:
  false``) is refused with a 400 that names ``response_format``; older models refuse the
  field with "Invalid parameter: 'response_format' of type ... is not supported".
- llama.cpp (``llama-server``, tools/server/server-common.cpp, ``oaicompat_chat_params_parse``):
  ``json_object`` (with an optional ``schema`` beside the type) and ``json_schema`` (the schema
  under ``json_schema.schema``) become a grammar; any other type is refused with "response_format
  type must be one of "text" or "json_object", but got: ..." (older builds said that of
  ``json_schema`` too).
- vLLM (vllm/entrypoints/openai/protocol.py, ``ResponseFormat``): ``text``, ``json_object``
  and ``json_schema``, whose ``name`` is required (so one is always sent here) and whose
  ``strict`` is accepted; the schema is enforced by its structured-output (guided decoding)
  backend either way.
- LM Studio (docs, "Structured Output"): ``json_schema`` only, as OpenAI spells it;
  ``json_object`` is refused with a 400 whose whole error is the string
  "'response_format.type' must be 'json_schema' or 'text'".
- Ollama (openai/openai.go, ``fromChatRequest``): ``json_object`` becomes ``format: "json"``
  and ``json_schema`` ``format: <the schema>``; ``strict`` and the name are not read.

Where a server refuses the field, ``chatlab.provider.client`` learns it for that model and
that format type (the fallback every "when set" parameter has, per type: LM Studio still
gets ``json_schema`` after refusing ``json_object``): the request goes again without it and
the reply says the setting had no effect
(``chatlab.provider.dialects.refuses_response_format`` knows the wordings that come
without OpenAI's ``unsupported_parameter`` code).

Decisions:

- The schema is kept as the text typed (``ResponseFormat.schema``), not parsed: the editor
  shows it as written, the settings stay hashable, and a stored or imported one is text
  within a bound. It is checked (``check_schema``) before anything is sent: JSON, an object,
  valid against its own metaschema (``jsonschema``'s ``validator_for``; 2020-12 unless it
  names another ``$schema``), no ``$ref`` outside itself (checking a reply never reads the
  network or the disk), no regex that could run for ever on a reply (``risky_pattern``: the
  evaluation's regex assertion shares its heuristic). A problem names where it is, as a JSON
  path into the schema.
- The request's ``name`` is the schema's ``title`` where that is a valid name (letters,
  digits, ``_`` and ``-``, up to 64), else ``reply``: one field less to fill in.
- A reply is checked as it ended (``check_reply``): cut at max tokens (``finish_reason``
  "length") its JSON is incomplete, said so rather than "not JSON"; otherwise it must parse
  whole (no Markdown fence: the servers constrain the tokens, a fence means they did not);
  a ``json_object`` reply must be an object; a ``json_schema`` reply is validated and every
  violation listed (sorted by path, at most ``MAX_VIOLATIONS``) as ``$.items[2].price: 'x'
  is not of type 'number'``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError

from chatlab.errors import ChatLabError

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_SCHEMA",
    "EXAMPLES",
    "FORMAT_LABELS",
    "MAX_PATTERN",
    "MAX_SCHEMA_CHARS",
    "MAX_VIOLATIONS",
    "NESTED_QUANTIFIER",
    "FormatType",
    "ReplyCheck",
    "ResponseFormat",
    "SchemaProblem",
    "Violation",
    "check_reply",
    "check_schema",
    "format_from_json",
    "outside_ref",
    "risky_pattern",
    "schema_problem",
    "violations",
]

FormatType = Literal["json_object", "json_schema"]
FORMAT_TYPES: tuple[str, ...] = get_args(FormatType)
# What the control offers ("text": no response_format), as it names them.
FORMAT_LABELS = {"text": "Text", "json_object": "JSON object", "json_schema": "JSON Schema"}
MAX_SCHEMA_CHARS = 20_000
MAX_VIOLATIONS = 50
CHECKS_KEPT = 64
MAX_MESSAGE = 200  # characters of one violation's message (it may quote the value)
DEFAULT_NAME = "reply"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_PATTERN = 500  # characters of a schema's regex (a pattern, a patternProperties key)
# A heuristic for nested repetition: a quantified group holding a quantifier ((a+)+,
# (\w+\s?)*, (x{2,})+), or a quantifier closing groups that are quantified (((a+))+).
NESTED_QUANTIFIER = re.compile(
    r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]|(?<!\\)[+*}]\)+[+*{]"
)


@dataclass(frozen=True)
class ResponseFormat:
    """A reply's format: a JSON object, or JSON that matches ``schema`` (its text as typed)."""

    type: FormatType
    schema: str = ""  # json_schema: the JSON Schema's text

    @property
    def name(self) -> str:
        """The request's schema name: the schema's title when it is a valid name."""
        try:
            title = json.loads(self.schema).get("title") if self.type == "json_schema" else None
        except (ValueError, AttributeError, RecursionError):
            title = None
        return title if isinstance(title, str) and _NAME.fullmatch(title) else DEFAULT_NAME

    def request_value(self) -> dict[str, Any]:
        """The request's ``response_format``; ``SchemaProblem`` when the schema is not one."""
        if self.type == "json_object":
            return {"type": "json_object"}
        schema = check_schema(self.schema)
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": schema, "strict": True},
        }


class SchemaProblem(ChatLabError):
    """Why a JSON Schema cannot be sent, and where in it (a JSON path)."""

    def __init__(self, problem: str, where: str = "") -> None:
        at = f" at {where}" if where else ""
        super().__init__(
            f"The JSON Schema cannot be used{at}: {problem}.",
            "Fix the schema (or load an example) before sending.",
            retryable=False,
        )
        self.problem = problem
        self.where = where


def check_schema(text: str) -> dict[str, Any]:
    """The schema ``text`` holds, checked; ``SchemaProblem`` says what is wrong and where."""
    if not text.strip():
        raise SchemaProblem("it is empty; write a schema, or choose JSON object")
    if len(text) > MAX_SCHEMA_CHARS:
        raise SchemaProblem(f"it is {len(text):,} characters; at most {MAX_SCHEMA_CHARS:,}")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaProblem(
            f"it is not JSON ({err.msg}, line {err.lineno} column {err.colno})"
        ) from None
    except RecursionError:
        raise SchemaProblem("it nests too deep to read") from None
    if not isinstance(schema, dict):
        raise SchemaProblem("a JSON Schema is an object ({...})", "$")
    risky = risky_pattern(schema)
    if risky is not None:
        raise SchemaProblem(*risky)
    found = outside_ref(schema)
    if found is not None:
        where, ref = found
        raise SchemaProblem(
            f"it refers to {ref!r}; only references inside the schema (#/...) are read", where
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except SchemaError as err:
        raise SchemaProblem(_short(err.message), err.json_path) from None
    except RecursionError:
        raise SchemaProblem("it nests too deep to check") from None
    return schema


def schema_problem(response_format: ResponseFormat | None) -> SchemaProblem | None:
    """Why ``response_format`` cannot be sent (its schema), or None when it can."""
    if response_format is None or response_format.type != "json_schema":
        return None
    try:
        check_schema(response_format.schema)
    except SchemaProblem as problem:
        return problem
    return None


def outside_ref(node: object, where: str = "$") -> tuple[str, str] | None:
    """The first ``$ref`` (or ``$dynamicRef``) not inside the schema, with its JSON path."""
    pending: list[tuple[object, str]] = [(node, where)]
    while pending:  # a loop, not recursion: a schema may nest deep
        item, path = pending.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if key in ("$ref", "$dynamicRef") and not (
                    isinstance(value, str) and value.startswith("#")
                ):
                    return _child(path, key), str(value)
            pending.extend(
                (value, _child(path, key)) for key, value in reversed(list(item.items()))
            )
        elif isinstance(item, list):
            pending.extend((value, f"{path}[{i}]") for i, value in reversed(list(enumerate(item))))
    return None


def risky_pattern(schema: object) -> tuple[str, str] | None:
    """Why a regex in ``schema`` could take forever on a reply, and where; None if none could.

    Python's ``re`` has no timeout and a reply is up to 200,000 characters, so a pattern
    (``pattern``, a ``patternProperties`` key) is held to what the evaluation's regex
    assertion is held to: ``MAX_PATTERN`` characters, no nested repetition (a heuristic).
    """
    pending: list[tuple[object, str]] = [(schema, "$")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, Mapping):
            patterns = [(_child(path, "pattern"), item.get("pattern"))]
            keyed = item.get("patternProperties")
            if isinstance(keyed, Mapping):
                patterns += [(_child(_child(path, "patternProperties"), k), k) for k in keyed]
            for where, pattern in patterns:
                if isinstance(pattern, str) and len(pattern) > MAX_PATTERN:
                    return f"a regex of {len(pattern):,} characters; at most {MAX_PATTERN}", where
                if isinstance(pattern, str) and NESTED_QUANTIFIER.search(pattern):
                    return "a regex that repeats a group that itself repeats (like (a+)+)", where
            pending.extend((value, _child(path, key)) for key, value in item.items())
        elif isinstance(item, list):
            pending.extend((value, f"{path}[{i}]") for i, value in enumerate(item))
    return None


def _child(path: str, key: object) -> str:
    name = str(key)
    return f"{path}.{name}" if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else f"{path}[{name!r}]"


def format_from_json(data: object) -> ResponseFormat:
    """A stored or imported format: ``{"type", "schema"}``; ValueError says what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError("not an object")
    kind, schema = data.get("type"), data.get("schema", "")
    if kind not in FORMAT_TYPES:
        raise ValueError(f"type must be one of {', '.join(FORMAT_TYPES)}")
    if not isinstance(schema, str) or len(schema) > MAX_SCHEMA_CHARS:
        raise ValueError(f"schema must be text of at most {MAX_SCHEMA_CHARS:,} characters")
    return ResponseFormat(kind, schema if kind == "json_schema" else "")


# -- a reply checked ----------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One way a reply does not match the schema: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class ReplyCheck:
    """A reply read as JSON: ``pretty`` when it parsed, else ``problem``; the violations."""

    pretty: str = ""
    problem: str = ""
    violations: tuple[Violation, ...] = ()
    more: int = 0  # violations beyond those listed
    against_schema: bool = False

    @property
    def valid(self) -> bool:
        return not self.problem and not self.violations

    @property
    def summary(self) -> str:
        """One line: what the check found."""
        if self.problem:
            return self.problem
        if not self.violations:
            return "Valid JSON that matches the schema." if self.against_schema else "Valid JSON."
        if not self.against_schema:
            return "Valid JSON, but not an object."
        count = len(self.violations) + self.more
        return f"Valid JSON, but it does not match the schema: {count} violation" + (
            "" if count == 1 else "s"
        )


def check_reply(
    text: str, response_format: ResponseFormat, finish_reason: str | None = None
) -> ReplyCheck:
    """``text`` (a reply asked for in ``response_format``) parsed and checked.

    Kept for the last ``CHECKS_KEPT`` replies: every run of the page redraws the history,
    and a long JSON reply need not be parsed and validated again each time."""
    return _kept_check(text, response_format, finish_reason)


@functools.lru_cache(maxsize=CHECKS_KEPT)
def _kept_check(
    text: str, response_format: ResponseFormat, finish_reason: str | None
) -> ReplyCheck:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return ReplyCheck(problem=_unparsed(err, finish_reason))
    except RecursionError:
        return ReplyCheck(problem="The reply's JSON nests too deep to read.")
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    if response_format.type == "json_object":
        not_object = () if isinstance(value, dict) else (Violation("$", "is not an object"),)
        return ReplyCheck(pretty=pretty, violations=not_object)
    try:
        schema = check_schema(response_format.schema)
    except SchemaProblem as err:
        return ReplyCheck(pretty=pretty, problem=f"The reply cannot be checked: {err.message}")
    found, more = violations(value, schema)
    return ReplyCheck(pretty=pretty, violations=found, more=more, against_schema=True)


def _unparsed(err: json.JSONDecodeError, finish_reason: str | None) -> str:
    if finish_reason == "length":
        return (
            "The JSON is incomplete: the reply was cut off at its max tokens "
            "(finish_reason length). Raise Max tokens, or ask for less."
        )
    if not err.doc.strip():
        return "The reply is not JSON: it is empty."
    return f"The reply is not JSON ({err.msg}, line {err.lineno} column {err.colno})."


def violations(value: Any, schema: Mapping[str, Any]) -> tuple[tuple[Violation, ...], int]:
    """Where ``value`` breaks ``schema`` (a checked one), by path; and how many more."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    try:
        errors = sorted(validator.iter_errors(value), key=_place)
    except RecursionError:
        return (Violation("$", "nests too deep to check"),), 0
    found = tuple(Violation(e.json_path, _short(e.message)) for e in errors[:MAX_VIOLATIONS])
    return found, max(len(errors) - MAX_VIOLATIONS, 0)


def _place(error: ValidationError) -> tuple[list[tuple[int, int, str]], str]:
    """A violation's place in document order: list positions by number, then its words."""
    path = [(0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in error.path]
    return path, error.message


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


# -- examples for the editor ----------------------------------------------------------------

# Each follows OpenAI's strict mode (every property required, no others), which the other
# servers take as well.
EXAMPLES: dict[str, str] = {
    "Shopping list": json.dumps(
        {
            "title": "shopping_list",
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "price": {"type": "number"},
                        },
                        "required": ["name", "price"],
                        "additionalProperties": False,
                    },
                },
                "total": {"type": "number"},
            },
            "required": ["items", "total"],
            "additionalProperties": False,
        },
        indent=2,
    ),
    "Sentiment": json.dumps(
        {
            "title": "sentiment",
            "type": "object",
            "properties": {
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["sentiment", "confidence"],
            "additionalProperties": False,
        },
        indent=2,
    ),
    "Person": json.dumps(
        {
            "title": "person",
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer", "minimum": 0},
                "languages": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "age", "languages"],
            "additionalProperties": False,
        },
        indent=2,
    ),
}
DEFAULT_SCHEMA = EXAMPLES["Shopping list"]
