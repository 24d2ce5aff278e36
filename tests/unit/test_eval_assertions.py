"""Assertions: every type, {{variable}} references, case sensitivity stated, unknown
latency/cost failing, and a bad assertion (type, value, regex, schema) a SpecError."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from chatlab.compare.assertions import (
    ASSERTION_TYPES,
    MAX_PATTERN,
    MAX_REGEX_INPUT,
    Assertion,
    Verdict,
    check,
)
from chatlab.compare.spec_error import SpecError
from chatlab.compare.variables import VariableError
from chatlab.messages import ReplyStats, Usage
from chatlab.structured import ResponseFormat

ROW = {"expected": "Bonjour", "pattern": "a.c"}


def stats(total_time: float = 1.0, cost: float | None = 0.002) -> ReplyStats:
    return ReplyStats("m", Usage(10, 20), "stop", 0.1, total_time, cost_usd=cost)


def verdict(kind: Any, value: Any, output: str, **more: Any) -> Verdict:
    return check(Assertion(kind, value, **more), output, stats(), ROW)


def test_the_types_are_exactly_the_issues() -> None:
    assert ASSERTION_TYPES == (
        "contains", "not-contains", "equals", "regex", "is-json", "json-schema",
        "matches-schema", "max-chars", "max-latency", "max-cost", "llm-rubric",
    )  # fmt: skip


def test_contains_is_case_sensitive_by_default_and_says_so() -> None:
    assert verdict("contains", "{{expected}}", "Bonjour !") == Verdict(
        True, "contains 'Bonjour' (case-sensitive)"
    )
    assert verdict("contains", "{{expected}}", "bonjour") == Verdict(
        False, "does not contain 'Bonjour' (case-sensitive)"
    )
    assert verdict("contains", "bonjour", "BONJOUR", ignore_case=True) == Verdict(
        True, "contains 'bonjour' (case-insensitive)"
    )


def test_not_contains() -> None:
    assert verdict("not-contains", "sorry", "Sure.").passed is True
    found = verdict("not-contains", "SORRY", "I'm sorry", ignore_case=True)
    assert found == Verdict(False, "contains 'SORRY' (case-insensitive)")


def test_equals_ignores_outer_whitespace_only() -> None:
    assert verdict("equals", "{{expected}}", " Bonjour\n").passed is True
    assert verdict("equals", "{{expected}}", "Bonjour!").reason == (
        "does not equal 'Bonjour' (case-sensitive, outer spaces ignored)"
    )
    assert verdict("equals", "{{expected}}", "BONJOUR", ignore_case=True).passed is True


def test_regex_with_variables_inserted_escaped() -> None:
    assert verdict("regex", r"^\d+$", "42").passed is True
    assert verdict("regex", "^{{pattern}}$", "a.c").passed is True
    assert verdict("regex", "^{{pattern}}$", "abc").passed is False  # "." is literal
    found = verdict("regex", "^b", "Bee", ignore_case=True)
    assert found == Verdict(True, "matches /^b/ (case-insensitive)")


def test_regex_searches_a_capped_output_and_says_so() -> None:
    output = "a" * MAX_REGEX_INPUT + "needle"
    found = verdict("regex", "needle", output)
    assert found.passed is False
    assert f"first {MAX_REGEX_INPUT:,} characters" in found.reason


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(a+)+$", "repeats a group"),
        (r"(\w+\s?)*x", "repeats a group"),
        ("(x{2,})+", "repeats a group"),
        ("((a+))+", "repeats a group"),
        ("(?:a*)*", "repeats a group"),
        ("a(b", "not a regex"),
        ("{{pattern}}(", "not a regex"),
        ("a" * (MAX_PATTERN + 1), "at most 500"),
    ],
)
def test_dangerous_or_broken_regexes_are_spec_errors(pattern: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        Assertion("regex", pattern)
    assert words in caught.value.message
    assert caught.value.field == "value"


def test_escaped_parentheses_are_not_nested_quantifiers() -> None:
    assert verdict("regex", r"\(a+\)+", "(aa))").passed is True
    assert verdict("regex", r"(a+) +b", "aa  b").passed is True
    assert verdict("regex", r"(\d+)?x", "12x").passed is True


def test_is_json() -> None:
    assert verdict("is-json", None, ' {"a": 1}\n') == Verdict(True, "is JSON")
    found = verdict("is-json", None, "```json\n{}\n```")
    assert found.passed is False
    assert found.reason.startswith("is not JSON (Expecting value, line 1 column 1")


SCHEMA = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}


def test_json_schema_from_a_mapping_or_json_text() -> None:
    assert verdict("json-schema", SCHEMA, '{"name": "x", "age": 3}').passed is True
    found = verdict("json-schema", SCHEMA, '{"name": "x", "age": "3"}')
    assert found == Verdict(
        False, "does not match the schema at $.age: '3' is not of type 'integer'"
    )
    as_text = Assertion("json-schema", '{"type": "array"}')
    assert as_text.value == {"type": "array"}  # kept as the mapping
    assert check(as_text, "{}", None, {}).passed is False
    assert verdict("json-schema", SCHEMA, "nope").reason.startswith("is not JSON")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"type": "nonsense"}, "not a valid JSON Schema"),
        ("{not json", "the schema is not JSON"),
        ("[1]", "needs a JSON Schema"),
        (None, "needs a JSON Schema"),
        ({"$ref": "http://127.0.0.1:9/s.json"}, "only references inside it"),
        ({"items": [{"$ref": "file:///etc/passwd"}]}, "refers to 'file:///etc/passwd'"),
    ],
)
def test_a_bad_schema_is_a_spec_error(value: Any, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        Assertion("json-schema", value)


def test_references_inside_the_schema_are_read() -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}
    assert verdict("json-schema", schema, "1").passed is True
    assert verdict("json-schema", schema, '"s"').passed is False


def test_max_chars() -> None:
    assert verdict("max-chars", 5, "abcde") == Verdict(True, "5 characters, within 5")
    assert verdict("max-chars", 3, "abcd") == Verdict(False, "4 characters, more than 3")


def test_max_latency_reads_the_total_time() -> None:
    latency = Assertion("max-latency", 2)
    assert check(latency, "", stats(total_time=1.5), {}) == Verdict(True, "took 1.50 s, within 2 s")
    assert check(latency, "", stats(total_time=2.5), {}).passed is False
    assert check(latency, "", None, {}) == Verdict(False, "latency unknown")


def test_max_cost_unknown_fails_never_passes() -> None:
    cost = Assertion("max-cost", 0.01)
    assert check(cost, "", stats(cost=0.002), {}) == Verdict(True, "cost $0.002, within $0.01")
    assert check(cost, "", stats(cost=0.02), {}).passed is False
    assert check(cost, "", stats(cost=None), {}) == Verdict(False, "cost unknown")
    assert check(cost, "", None, {}) == Verdict(False, "cost unknown")


def test_llm_rubric_is_pending_a_judge() -> None:
    rubric = Assertion("llm-rubric", "A French translation", model="gpt-4o-mini", scale="1-5")
    assert check(rubric, "Bonjour", None, {}) == Verdict(None, "pending judge")


def test_a_missing_variable_raises() -> None:
    with pytest.raises(VariableError):
        verdict("contains", "{{nope}}", "x")


@pytest.mark.parametrize(
    ("made", "field", "words"),
    [
        (lambda: Assertion("startswith", "x"), "type", "not an assertion type"),  # type: ignore[arg-type]
        (lambda: Assertion("contains", ""), "value", "needs a text value"),
        (lambda: Assertion("contains", 3), "value", "needs a text value"),
        (lambda: Assertion("max-chars", -1), "value", "0 or more"),
        (lambda: Assertion("max-cost", True), "value", "number of USD"),
        (lambda: Assertion("max-latency", "2"), "value", "number of seconds"),
        (lambda: Assertion("max-chars", float("nan")), "value", "number"),
        (lambda: Assertion("is-json", "x"), "value", "takes no value"),
        (lambda: Assertion("matches-schema", "{}"), "value", "matches-schema takes no value"),
        (lambda: Assertion("contains", "x", model="m"), "model", "belong to llm-rubric"),
        (lambda: Assertion("llm-rubric", "x", scale="1-10"), "scale", "not a scale"),  # type: ignore[arg-type]
        (lambda: Assertion("llm-rubric", "x", model=""), "model", "model name"),
        (lambda: Assertion("contains", "x", ignore_case="yes"), "ignore_case", "true or false"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_assertion_is_a_spec_error_naming_its_field(
    made: Any, field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        made()
    assert caught.value.field == field
    assert words in caught.value.message
    assert caught.value.message.startswith(f"{field}: ")
    assert caught.value.under("assert[2]").field == f"assert[2].{field}"


PRICED = ResponseFormat(
    "json_schema", json.dumps({"type": "object", "properties": {"price": {"type": "number"}}})
)


def test_is_json_says_a_reply_cut_at_max_tokens_is_incomplete() -> None:
    cut = replace(stats(), finish_reason="length")
    found = check(Assertion("is-json"), '{"a": [1, 2', cut, ROW)
    assert found == Verdict(False, "is incomplete JSON: cut off at max tokens")
    assert check(Assertion("is-json"), '{"a": [1, 2]}', cut, ROW).passed is True
    assert check(Assertion("is-json"), '{"a": [1, 2', stats(), ROW).reason.startswith("is not JSON")


def test_matches_schema_checks_the_reply_against_the_runs_response_format() -> None:
    matches = Assertion("matches-schema")
    assert check(matches, '{"price": 2}', stats(), ROW, PRICED) == Verdict(
        True, "matches the response format's schema"
    )
    assert check(matches, '{"price": "x"}', stats(), ROW, PRICED) == Verdict(
        False, "does not match the schema: $.price: 'x' is not of type 'number'"
    )
    many = ResponseFormat("json_schema", '{"items": {"type": "number"}}')
    assert check(matches, '["a", "b", 3]', stats(), ROW, many).reason.endswith("(and 1 more)")
    assert check(matches, "Sure!", stats(), ROW, PRICED).reason.startswith("The reply is not JSON")
    cut = replace(stats(), finish_reason="length")
    assert check(matches, '{"price": 2', cut, ROW, PRICED).reason.startswith(
        "The JSON is incomplete"
    )
    for asked in (None, ResponseFormat("json_object")):
        found = check(matches, '{"price": 2}', stats(), ROW, asked)
        assert found == Verdict(
            False, "no schema to match: the run's response format is not JSON Schema"
        )
