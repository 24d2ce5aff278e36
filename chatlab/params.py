"""Each sampling parameter, declared once: on its ``ChatSettings`` field.

A parameter is a field of ``chatlab.messages.ChatSettings`` whose type is
``Annotated[<type>, Param(...)]``. The field gives its name, type and default; the
``Param`` gives everything else: the sidebar control (label, help, range, step), how it
is sent (always, only when set, or with the Probabilities toggle), whether Compare may
sweep it, and which servers are known to reject it. Everything else derives from it:

- the sidebar draws one control per declaration (``components.sidebar``), under keys
  named after the parameter (``widget_key``), and reads them back (``from_widgets``);
- the request carries what ``chatlab.provider.client`` finds declared (under ``request_field``);
- an import or a stored row is checked against the declared type and range
  (``chatlab.transfer``: a pydantic ``TypeAdapter`` built from the declarations);
- Compare's axes are the declarations marked ``sweep`` (``chatlab.compare.sweep``).

A response format (``control="format"``, ``chatlab.structured``) is one parameter drawn as
two controls: its type (under ``widget_key``) and a JSON Schema's text (``schema_key``).

So a new parameter is one field. ``python -m chatlab.doc_tables parameters`` prints the table
of them for the docs (docs/using.md).

The seed's range is 0 to 4,294,967,294 (2**32 - 2) everywhere. llama.cpp keeps the seed as
an unsigned 32-bit number and reads 4,294,967,295 (``LLAMA_DEFAULT_SEED``) as "pick one at
random", so that is the widest range in which every value means the same thing to it; the
OpenAI API takes any 64-bit integer, and the sidebar's number field holds integers up to
2**53 - 1 exactly (a JavaScript number). Before, the sidebar said 0 to 2**31 - 1 and an
import took anything within a signed 64-bit integer.

Max tokens has a limit per model besides its declared range: the longest reply the model
can write (``chatlab.tokens``' model facts, 4,096 when unknown), and never more than its
context window where the server says one (``max_tokens_limit``). The sidebar's slider ends
there, and Compare sends a larger value as that limit. A stored or imported value may be
any count (``Param.stored``): model facts change, and a conversation made before keeps
its settings.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal

from chatlab.structured import DEFAULT_SCHEMA, FORMAT_LABELS, ResponseFormat
from chatlab.tokens import families, max_output_tokens

__all__ = [
    "MAX_SEED",
    "Control",
    "Declared",
    "Param",
    "Sending",
    "declaration",
    "declared",
    "from_widgets",
    "longest_reply",
    "markdown_table",
    "max_tokens_limit",
    "schema_key",
    "switch_key",
    "typed_lines",
    "widget_key",
    "widget_keys",
    "widget_values",
]

# "format": a response format (chatlab.structured): a choice of type and a schema's text.
Control = Literal["slider", "number", "lines", "choice", "toggle", "format"]
# "always": in every request (a model that rejects it is learnt in chatlab.provider.client);
# "when set": only when set, and dropped from then on for a model that rejects it;
# "with logprobs": asked for, and dropped, together with the Probabilities toggle.
Sending = Literal["always", "when set", "with logprobs"]
MAX_SEED = 2**32 - 2  # see the module docstring


@dataclass(frozen=True)
class Param:
    """What a sampling parameter's ``ChatSettings`` field does not say by its type and default.

    ``help`` may name ``{default}``, ``{low}``, ``{high}`` and ``{shown_unset}``.
    """

    label: str  # the sidebar control's label
    help: str  # the sidebar's help text
    control: Control
    low: float | None = None  # numbers: the range; lists: the most items is ``high``
    high: float | None = None
    step: float | None = None
    sending: Sending = "when set"
    # What the control shows when the parameter is not set. For a number without a
    # ``switch`` or ``needs``, this value also reads back as "not set" (0 for a penalty).
    shown_unset: object = None
    switch: str | None = None  # a checkbox that must be ticked for it to be set
    needs: str | None = None  # a parameter that must be on for this one to count
    max_length: int | None = None  # lists of text: the longest item
    placeholder: str | None = None
    advanced: bool = True  # drawn under the sidebar's "Advanced"
    sweep: bool = True  # Compare may vary it (numbers and choices only)
    request: str | None = None  # the request's field, when not the parameter's name
    stored: tuple[float, float] | None = None  # a wider range an import or a row may hold
    rejected_by: str = ""  # servers known to reject it (chatlab.provider.client learns it)


@dataclass(frozen=True)
class Declared:
    """One parameter: its ``ChatSettings`` field and its ``Param``."""

    name: str
    param: Param
    hint: Any  # the field's type, without the Param
    default: Any

    @property
    def kind(self) -> type | tuple[str, ...]:
        """int, float, bool or tuple (of text) for the value; a Literal's words for a choice."""
        options = [arg for arg in typing.get_args(self.hint) if arg is not type(None)]
        value = options[0] if typing.get_origin(self.hint) in _UNIONS else self.hint
        if typing.get_origin(value) is Literal:
            return tuple(str(word) for word in typing.get_args(value))
        origin = typing.get_origin(value)
        return origin if isinstance(origin, type) else value

    @property
    def nullable(self) -> bool:
        """Whether null (not set) is a valid stored value: all but those always sent."""
        return self.param.sending != "always"

    @property
    def field(self) -> str:
        """The request body's field name."""
        return self.param.request or self.name

    @property
    def help(self) -> str:
        """The help text, its ``{default}``, ``{low}``, ``{high}``, ``{shown_unset}`` filled in."""
        param = self.param
        return param.help.format(
            default=self.default, low=param.low, high=param.high, shown_unset=param.shown_unset
        )

    @property
    def sweepable(self) -> bool:
        """Whether Compare may vary it: declared so, and a number or a choice."""
        return self.param.sweep and (self.kind in (int, float) or isinstance(self.kind, tuple))


