"""Tools (function calling) as data: definitions, the calls a reply makes, their results.

A ``Tool`` is a name, a description and a JSON Schema for its parameters, checked as a
schema (``jsonschema``, the newest draft it knows) when it is made; it may carry a canned
result, offered as the answer to each of its calls. ``ToolChoice`` is the request's
``tool_choice``: auto, none, required, or one named tool.

Tools are not sampling parameters. They are not declared on ``ChatSettings`` (whose fields
the sidebar draws as knobs, Compare sweeps and the import checks as numbers): a list of
schemas is not a value to vary along an axis. So a ``ToolSet`` (the tools and the choice)
travels beside the settings, in the chat's own state, and is sent as extra body fields
(``ToolSet.request_fields``).

A reply's calls are kept on the reply itself (``ChatMessage.tool_calls``), each with the
result the user gave it: one message holds the call and its answer, so the conversation
tree, storage, export and branches need no new kind of message. The request expands it
(``request_messages``): the assistant message with its ``tool_calls``, then one
``{"role": "tool", ...}`` message per call, in order.

Everything a server sends is untrusted: a call may name a tool nobody defined, carry
arguments that are not JSON, or that break the schema. ``check_arguments`` says which,
with each violation's JSON path; nothing is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import jsonschema
import referencing
from jsonschema.exceptions import SchemaError

from chatlab.errors import ChatLabError
from chatlab.tokens import estimate_tokens

__all__ = [
    "MAX_ALL_ARGUMENTS_CHARS",
    "MAX_ARGUMENT_CHARS",
    "MAX_RESULT_CHARS",
    "MAX_TOOLS",
    "MAX_TOOL_CALLS",
    "NAME",
    "ArgumentCheck",
    "ChoiceMode",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolError",
    "ToolSet",
    "check_arguments",
    "make_tool",
    "tool_calls_from",
    "tool_calls_json",
    "tool_from",
    "tool_json",
]

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for a function's name
MAX_TOOLS = 128  # OpenAI's limit on a request's tools
MAX_DESCRIPTION_CHARS = 4_000
MAX_SCHEMA_CHARS = 50_000
MAX_RESULT_CHARS = 100_000  # a result typed or canned
# What one reply may bring: more calls, or longer arguments, are cut, and the reply says so.
MAX_TOOL_CALLS = 64
MAX_ARGUMENT_CHARS = 100_000
MAX_ALL_ARGUMENTS_CHARS = 1_000_000  # all of one reply's calls together
MAX_VIOLATIONS = 20  # a card lists at most this many schema violations
ChoiceMode = Literal["auto", "none", "required", "named"]


# The registry a tool's schema is applied with: empty, and retrieving nothing. jsonschema's
# default registry fetches a ``$ref`` to a URL (with a deprecation warning): from a server
# anyone can use, that would be a request to wherever a schema points. A tool whose
# schema refers outside itself is refused when saved (``_outside_ref``) as well.
_NOTHING_FETCHED: referencing.Registry[Any] = referencing.Registry()


class ToolError(ChatLabError):
    """A tool definition that cannot be used: its name, description or schema."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"This tool cannot be saved: {problem}.",
            "Fix the definition and save it again.",
            retryable=False,
        )
        self.problem = problem


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its name, what it does, its parameters' schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    canned_result: str = ""  # offered as the answer to each call (blank: none)

    def spec(self) -> dict[str, Any]:
        """The tool as a request's ``tools`` lists it."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


def make_tool(name: str, description: str, parameters: str, canned_result: str = "") -> Tool:
    """A tool from what was typed; ``ToolError`` names the first problem."""
    name = name.strip()
    if not NAME.fullmatch(name):
        raise ToolError(
            f"its name must be 1–64 letters, digits, underscores or hyphens (got {name[:80]!r})"
        )
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ToolError(f"its description is over {MAX_DESCRIPTION_CHARS:,} characters")
    if len(parameters) > MAX_SCHEMA_CHARS:
        raise ToolError(f"its parameters schema is over {MAX_SCHEMA_CHARS:,} characters")
    if len(canned_result) > MAX_RESULT_CHARS:
        raise ToolError(f"its canned result is over {MAX_RESULT_CHARS:,} characters")
    return Tool(name, description.strip(), _schema(parameters), canned_result)


def _schema(text: str) -> dict[str, Any]:
    """Parameters typed as JSON: a JSON Schema for an object, checked as a schema."""
    if not text.strip():
        return {"type": "object", "properties": {}}
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise ToolError(f"its parameters are not JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise ToolError("its parameters must be a JSON Schema object ({...})")
    if schema.get("type", "object") != "object":
        raise ToolError('its parameters schema must describe an object ("type": "object")')
    outside = _outside_ref(schema)
    if outside is not None:
        raise ToolError(
            f"its schema refers outside itself ($ref {outside[:80]!r}); only references "
            'within it ("#/...") are allowed'
        )
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except SchemaError as err:
        problem = f"its parameters are not a valid JSON Schema: {_path(err)} {err.message}"
        raise ToolError(problem) from None
    return schema


def _outside_ref(node: object) -> str | None:
    """The first ``$ref`` / ``$dynamicRef`` that is not within the schema (``#...``)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("$ref", "$dynamicRef") and not (
                    isinstance(value, str) and value.startswith("#")
                ):
                    return str(value)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return None


