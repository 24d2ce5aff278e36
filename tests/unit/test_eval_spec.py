"""The evaluation spec: the issue's example loads; every key's errors name the field path
and what is allowed; tests from a file stay inside the spec's folder; dump round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlab.compare.assertions import Assertion
from chatlab.compare.spec import (
    EvalSpec,
    PromptVariant,
    SpecError,
    dump_spec,
    load_spec,
    spec_problems,
)
from chatlab.structured import ResponseFormat
from chatlab.testset import TestSet
from tests.unit.test_properties import FAST

ISSUE_SPEC = """
prompts:                     # list of strings (user prompt) or {system: ..., user: ...}
  - "Translate to French: {{text}}"
tests:                       # list of variable dicts, or a path to a CSV/JSONL file
  - {text: "good morning", expected: "bonjour"}
models: [gpt-4o-mini]        # default: the configured model
params: {temperature: [0, 0.7]}   # any sampling parameter -> list of values
samples: 2
assert:
  - {type: contains, value: "{{expected}}", ignore_case: true}
  - {type: llm-rubric, value: "The reply is a French translation", model: gpt-4o-mini}
threshold: 0.9
"""


def test_the_issues_example() -> None:
    spec = load_spec(ISSUE_SPEC, None)
    assert spec == EvalSpec(
        prompts=(PromptVariant("Translate to French: {{text}}"),),
        tests=TestSet(("text", "expected"), (("good morning", "bonjour"),)),
        models=("gpt-4o-mini",),
        params=(("temperature", (0.0, 0.7)),),
        samples=2,
        asserts=(
            Assertion("contains", "{{expected}}", ignore_case=True),
            Assertion("llm-rubric", "The reply is a French translation", model="gpt-4o-mini"),
        ),
        threshold=0.9,
    )
    assert load_spec(dump_spec(spec), None) == spec
    assert spec_problems(spec) == []


def test_defaults_and_system_prompts() -> None:
    spec = load_spec("prompts:\n  - {system: Be brief., user: Hi}\n  - Hello\n", None)
    assert spec.prompts == (PromptVariant("Hi", "Be brief."), PromptVariant("Hello"))
    assert (spec.tests, spec.models, spec.params, spec.samples, spec.asserts, spec.threshold) == (
        TestSet(),
        (),
        (),
        1,
        (),
        None,
    )
    assert load_spec(dump_spec(spec), None) == spec


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("prompts: [a]\nprompt: [b]\nextra: 1\n", "", "Unknown keys prompt, extra"),
        ("- a\n", "", "A spec is a mapping of keys"),
        ("prompts: [a\n", "", "Not YAML (line 2"),
        ("tests: []\n", "prompts", "needs a list of prompts"),
        ("prompts: []\n", "prompts", "needs a list of prompts"),
        ("prompts: [a, 3]\n", "prompts[1]", "a text or {system"),
        ("prompts: [{system: s}]\n", "prompts[0].user", "needs the user prompt"),
        ("prompts: [{user: u, sytem: s}]\n", "prompts[0]", "unknown key sytem"),
        ("prompts: [{user: u, system: [1]}]\n", "prompts[0].system", "must be text"),
        ("prompts: ['{{text}}']\n", "tests", "{{text}} is used, but the test set has no such"),
        ("prompts: ['{{a}}']\ntests: [{a: x}, {b: y}]\n", "tests[0].b", "row 1 has no 'b'"),
        ("prompts: [a]\ntests: [{a: [1]}]\n", "tests[0].a", "holds list"),
        ("prompts: [a]\ntests: {a: 1}\n", "tests", "needs a list of rows"),
        ("prompts: [a]\ntests: data.csv\n", "tests", "cannot read a tests file"),
        ("prompts: [a]\nmodels: gpt-4o\n", "models", "list of model names"),
        ("prompts: [a]\nmodels: [gpt-4o, '']\n", "models[1]", "must be a model name"),
        ("prompts: [a]\nparams: {temprature: [1]}\n", "params.temprature", "temperature, "),
        ("prompts: [a]\nparams: {temperature: 0.7}\n", "params.temperature", "list of values"),
        ("prompts: [a]\nparams: {temperature: [0, 3]}\n", "params.temperature[1]", "out of range"),
        (
            "prompts: [a]\nparams: {temperature: ['0.1, 0.2']}\n",
            "params.temperature[0]",
            "not a number",
        ),
        ("prompts: [a]\nparams: {temperature: [true]}\n", "params.temperature[0]", "not a number"),
        ("prompts: [a]\nparams: {max_tokens: [1.5]}\n", "params.max_tokens[0]", "not a number"),
        (
            "prompts: [a]\nparams: {reasoning_effort: [huge]}\n",
            "params.reasoning_effort[0]",
            "not a reasoning_effort",
        ),
        (
            "prompts: [a]\nparams: {reasoning_effort: [1]}\n",
            "params.reasoning_effort[0]",
            "not one of none, minimal",
        ),
        ("prompts: [a]\nparams: [temperature]\n", "params", "mapping of parameter"),
        ("prompts: [a]\nsamples: 0\n", "samples", "from 1 to 10"),
        ("prompts: [a]\nsamples: 11\n", "samples", "from 1 to 10"),
        ("prompts: [a]\nsamples: true\n", "samples", "from 1 to 10"),
        ("prompts: [a]\nassert: {type: contains}\n", "assert", "list of assertions"),
        ("prompts: [a]\nassert: [{value: x}]\n", "assert[0].type", "mapping with a type"),
        ("prompts: [a]\nassert: [x]\n", "assert[0]", "mapping with a type"),
        (
            "prompts: [a]\nassert: [{type: is-json}, {type: startswith, value: x}]\n",
            "assert[1].type",
            "is not an assertion type",
        ),
        (
            "prompts: [a]\nassert: [{type: contains, valeu: x}]\n",
            "assert[0].valeu",
            "unknown key valeu",
        ),
        (
            "prompts: [a]\nassert: [{type: regex, value: '(a+)+'}]\n",
            "assert[0].value",
            "repeats a group",
        ),
        (
            "prompts: [a]\nassert: [{type: json-schema, value: {type: 7}}]\n",
            "assert[0].value",
            "not a valid JSON Schema",
        ),
        ("prompts: [a]\nassert: [{type: contains, value: '{{x}}'}]\n", "tests", "{{x}} is used"),
        ("prompts: [a]\nthreshold: 90\n", "threshold", "from 0 to 1"),
        ("prompts: [a]\nthreshold: '0.9'\n", "threshold", "from 0 to 1"),
    ],
)
def test_a_bad_spec_names_the_field(text: str, field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(text, None)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert caught.value.action
    if field:
        assert caught.value.message.startswith(f"{field}: ")
    else:
        assert caught.value.message[0].isupper()
    assert "tests: row" not in caught.value.message


def test_choices_and_duplicates() -> None:
    spec = load_spec(
        "prompts: [a]\nmodels: [m, m]\nparams: {reasoning_effort: [low, high, low], seed: [1]}\n",
        None,
    )
    assert spec.models == ("m",)
    assert spec.params == (("reasoning_effort", ("low", "high")), ("seed", (1,)))


def test_unused_columns_are_warnings_not_errors() -> None:
    spec = load_spec("prompts: ['{{a}}']\ntests: [{a: x, note: y}]\n", None)
    assert [(p.severity, p.variable) for p in spec_problems(spec)] == [("warning", "note")]


def test_tests_from_a_file_next_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("text,expected\ngood morning,bonjour\n")
    (tmp_path / "rows.jsonl").write_text('{"text": "hi", "expected": "salut"}\n')
    text = (
        "prompts: ['{{text}}']\ntests: data/rows.csv\n"
        "assert: [{type: equals, value: '{{expected}}'}]\n"
    )
    spec = load_spec(text, tmp_path)
    assert spec.tests == TestSet(("text", "expected"), (("good morning", "bonjour"),))
    assert spec.tests_path == "data/rows.csv"
    assert "tests: data/rows.csv" in dump_spec(spec)
    assert load_spec(dump_spec(spec), tmp_path) == spec
    assert load_spec(text.replace("data/rows.csv", "rows.jsonl"), tmp_path).tests.rows == (
        ("hi", "salut"),
    )


def test_a_tests_file_outside_the_folder_missing_or_bad(tmp_path: Path) -> None:
    inner = tmp_path / "spec"
    inner.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (inner / "bad.csv").write_text("a,b\n1\n")
    for path, words in [
        ("../secret.csv", "not inside the spec's folder"),
        (str(tmp_path / "secret.csv"), "not inside the spec's folder"),
        ("none.csv", "cannot read 'none.csv'"),
        ("bad.csv", "bad.csv: The CSV file's row 1 has 1 values"),
    ]:
        with pytest.raises(SpecError) as caught:
            load_spec(f"prompts: [a]\ntests: {path}\n", inner)
        assert caught.value.field == "tests"
        assert words in caught.value.message


def test_only_safe_yaml_is_read() -> None:
    with pytest.raises(SpecError, match=r"Not YAML .*could not determine a constructor"):
        load_spec("prompts: !!python/object/apply:os.system ['true']\n", None)


words = st.text(
    st.characters(exclude_characters="{}", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
).filter(str.strip)
columns = st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True)


@FAST
@given(
    st.lists(st.tuples(words, st.sampled_from(["", "Be brief."])), min_size=1, max_size=3),
    st.lists(columns, min_size=1, max_size=3, unique=True),
    st.lists(words, min_size=1, max_size=3),
    st.lists(st.floats(0, 2), min_size=1, max_size=3, unique=True),
    st.integers(1, 10),
    st.none() | st.floats(0, 1),
    st.lists(st.sampled_from(["m1", "m2", "gpt-4o-mini"]), max_size=2, unique=True),
)
def test_dump_then_load_gives_the_same_spec(
    prompts: list[tuple[str, str]],
    names: list[str],
    cells: list[str],
    temperatures: list[float],
    samples: int,
    threshold: float | None,
    models: list[str],
) -> None:
    user = prompts[0][0] + "".join(f" {{{{{name}}}}}" for name in names)
    variants = (PromptVariant(user, prompts[0][1]), *(PromptVariant(u, s) for u, s in prompts[1:]))
    rows = tuple(tuple(cells[(i + j) % len(cells)] for j in range(len(names))) for i in range(2))
    spec = EvalSpec(
        prompts=variants,
        tests=TestSet(tuple(names), rows),
        models=tuple(models),
        params=(("temperature", tuple(temperatures)),),
        samples=samples,
        asserts=(
            Assertion("contains", cells[0], ignore_case=True),
            Assertion("max-chars", 500),
            Assertion("json-schema", {"type": "object"}),
            Assertion("llm-rubric", cells[-1], model="judge", scale="1-5"),
        ),
        threshold=threshold,
    )
    assert load_spec(dump_spec(spec), None) == spec


STRUCTURED_SPEC = """
prompts: ["Price of {{item}} as JSON"]
tests: [{item: tea}]
response_format:
  type: json_schema
  schema: {type: object, properties: {price: {type: number}}, required: [price]}
