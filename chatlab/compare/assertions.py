"""Assertions: what every output of an evaluation must satisfy, checked without a model.

An ``Assertion`` is checked when it is made (``__post_init__``): a type it does not know, a
value of the wrong kind, a regex that does not compile and a JSON Schema that is not one
are ``SpecError`` s, raised before anything runs, never a failed cell. ``check`` then gives
a ``Verdict`` per output: ``passed`` (``None`` for ``llm-rubric``, judged elsewhere:
``chatlab.compare.judge``) and a one-line reason saying what was found.

Decisions:

- Text comparisons are case-sensitive unless ``ignore_case``; every reason says which.
  ``equals`` ignores surrounding whitespace (models end replies with a newline).
- A text value may name ``{{variables}}`` of its row, rendered with
  ``chatlab.compare.variables.render``; in a ``regex`` the values are inserted escaped, so
  ``^{{expected}}$`` matches the expected text literally.
- Python's ``re`` has no timeout, so a regex is guarded three ways: a pattern is at most
  ``MAX_PATTERN`` characters, nested quantifiers (``(a+)+``, the classic catastrophic
  backtracking; found by a heuristic, so not every slow pattern) are refused when the
  assertion is made, and only the first
  ``MAX_REGEX_INPUT`` characters of an output are searched (the reason says so when cut).
- ``max-latency`` reads the reply's total time and ``max-cost`` its cost (``ReplyStats``).
  Unknown is a failure ("cost unknown"), never a pass: an unpriced model is not free.
- ``is-json`` fails a reply cut at max tokens as incomplete JSON (its stats' finish
  reason), not as "not JSON". ``matches-schema`` takes no value: it checks the reply
  against the schema its cell asked for (the run's response format, ``chatlab.structured``),
  and fails when the run asked for none; a reply off the schema names the first violation
  by its JSON path and counts the rest.
- ``json-schema`` takes a schema as a mapping or as JSON text; text is parsed when the
  assertion is made and kept as the mapping. Schemas are checked against their own
  metaschema (``jsonschema``'s ``validator_for``); a ``$ref`` outside the schema (a URL, a
  file) is refused, so checking an output never reads the network or the disk.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jsonschema
from jsonschema.exceptions import SchemaError

from chatlab.compare.spec_error import SpecError
from chatlab.compare.variables import names, render
from chatlab.messages import ReplyStats

# A regex is held to the same limits in a schema (chatlab.structured), where they live.
from chatlab.structured import MAX_PATTERN, NESTED_QUANTIFIER, ResponseFormat, check_reply

__all__ = [
    "ASSERTION_TYPES",
    "MAX_PATTERN",
    "MAX_REGEX_INPUT",
    "Assertion",
    "AssertionType",
    "Scale",
    "Verdict",
    "check",
]

AssertionType = Literal[
    "contains",
    "not-contains",
    "equals",
    "regex",
    "is-json",
    "json-schema",
    "matches-schema",
    "max-chars",
    "max-latency",
    "max-cost",
    "llm-rubric",
]
ASSERTION_TYPES: tuple[str, ...] = get_args(AssertionType)
Scale = Literal["pass-fail", "1-5"]
SCALES: tuple[str, ...] = get_args(Scale)

TEXT_TYPES = frozenset({"contains", "not-contains", "equals", "regex", "llm-rubric"})
LIMIT_TYPES = frozenset({"max-chars", "max-latency", "max-cost"})
MAX_REGEX_INPUT = 20_000  # characters of an output a regex searches
QUOTED = 60  # characters of a value quoted in a reason


@dataclass(frozen=True)
class Verdict:
    """One assertion on one output: passed (None: a judge decides) and why, in one line."""

    passed: bool | None
    reason: str


@dataclass(frozen=True)
class Assertion:
    """What an output must satisfy; checked when made (``SpecError`` naming the field)."""

    type: AssertionType
    value: str | float | Mapping[str, Any] | None = None
    ignore_case: bool = False
    model: str | None = None  # llm-rubric: the judge model (None: the run's model)
    scale: Scale = "pass-fail"  # llm-rubric

    def __post_init__(self) -> None:
        if self.type not in ASSERTION_TYPES:
            raise SpecError(
                f"{self.type!r} is not an assertion type.",
                f"Use one of {', '.join(ASSERTION_TYPES)}.",
                field="type",
            )
        if not isinstance(self.ignore_case, bool):
            raise SpecError(
                "must be true or false.", "Write ignore_case: true.", field="ignore_case"
            )
        self._check_judge_fields()
        if self.type in TEXT_TYPES:
            _text_value(self.value)
            if self.type == "regex":
                _pattern(self.value if isinstance(self.value, str) else "", self.ignore_case)
        elif self.type in LIMIT_TYPES:
            _limit(self.value, self.type)
        elif self.type == "json-schema":
            object.__setattr__(self, "value", _schema(self.value))
        elif self.value is not None:  # is-json, matches-schema
            raise SpecError(f"{self.type} takes no value.", "Remove the value.", field="value")

    def _check_judge_fields(self) -> None:
        if self.scale not in SCALES:
            raise SpecError(
                f"{self.scale!r} is not a scale.", f"Use {' or '.join(SCALES)}.", field="scale"
            )
        judged = self.type == "llm-rubric"
        if not judged and (self.model is not None or self.scale != "pass-fail"):
            raise SpecError(
                f"model and scale belong to llm-rubric, not {self.type}.",
                "Remove them.",
                field="model" if self.model is not None else "scale",
            )
        if judged and self.model is not None and not (isinstance(self.model, str) and self.model):
            raise SpecError("must be a model name.", "Name the judge model.", field="model")


def check(
    assertion: Assertion,
    output: str,
    stats: ReplyStats | None,
    row: Mapping[str, str],
    response_format: ResponseFormat | None = None,
) -> Verdict:
    """Whether ``output`` satisfies ``assertion``; ``VariableError`` when the row lacks a
    variable its value names (``chatlab.compare.variables.check`` says so before a run).
    ``response_format`` is what the output's request asked for (``matches-schema``)."""
    kind, value = assertion.type, assertion.value
    if kind == "llm-rubric":
        return Verdict(None, "pending judge")
    if kind in ("contains", "not-contains", "equals"):
        return _compare(kind, render(str(value), row), output, assertion.ignore_case)
    if kind == "regex":
        return _regex(render(str(value), row, escape=re.escape), output, assertion.ignore_case)
    finish = stats.finish_reason if stats is not None else None
    if kind == "matches-schema":
        return _matches(output, response_format, finish)
    if kind in ("is-json", "json-schema"):
        if finish == "length" and not _parses(output):
            return Verdict(False, "is incomplete JSON: cut off at max tokens")
        return _json(output, value if isinstance(value, Mapping) else None)
    return _limited(kind, float(value) if isinstance(value, int | float) else 0.0, output, stats)