_UNIONS = (typing.Union, types.UnionType)


# The settings type whose annotated fields are the parameters: ``ChatSettings`` names itself
# with ``@declares`` (this module cannot import it: messages imports Param from here). Read at
# each call, so a test may declare one parameter more on a settings type of its own.
_declared_on: list[type] = []

_T = typing.TypeVar("_T", bound=type)


def declares(settings_type: _T) -> _T:
    """Class decorator: ``settings_type``'s ``Param``-annotated fields are the parameters."""
    _declared_on[:] = [settings_type]
    return settings_type


def declared() -> tuple[Declared, ...]:
    """Every declared parameter of ``ChatSettings``, in field order."""
    if not _declared_on:
        raise RuntimeError("No settings type declares the parameters: import chatlab.messages.")
    return _declarations(_declared_on[0])


@functools.cache
def _declarations(settings_type: type) -> tuple[Declared, ...]:
    hints = typing.get_type_hints(settings_type, include_extras=True)
    found = []
    for item in fields(settings_type):
        hint = hints[item.name]
        params = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Param)]
        if params:
            default = item.default if item.default is not MISSING else None
            found.append(Declared(item.name, params[0], hint.__origin__, default))
    return tuple(found)


def declaration(name: str) -> Declared:
    """The declaration of parameter ``name``; KeyError when there is none."""
    for found in declared():
        if found.name == name:
            return found
    raise KeyError(name)


def longest_reply() -> int:
    """The largest max tokens any known model takes: the most a typed value may say."""
    return max(info.max_output or 0 for info in families().values())


def max_tokens_limit(model: str, window: int | None = None) -> int:
    """The largest max tokens for ``model``: its longest reply, within its context window."""
    longest = max_output_tokens(model)
    return min(longest, window) if window else longest


def typed_lines(text: str, most: int, longest: int) -> tuple[str, ...]:
    """Text typed one item per line: blank lines dropped, at most ``most`` of ``longest``."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    kept = [line[:longest] for line in lines if line.strip()]
    return tuple(kept[:most])


# -- the sidebar's controls ----------------------------------------------------------------


def widget_key(name: str) -> str:
    """The session-state key of parameter ``name``'s control: its name."""
    return name


def switch_key(name: str) -> str:
    """The key of the checkbox that sets parameter ``name`` (``Param.switch``)."""
    return f"{name}_set"


def schema_key(name: str) -> str:
    """The key of the schema editor of format parameter ``name`` (its type is ``widget_key``)."""
    return f"{name}_schema"


