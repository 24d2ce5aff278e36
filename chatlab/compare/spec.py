"""An evaluation spec: the YAML that runs the same evaluation from the page or from CI.

The keys are the issue's, exactly: ``prompts`` (required; each a user prompt, or
``{system, user}``), ``tests`` (a list of variable rows, or the path of a CSV/JSONL file
relative to the spec), ``models`` (default: the configured model), ``params`` (a sweepable
parameter -> its list of values), ``samples`` (default 1: a spec run in CI should be cheap
unless it says otherwise), ``assert`` and ``threshold`` (0..1, the overall pass rate below
which the command-line run fails); and, from issue 20, ``response_format`` (``json_object``,
or ``{type: json_schema, schema: ...}`` with the schema as a mapping or JSON text, checked
as the chat checks it: ``chatlab.structured``), which every cell then asks for (the
``matches-schema`` assertion reads it). Any other top-level key is an error naming it.

Loading is strict and whole: the first problem raises a ``SpecError`` whose ``field`` is the
path of what is wrong (``assert[1].type``, ``params.temperature[0]``; list positions count
from 0, as in the YAML tools; a test row in a message counts from 1, as people do) and
whose message says what is allowed. Parameter names, kinds and ranges come from the
declarations (``chatlab.grid.sweepable``, ``parse_values``), never from a list here.
Assertions are checked as they are made (``chatlab.compare.assertions``), and every
``{{variable}}`` the prompts and assertions use must be a column of every test row.

Only ``yaml.safe_load`` reads a spec (no Python objects from YAML). A spec loaded without a
``base_dir`` (an upload on the page) may not name a tests file: its tests must be inline,
so a visitor's spec cannot read the server's files; with one, the file must lie inside it.
``dump_spec`` writes what ``load_spec`` reads back equal (a tests file stays a path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatlab.compare.assertions import TEXT_TYPES, Assertion
from chatlab.compare.spec_error import SpecError
from chatlab.compare.variables import Problem, check
from chatlab.grid import MAX_SAMPLES, GridError, PromptVariant, parse_values, sweepable
from chatlab.structured import ResponseFormat, SchemaProblem, check_schema
from chatlab.testset import (
    MAX_FILE_BYTES,
    TestSet,
    TestSetError,
    from_dicts,
    parse_test_file,
)

__all__ = [
    "SPEC_KEYS",
    "EvalSpec",
    "PromptVariant",
    "SpecError",
    "assertion_data",
    "assertion_from",
    "dump_spec",
    "load_spec",
    "spec_problems",
]

SPEC_KEYS = (
    "prompts",
    "tests",
    "models",
    "params",
    "samples",
    "assert",
    "threshold",
    "response_format",
)
ASSERT_KEYS = ("type", "value", "ignore_case", "model", "scale")
MAX_SPEC_CHARS = 1_000_000
DEFAULT_SPEC_SAMPLES = 1


@dataclass(frozen=True)
class EvalSpec:
    """An evaluation as a spec says it, checked."""

    prompts: tuple[PromptVariant, ...]
    tests: TestSet = field(default_factory=TestSet)
    tests_path: str | None = None  # as written, when the tests came from a file
    models: tuple[str, ...] = ()  # empty: the configured model
    params: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # as chatlab.grid.Grid.axes
    samples: int = DEFAULT_SPEC_SAMPLES
    asserts: tuple[Assertion, ...] = ()
    threshold: float | None = None
    response_format: ResponseFormat | None = None  # None: text


def load_spec(text: str, base_dir: Path | None) -> EvalSpec:
    """The spec in ``text``; ``base_dir`` is where a tests path is read from (None: nowhere)."""
    data = _yaml(text)
    unknown = [str(key) for key in data if key not in SPEC_KEYS]
    if unknown:
        raise SpecError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}.",
            f"A spec's keys are {', '.join(SPEC_KEYS)}.",
        )
    prompts = _prompts(data.get("prompts"))  # the keys are read in the spec's order
    tests, tests_path = _tests(data.get("tests"), base_dir)
    spec = EvalSpec(
        prompts=prompts,
        tests=tests,
        tests_path=tests_path,
        models=_models(data.get("models")),
        params=_params(data.get("params")),
        samples=_samples(data.get("samples", DEFAULT_SPEC_SAMPLES)),
        asserts=_asserts(data.get("assert")),
        threshold=_threshold(data.get("threshold")),
        response_format=_response_format(data.get("response_format")),
    )
    errors = [problem for problem in spec_problems(spec) if problem.severity == "error"]
    if errors:
        raise SpecError(
            errors[0].message, "Add the column to the tests, or fix the name.", field="tests"
        )
    return spec


def spec_problems(spec: EvalSpec) -> list[Problem]:
    """Variables the prompts and assertions use but the tests lack, and unused columns."""
    return check(_templates(spec), spec.tests.dicts())


def dump_spec(spec: EvalSpec) -> str:
    """``spec`` as YAML that ``load_spec`` reads back equal."""
    data: dict[str, Any] = {"prompts": [_prompt_data(prompt) for prompt in spec.prompts]}
    data["tests"] = spec.tests_path if spec.tests_path is not None else spec.tests.dicts()
    if spec.models:
        data["models"] = list(spec.models)
    if spec.params:
        data["params"] = {name: list(values) for name, values in spec.params}
    data["samples"] = spec.samples
    if spec.asserts:
        data["assert"] = [assertion_data(assertion) for assertion in spec.asserts]
    if spec.threshold is not None:
        data["threshold"] = spec.threshold
    if spec.response_format is not None:
        data["response_format"] = _format_data(spec.response_format)
    import yaml  # loaded with the first spec: the chat never needs it

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _templates(spec: EvalSpec) -> list[str]:
    texts = [text for prompt in spec.prompts for text in (prompt.system, prompt.user)]
    texts += [a.value for a in spec.asserts if a.type in TEXT_TYPES and isinstance(a.value, str)]
    return texts


def _prompt_data(prompt: PromptVariant) -> str | dict[str, str]:
    return {"system": prompt.system, "user": prompt.user} if prompt.system else prompt.user


def assertion_data(assertion: Assertion) -> dict[str, Any]:
    data: dict[str, Any] = {"type": assertion.type}
    if assertion.value is not None:
        value = assertion.value
        data["value"] = dict(value) if isinstance(value, Mapping) else value
    if assertion.ignore_case:
        data["ignore_case"] = True
    if assertion.model is not None:
        data["model"] = assertion.model
    if assertion.scale != "pass-fail":
        data["scale"] = assertion.scale
    return data


# -- reading each key -----------------------------------------------------------------------


def _yaml(text: str) -> dict[Any, Any]:
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is over {MAX_SPEC_CHARS:,} characters.", "Shorten it.")
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or "unreadable"
        raise SpecError(f"not YAML{where}: {problem}.", "Fix the YAML.") from None
    if not isinstance(data, dict):
        raise SpecError(
            "a spec is a mapping of keys (prompts:, tests:, ...).",
            'Start with: prompts: ["Translate to French: {{text}}"]',
        )
    return data


def _prompts(raw: object) -> tuple[PromptVariant, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(
            "needs a list of prompts (a user prompt, or {system: ..., user: ...}).",
            'Write prompts: ["Translate to French: {{text}}"].',
            field="prompts",
        )
    return tuple(_prompt(item, f"prompts[{index}]") for index, item in enumerate(raw))


def _prompt(item: object, path: str) -> PromptVariant:
    if isinstance(item, str) and item.strip():
        return PromptVariant(item)
    if not isinstance(item, dict):
        raise SpecError(
            "a prompt is a text or {system: ..., user: ...}.", "Write the prompt.", field=path
        )
    extra = [str(key) for key in item if key not in ("system", "user")]
    if extra:
        raise SpecError(f"unknown key {extra[0]}.", "A prompt has system and user.", field=path)
    user, system = item.get("user"), item.get("system", "")
    if not isinstance(user, str) or not user.strip():
        raise SpecError("needs the user prompt as text.", "Write user: ...", field=f"{path}.user")
    if not isinstance(system, str):
        raise SpecError("must be text.", "Quote the system prompt.", field=f"{path}.system")
    return PromptVariant(user, system)


def _tests(raw: object, base_dir: Path | None) -> tuple[TestSet, str | None]:
    if raw is None:
        return TestSet(), None
    if isinstance(raw, str):
        return _tests_file(raw, base_dir), raw
    if not isinstance(raw, list) or not raw:
        raise SpecError(
            "needs a list of rows ({name: value, ...}) or the path of a CSV/JSONL file.",
            "Write tests: [{text: good morning}].",
            field="tests",
        )
    try:
        return from_dicts(raw, source="tests"), None
    except TestSetError as err:
        path = "tests" if err.row is None else f"tests[{err.row - 1}]"
        path += f".{err.column}" if err.column is not None and err.row is not None else ""
        raise SpecError(err.message.removeprefix("tests: "), err.action, field=path) from None


def _tests_file(name: str, base_dir: Path | None) -> TestSet:
    if base_dir is None:
        raise SpecError(
            "a spec loaded here cannot read a tests file.",
            "List the tests in the spec (tests: [{...}]).",
            field="tests",
        )
    base = base_dir.resolve()
    path = (base / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(base):
        raise SpecError(
            f"{name!r} is not inside the spec's folder.",
            "Give a path relative to the spec, inside its folder.",
            field="tests",
        )
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SpecError(
            f"cannot read {name!r} ({err.strerror}).", "Check the path.", field="tests"
        ) from None
    try:
        return parse_test_file(name, data)
    except TestSetError as err:
        raise SpecError(f"{name}: {err.message}", err.action, field="tests") from None


def _models(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise SpecError(
            "needs a list of model names.", "Write models: [gpt-4o-mini].", field="models"
        )
    for index, model in enumerate(raw):
        if not isinstance(model, str) or not model.strip():
            raise SpecError("must be a model name.", "Quote it.", field=f"models[{index}]")
    return tuple(dict.fromkeys(raw))


def _params(raw: object) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if raw is None:
        return ()
    axes = sweepable()
    allowed = f"Use any of {', '.join(axes)}."
    if not isinstance(raw, dict):
        raise SpecError("needs a mapping of parameter -> values.", allowed, field="params")
    found = []
    for name, values in raw.items():
        path = f"params.{name}"
        if name not in axes:
            raise SpecError(f"{name} is not a parameter that can be varied.", allowed, field=path)
        if not isinstance(values, list) or not values:
            raise SpecError("needs a list of values.", f"Write {name}: [0, 0.7].", field=path)
        kept = [_param_value(name, value, f"{path}[{i}]") for i, value in enumerate(values)]
        found.append((name, tuple(dict.fromkeys(kept))))
    return tuple(found)


def _param_value(name: str, value: object, path: str) -> Any:
    kind = sweepable()[name].kind
    choice = isinstance(kind, tuple)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if (choice and not isinstance(value, str)) or (not choice and not number):
        wanted = f"one of {', '.join(kind)}" if isinstance(kind, tuple) else "a number"
        raise SpecError(f"{value!r} is not {wanted}.", f"Give {name} {wanted}.", field=path)
    try:
        return parse_values(name, str(value))[0]
    except GridError as err:
        raise SpecError(err.message.removeprefix("tests: "), err.action, field=path) from None


def _samples(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_SAMPLES:
        raise SpecError(
            f"{raw!r} samples per cell.",
            f"Use a whole number from 1 to {MAX_SAMPLES}.",
            field="samples",
        )
    return raw


def _asserts(raw: object) -> tuple[Assertion, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError(
            "needs a list of assertions.", "Write assert: [{type: ...}].", field="assert"
        )
    return tuple(assertion_from(item, f"assert[{index}]") for index, item in enumerate(raw))


def assertion_from(item: object, path: str) -> Assertion:
    if not isinstance(item, dict) or "type" not in item:
        raise SpecError(
            "an assertion is a mapping with a type.",
            "Write {type: contains, value: ...}.",
            field=f"{path}.type" if isinstance(item, dict) else path,
        )
    extra = [str(key) for key in item if key not in ASSERT_KEYS]
    if extra:
        raise SpecError(
            f"unknown key {extra[0]}.",
            f"An assertion has {', '.join(ASSERT_KEYS)}.",
            field=f"{path}.{extra[0]}",
        )
    try:
        return Assertion(**{str(key): value for key, value in item.items()})
    except SpecError as err:
        raise err.under(path) from None


def _threshold(raw: object) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise SpecError(
            f"{raw!r} is not a pass rate.",
            "Use a number from 0 to 1 (0.9 = 90%).",
            field="threshold",
        )
    return float(raw)


def _format_data(response_format: ResponseFormat) -> str | dict[str, Any]:
    if response_format.type == "json_object":
        return "json_object"
    return {"type": "json_schema", "schema": json.loads(response_format.schema)}


def _response_format(raw: object) -> ResponseFormat | None:
    if raw is None or raw == "text":
        return None
    if raw == "json_object":
        return ResponseFormat("json_object")
    if not isinstance(raw, dict) or raw.get("type") != "json_schema" or "schema" not in raw:
        raise SpecError(
            "is text, json_object or {type: json_schema, schema: ...}.",
            "Write response_format: json_object, or give the schema.",
            field="response_format",
        )
    extra = [str(key) for key in raw if key not in ("type", "schema")]
    if extra:
        raise SpecError(
            f"unknown key {extra[0]}.",
            "A response format has type and schema.",
            field=f"response_format.{extra[0]}",
        )
    schema = raw["schema"]
    text = schema if isinstance(schema, str) else json.dumps(schema, indent=2)
    try:  # kept as indented JSON: a spec written back reads back equal
        return ResponseFormat("json_schema", json.dumps(check_schema(text), indent=2))
    except SchemaProblem as problem:
        field = "response_format.schema" + (problem.where[1:] if problem.where else "")
        raise SpecError(f"{problem.problem}.", "Fix the schema.", field=field) from None