assert: [{type: is-json}, {type: matches-schema}]
"""


def test_a_response_format_and_its_assertions_load_and_round_trip() -> None:
    spec = load_spec(STRUCTURED_SPEC, None)
    assert spec.response_format is not None and spec.response_format.type == "json_schema"
    assert json.loads(spec.response_format.schema)["required"] == ["price"]
    assert [a.type for a in spec.asserts] == ["is-json", "matches-schema"]
    assert load_spec(dump_spec(spec), None) == spec
    plain = load_spec('prompts: ["x"]\nresponse_format: json_object\n', None)
    assert plain.response_format == ResponseFormat("json_object")
    assert load_spec(dump_spec(plain), None) == plain
    assert load_spec('prompts: ["x"]\nresponse_format: text\n', None).response_format is None


@pytest.mark.parametrize(
    ("written", "field", "words"),
    [
        ("xml", "response_format", "is text, json_object or"),
        ("{type: json_schema}", "response_format", "is text, json_object or"),
        ("{type: json_schema, schema: {}, strict: true}", "response_format.strict", "unknown"),
        (
            "{type: json_schema, schema: {properties: {a: {type: nmber}}}}",
            "response_format.schema.properties.a.type",
            "is not valid under any of the given schemas",
        ),
        ("{type: json_schema, schema: '{nope'}", "response_format.schema", "it is not JSON"),
    ],
)
def test_a_bad_response_format_names_its_field(written: str, field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(f'prompts: ["x"]\nresponse_format: {written}\n', None)
    assert caught.value.field == field
    assert words in str(caught.value)