def _case(ignore_case: bool) -> str:
    return "case-insensitive" if ignore_case else "case-sensitive"


def _flags(ignore_case: bool) -> re.RegexFlag:
    return re.IGNORECASE if ignore_case else re.NOFLAG


def _quoted(text: str) -> str:
    shown = text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"
    return repr(shown)


def _compare(kind: str, expected: str, output: str, ignore_case: bool) -> Verdict:
    fold = str.casefold if ignore_case else str
    found, wanted = fold(output), fold(expected)
    case = _case(ignore_case)
    if kind == "equals":
        same = found.strip() == wanted.strip()
        verb = "equals" if same else "does not equal"
        return Verdict(same, f"{verb} {_quoted(expected.strip())} ({case}, outer spaces ignored)")
    inside = wanted in found
    verb = "contains" if inside else "does not contain"
    return Verdict(inside == (kind == "contains"), f"{verb} {_quoted(expected)} ({case})")


def _regex(pattern: str, output: str, ignore_case: bool) -> Verdict:
    compiled = re.compile(pattern, _flags(ignore_case))  # checked when made; values escaped
    searched = output[:MAX_REGEX_INPUT]
    cut = f", first {MAX_REGEX_INPUT:,} characters" if len(output) > MAX_REGEX_INPUT else ""
    found = compiled.search(searched) is not None
    verb = "matches" if found else "does not match"
    return Verdict(found, f"{verb} /{pattern[:QUOTED]}/ ({_case(ignore_case)}{cut})")


def _json(output: str, schema: Mapping[str, Any] | None) -> Verdict:
    try:
        parsed = json.loads(output)
    except json.JSONDecodeError as err:
        return Verdict(False, f"is not JSON ({err.msg}, line {err.lineno} column {err.colno})")
    if schema is None:
        return Verdict(True, "is JSON")
    error = jsonschema.exceptions.best_match(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(parsed)
    )
    if error is None:
        return Verdict(True, "matches the schema")
    where = error.json_path
    return Verdict(False, f"does not match the schema at {where}: {error.message[:200]}")