def widget_keys(*, advanced: bool) -> tuple[str, ...]:
    """The keys of every control (switches first) of the Advanced parameters, or the rest."""
    keys: list[str] = []
    for found in declared():
        if found.param.advanced == advanced:
            if found.param.switch:
                keys.append(switch_key(found.name))
            keys.append(widget_key(found.name))
            if found.param.control == "format":
                keys.append(schema_key(found.name))
    return tuple(keys)


def widget_values(settings: object) -> dict[str, object]:
    """What the controls hold for ``settings`` (the inverse of ``from_widgets``)."""
    values: dict[str, object] = {}
    for found in declared():
        value = getattr(settings, found.name)
        if found.param.switch:
            values[switch_key(found.name)] = value is not None
        if found.param.control == "lines":
            values[widget_key(found.name)] = "\n".join(value)
        elif found.param.control == "format":
            values[widget_key(found.name)] = value.type if value else "text"
            shown = value.schema if value and value.schema else DEFAULT_SCHEMA
            values[schema_key(found.name)] = shown
        else:
            values[widget_key(found.name)] = found.param.shown_unset if value is None else value
    return values


def from_widgets(values: Mapping[Any, object]) -> dict[str, Any]:
    """Every parameter's value as the controls set it; a control left alone is "not set"."""
    return {found.name: _from_widget(found, values) for found in declared()}


def _from_widget(found: Declared, values: Mapping[Any, object]) -> Any:
    param, kind = found.param, found.kind
    raw = values.get(widget_key(found.name))
    gated = param.switch or param.needs
    if param.switch and not values.get(switch_key(found.name)):
        return found.default
    if param.needs and not values.get(widget_key(param.needs)):
        return found.default
    if param.control == "lines":
        return typed_lines(str(raw or ""), int(param.high or 0), param.max_length or 0)
    if param.control == "format":
        if raw == "json_object":
            return ResponseFormat("json_object")
        if raw == "json_schema":
            return ResponseFormat("json_schema", str(values.get(schema_key(found.name)) or ""))
        return found.default
    if kind is bool:
        return bool(raw)
    if isinstance(kind, tuple):
        return raw if raw in kind else found.default
    blank = not isinstance(raw, int | float) or isinstance(raw, bool)
    number = param.shown_unset if blank else raw  # a blank field shows its "not set"
    if not isinstance(number, int | float):
        return found.default
    value = _within(found, number)
    if not gated and param.shown_unset is not None and value == param.shown_unset:
        return found.default  # a penalty at 0, the API's default: not sent
    return value


def _within(found: Declared, raw: int | float) -> int | float:
    low, high = found.param.low, found.param.high
    value: int | float = int(raw) if found.kind is int else float(raw)
    if low is not None:
        value = max(value, type(value)(low))
    if high is not None:
        value = min(value, type(value)(high))
    return value


# -- the docs' table -------------------------------------------------------------------------


def markdown_table() -> str:
    """The parameters as a Markdown table (docs/using.md)."""
    rows = [
        "| Parameter | Sidebar | Range | Default | Sent | Compare | Known to reject it |",
        "|---|---|---|---|---|---|---|",
    ]
    for found in declared():
        param = found.param
        rows.append(
            f"| `{found.field}` | {param.label} | {_range(found)} | {_default(found)} "
            f"| {param.sending} | {'yes' if found.sweepable else 'no'} "
            f"| {param.rejected_by or '—'} |"
        )
    return "\n".join(rows) + "\n"


def _range(found: Declared) -> str:
    kind, param = found.kind, found.param
    if isinstance(kind, tuple):
        return ", ".join(kind)
    if param.control == "format":
        return ", ".join(FORMAT_LABELS.values())
    if kind is bool:
        return "on / off"
    if kind is tuple:
        return f"up to {param.high:g} lines of {param.max_length} characters"
    if param.low is None or param.high is None:
        return "—"
    limit = " (and per model)" if found.name == "max_tokens" else ""
    return f"{param.low:,.10g} to {param.high:,.10g}{limit}"


def _default(found: Declared) -> str:
    if found.default is False:
        return "off"
    return "not set" if found.default in (None, ()) else str(found.default)