@dataclass(frozen=True)
class ToolChoice:
    """The request's ``tool_choice``: auto, none, required, or one named tool."""

    mode: ChoiceMode = "auto"
    name: str = ""  # the tool, when ``mode`` is "named"

    def field(self) -> str | dict[str, Any]:
        """As the request carries it."""
        if self.mode == "named":
            return {"type": "function", "function": {"name": self.name}}
        return self.mode


@dataclass(frozen=True)
class ToolSet:
    """The tools a request offers and how the model may choose among them."""

    tools: tuple[Tool, ...] = ()
    choice: ToolChoice = ToolChoice()

    def request_fields(self) -> dict[str, Any]:
        """``tools`` and ``tool_choice`` for the body; nothing when no tool is defined.

        A choice naming a tool that is gone falls back to auto (the request would be refused).
        """
        if not self.tools:
            return {}
        choice = self.choice
        if choice.mode == "named" and choice.name not in {t.name for t in self.tools}:
            choice = ToolChoice()
        return {"tools": [t.spec() for t in self.tools], "tool_choice": choice.field()}

    def prompt_tokens(self) -> int:
        """About how many tokens the tools' definitions add to a request's prompt."""
        fields = self.request_fields()
        return estimate_tokens(json.dumps(fields["tools"])) if fields else 0

    def named(self, name: str) -> Tool | None:
        """The tool of that name, if defined."""
        return next((t for t in self.tools if t.name == name), None)


@dataclass(frozen=True)
class ToolCall:
    """One call a reply made, as received, and the result the user gave it (None: not yet)."""

    id: str
    name: str
    arguments: str  # the JSON text as the server sent it: it may not be JSON at all
    result: str | None = None

    def answered(self, result: str) -> ToolCall:
        """The call with its result (cut to ``MAX_RESULT_CHARS``)."""
        return replace(self, result=result[:MAX_RESULT_CHARS])

    def wire(self) -> dict[str, Any]:
        """The call as an assistant message's ``tool_calls`` carries it."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True)
class ArgumentCheck:
    """What a call's arguments came to: pretty JSON, or why they are not acceptable."""

    pretty: str  # indented JSON, or the raw text when it is not JSON
    problems: tuple[str, ...] = ()  # unknown tool, not JSON, each schema violation

    @property
    def ok(self) -> bool:
        return not self.problems


def check_arguments(call: ToolCall, tools: ToolSet) -> ArgumentCheck:
    """The call's arguments pretty-printed and checked against its tool's schema."""
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError as exc:
        return ArgumentCheck(call.arguments, (f"The arguments are not valid JSON: {exc}.",))
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    tool = tools.named(call.name)
    if tool is None:
        return ArgumentCheck(pretty, (f"No tool named {call.name!r} is defined.",))
    validator_class = jsonschema.validators.validator_for(
        tool.parameters, default=jsonschema.Draft202012Validator
    )
    validator = validator_class(tool.parameters, registry=_NOTHING_FETCHED)
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    except Exception as exc:
        # The schema is the user's, checked as a schema when saved; what it refers to is
        # never fetched (``_NOTHING_FETCHED``).
        return ArgumentCheck(pretty, (f"The tool's schema could not be applied: {exc}",))
    problems = [f"{_path(err)}: {err.message}" for err in errors[:MAX_VIOLATIONS]]
    if len(errors) > MAX_VIOLATIONS:
        problems.append(f"… and {len(errors) - MAX_VIOLATIONS} more violations.")
    return ArgumentCheck(pretty, tuple(problems))


def _path(err: jsonschema.ValidationError | SchemaError) -> str:
    """Where a violation is: ``$.city``, ``$.days[2]``, or ``$`` for the whole."""
    return str(err.json_path)


# -- stored and exported as JSON -------------------------------------------------------------


def tool_json(tool: Tool) -> dict[str, Any]:
    """A tool as stored and exported."""
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "canned_result": tool.canned_result,
    }


def tool_from(data: object) -> Tool:
    """A stored or imported tool, checked again; ``ToolError`` when it is not one."""
    if not isinstance(data, dict):
        raise ToolError("it is not a JSON object")
    parts = [data.get(key, "") for key in ("name", "description", "canned_result")]
    if not all(isinstance(part, str) for part in parts):
        raise ToolError("its name, description and canned result must be text")
    parameters = data.get("parameters", {"type": "object"})
    return make_tool(parts[0], parts[1], json.dumps(parameters), parts[2])


def tool_calls_json(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]] | None:
    """A reply's calls as stored and exported (None when it made none)."""
    if not calls:
        return None
    return [
        {"id": c.id, "name": c.name, "arguments": c.arguments, "result": c.result} for c in calls
    ]


def tool_calls_from(data: object) -> tuple[ToolCall, ...]:
    """Stored or imported calls, within the limits; anything else is left out."""
    if not isinstance(data, list):
        return ()
    calls = []
    for item in data[:MAX_TOOL_CALLS]:
        if not isinstance(item, dict):
            continue
        call_id, name, arguments = (item.get(k) for k in ("id", "name", "arguments"))
        result = item.get("result")
        if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
            continue
        if result is not None and not isinstance(result, str):
            result = None
        calls.append(
            ToolCall(
                call_id[:200],
                name[:200],
                arguments[:MAX_ARGUMENT_CHARS],
                None if result is None else result[:MAX_RESULT_CHARS],
            )
        )
    return tuple(calls)