def _parses(output: str) -> bool:
    try:
        json.loads(output)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _matches(output: str, asked: ResponseFormat | None, finish: str | None) -> Verdict:
    if asked is None or asked.type != "json_schema":
        return Verdict(False, "no schema to match: the run's response format is not JSON Schema")
    checked = check_reply(output, asked, finish)
    if checked.problem:
        return Verdict(False, checked.problem)
    if not checked.violations:
        return Verdict(True, "matches the response format's schema")
    count = len(checked.violations) + checked.more
    more = f" (and {count - 1} more)" if count > 1 else ""
    return Verdict(False, f"does not match the schema: {checked.violations[0]}{more}")


def _limited(kind: str, limit: float, output: str, stats: ReplyStats | None) -> Verdict:
    if kind == "max-chars":
        size = len(output)
        fits = size <= limit
        return Verdict(
            fits, f"{size:,} characters, {'within' if fits else 'more than'} {limit:,.0f}"
        )
    if kind == "max-latency":
        if stats is None:
            return Verdict(False, "latency unknown")
        took = stats.total_time
        fits = took <= limit
        return Verdict(fits, f"took {took:.2f} s, {'within' if fits else 'more than'} {limit:g} s")
    cost = stats.cost_usd if stats is not None else None
    if cost is None:
        return Verdict(False, "cost unknown")
    fits = cost <= limit
    return Verdict(fits, f"cost ${cost:.6g}, {'within' if fits else 'more than'} ${limit:g}")


# -- checked when made ---------------------------------------------------------------------


def _text_value(value: object) -> None:
    if not isinstance(value, str) or not value:
        raise SpecError("needs a text value.", 'Write value: "..." (quoted).', field="value")


def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``pattern`` compiled, or ``SpecError``: too long, nested quantifiers, or not a regex.

    A template is checked with each variable as a letter (values are inserted escaped).
    """
    if len(pattern) > MAX_PATTERN:
        raise SpecError(
            f"the regex is {len(pattern):,} characters; at most {MAX_PATTERN}.",
            "Shorten it.",
            field="value",
        )
    bare = render(pattern, dict.fromkeys(names(pattern), "x"))
    if NESTED_QUANTIFIER.search(bare):
        raise SpecError(
            "the regex repeats a group that itself repeats (like (a+)+), which can take "
            "forever; Python's re has no timeout.",
            "Rewrite it without nested repetition.",
            field="value",
        )
    try:
        return re.compile(bare, _flags(ignore_case))
    except re.error as err:
        raise SpecError(f"not a regex ({err.msg}).", "Fix the pattern.", field="value") from None


def _limit(value: object, kind: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (isinstance(value, int | float) and number and math.isfinite(value) and value >= 0):
        unit = {"max-chars": "characters", "max-latency": "seconds", "max-cost": "USD"}[kind]
        raise SpecError(
            f"needs a number of {unit}, 0 or more.", "Write value: 1000.", field="value"
        )


def _outside_refs(node: object) -> str | None:
    """The first ``$ref`` (or ``$dynamicRef``) not inside the schema: never fetched."""
    if isinstance(node, Mapping):
        for key, item in node.items():
            if key in ("$ref", "$dynamicRef") and not (
                isinstance(item, str) and item.startswith("#")
            ):
                return str(item)
            found = _outside_refs(item)
            if found is not None:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _outside_refs(item)
            if found is not None:
                return found
    return None


def _schema(value: object) -> dict[str, Any]:
    schema = value
    if isinstance(value, str):
        try:
            schema = json.loads(value)
        except json.JSONDecodeError as err:
            raise SpecError(
                f"the schema is not JSON ({err.msg}).", "Give a JSON Schema.", field="value"
            ) from None
    if not isinstance(schema, Mapping):
        raise SpecError("needs a JSON Schema (an object).", "Give a JSON Schema.", field="value")
    schema = dict(schema)
    outside = _outside_refs(schema)
    if outside:
        raise SpecError(
            f"the schema refers to {outside!r}; only references inside it (#/...) are read.",
            "Put the referenced schema under $defs and refer to it as #/$defs/...",
            field="value",
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except SchemaError as err:
        raise SpecError(
            f"not a valid JSON Schema ({err.message[:200]}).", "Fix the schema.", field="value"
        ) from None
    return schema
