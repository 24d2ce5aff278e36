"""The Compare form's evaluation inputs under AppTest: prompt variants, a test set typed or
uploaded (a bad file changes nothing and says where), assertions checked as a spec's, the
problems that block Run, the estimate above Run, and the setup as a spec, both ways."""

from __future__ import annotations

import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.compare import Assertion, EvalSpec, PromptVariant, TestSet, dump_spec, load_spec
from chatlab.grid import cells
from components.compare import runs as compare_runs
from components.compare.evaluation_inputs import assertion_row, edited
from components.compare.form import SweepRequest
from components.session import CompareState, EvaluationForm
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, click, held
from tests.app.test_compare_page import open_compare, run_sweep

CSV = b"city,expected\nParis,France\nRome,Italy\nOslo,Norway\n"
TESTS_FILE = "compare_tests_file"
SPEC_FILE = "compare_spec_file"


def unescaped(value: str) -> str:
    """Text drawn through ``chatlab.markdown.plain``, as the reader sees it."""
    return re.sub(r"\\(.)", r"\1", value)


def said(at: AppTest) -> str:
    """Every error, warning and caption on the page, as the reader sees them."""
    texts = [e.value for e in at.error] + [w.value for w in at.warning]
    return "\n".join(unescaped(t) for t in texts + [c.value for c in at.caption])


def evaluation(at: AppTest) -> EvaluationForm:
    return held(at, CompareState).evaluation


def estimate_line(at: AppTest) -> str:
    (line,) = [unescaped(c.value) for c in at.caption if c.value.startswith("Estimate")]
    return line


def upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    return at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()


def with_two_variants(at: AppTest) -> AppTest:
    at.text_area(key="compare_prompt").set_value("Capital of {{city}}?")
    at = click(at, "Add a prompt variant")
    at.text_area(key="compare_variant_1_user").set_value("Which country is {{city}} in?")
    return at.run()


@pytest.fixture
def caught(monkeypatch: pytest.MonkeyPatch) -> list[SweepRequest]:
    """What Run hands to ``runs.start`` (the run itself is wired elsewhere)."""
    found: list[SweepRequest] = []
    monkeypatch.setattr(compare_runs, "start", lambda _e, request, _s, _o: found.append(request))
    return found


def test_a_prompt_variant_is_added_as_a_copy_of_a_and_removed(make_app: AppFactory) -> None:
    at = open_compare(make_app)
    assert [t.label for t in at.text_area][:2] == ["Prompt", "System prompt"]  # as ever
    at.text_area(key="compare_prompt").set_value("Say hello.")
    at = click(at.run(), "Add a prompt variant")
    labels = [t.label for t in at.text_area]
    assert labels[:4] == ["Prompt A", "System prompt A", "Prompt B", "System prompt B"]
    assert at.text_area(key="compare_variant_1_user").value == "Say hello."
    assert at.text_area(key="compare_prompt").value == "Say hello."  # A kept its text
    at = click(at, "Add a prompt variant")
    at.text_area(key="compare_variant_2_user").set_value("Say bye.")
    at = click(at.run(), "Remove prompt B")
    assert [t.label for t in at.text_area if t.label.startswith("Prompt")] == [
        "Prompt A",
        "Prompt B",
    ]
    assert at.text_area(key="compare_variant_2_user").value == "Say bye."  # C is B now


def test_a_variable_becomes_a_column_and_a_csv_upload_fills_the_table(
    make_app: AppFactory,
) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Capital of {{city}}?")
    at = at.run()
    assert evaluation(at).columns == ("city",)
    assert evaluation(at).rows == ((None,),)  # one row, never typed
    at = upload(at, TESTS_FILE, "cities.csv", CSV)
    assert not at.exception
    assert evaluation(at).columns == ("city", "expected")
    assert evaluation(at).rows == (("Paris", "France"), ("Rome", "Italy"), ("Oslo", "Norway"))
    table = at.data_editor(key=f"compare_tests_{evaluation(at).tests_version}").value
    assert list(table["city"]) == ["Paris", "Rome", "Oslo"]
    assert any(e.label == "Test set · 3 rows" for e in at.expander)
    assert "Column 'expected' is used by no prompt or assertion" in said(at)  # only a warning


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("bad.csv", b"city,expected\nParis,France\nRome\n", "row 2 has 1 values"),
        ("bad.jsonl", b'{"city": "Paris"}\n{"city": null}\n', "row 2, column 'city' holds null"),
        ("bad.jsonl", b'{"city": "Paris"}\n{"1st": "x"}\n', "row 2: column '1st' is not"),
    ],
)
def test_a_bad_upload_changes_nothing_and_says_where(
    make_app: AppFactory, name: str, data: bytes, where: str
) -> None:
    at = upload(open_compare(make_app), TESTS_FILE, "cities.csv", CSV)
    before = (evaluation(at).columns, evaluation(at).rows, evaluation(at).tests_version)
    at = upload(at, TESTS_FILE, name, data)
    assert not at.exception
    assert (evaluation(at).columns, evaluation(at).rows, evaluation(at).tests_version) == before
    errors = " ".join(unescaped(e.value) for e in at.error)
    assert "The file changed nothing" in errors and where in errors


def test_the_table_edits_are_the_test_set(make_app: AppFactory, caught: list[Any]) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Capital of {{city}}?")
    at = at.run()
    at.session_state[f"compare_tests_{evaluation(at).tests_version}"] = {
        "edited_rows": {0: {"city": "Paris"}},
        "added_rows": [{"city": "Rome"}],
        "deleted_rows": [],
    }
    at = click(at.run(), "Run")
    (request,) = caught
    assert request.columns == ("city",) and request.rows == (("Paris",), ("Rome",))


def test_a_missing_variable_blocks_run_and_is_named(
    make_app: AppFactory, fake: FakeOpenAI, caught: list[Any]
) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Weather in {{city}}?")
    at = at.run()
    assert "{{city}} is used, but row 1 has no value for it." in said(at)  # before Run
    at = click(at, "Run")
    warnings = " ".join(unescaped(w.value) for w in at.warning)
    assert "{{city}} is used, but row 1 has no value for it." in warnings
    assert caught == [] and fake.chat_requests == []


def test_an_invalid_assertion_row_blocks_run_with_its_row_and_column(
    make_app: AppFactory, caught: list[Any]
) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.session_state["compare_asserts_0"] = {
        "edited_rows": {},
        "added_rows": [
            {"type": "contains", "value": "red", "ignore case": True},
            {"type": "max-chars", "value": "many", "ignore case": False},
        ],
        "deleted_rows": [],
    }
    at = click(at.run(), "Run")
    warnings = " ".join(unescaped(w.value) for w in at.warning)
    assert "Assertion row 2, value:" in warnings
    assert caught == []


def test_assertions_reach_the_request_and_their_variables_are_used(
    make_app: AppFactory, caught: list[Any]
) -> None:
    at = upload(open_compare(make_app), TESTS_FILE, "cities.csv", CSV)
    at.text_area(key="compare_prompt").set_value("Capital of {{city}}?")
    at.session_state["compare_asserts_0"] = {
        "edited_rows": {},
        "added_rows": [
            {"type": "contains", "value": "{{expected}}", "ignore case": True},
            {
                "type": "llm-rubric",
                "value": "A capital city.",
                "judge model": "gpt-4o",
                "ignore case": False,
            },
        ],
        "deleted_rows": [],
    }
    at = at.run()
    assert "is used by no prompt or assertion" not in said(at)  # {{expected}} counts
    at = click(at, "Run")
    (request,) = caught
    assert request.asserts == (
        Assertion("contains", "{{expected}}", ignore_case=True),
        Assertion("llm-rubric", "A capital city.", model="gpt-4o"),
    )
    assert request.judges == ("gpt-4o",)


def test_two_variants_by_three_rows_make_the_grid_and_the_estimate(
    make_app: AppFactory, fake: FakeOpenAI, caught: list[Any]
) -> None:
    at = upload(with_two_variants(open_compare(make_app)), TESTS_FILE, "cities.csv", CSV)
    at.number_input(key="compare_samples").set_value(2)
    at = at.run()
    # 2 variants x 3 rows x 3 temperatures x 2 samples, before Run
    assert estimate_line(at).startswith("Estimate: 36 requests ·")
    at = click(at, "Run")
    (request,) = caught
    assert [v.user for v in request.variants] == [
        "Capital of {{city}}?",
        "Which country is {{city}} in?",
    ]
    assert request.grid.variants == request.variants and request.grid.rows == request.rows
    assert request.compose is not None
    found = cells(request.grid, request.compose)
    assert len(found) == 36
    asked = {(c.variant, c.row, c.messages[-1]["content"]) for c in found}
    assert ("A", 1, "Capital of Paris?") in asked
    assert ("B", 3, "Which country is Oslo in?") in asked
    assert request.prompt == "Capital of {{city}}?"
    assert request.messages[-1] == {"role": "user", "content": "Capital of Paris?"}


def test_a_run_over_the_budget_is_said_before_run(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_MAX_RUN_REQUESTS", "5")
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at = at.run()
    assert estimate_line(at).startswith("Estimate: 9 requests ·")
    (warning,) = [unescaped(w.value) for w in at.warning]
    assert "This run would send 9 requests; a run may send at most 5" in warning
    assert "Nothing was sent" not in warning


def test_the_estimate_gives_way_to_a_shown_run_while_the_form_is_folded(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0", samples=1)
    at = at.run()
    assert at.session_state["compare_form"] is False
    assert not [c for c in at.caption if c.value.startswith("Estimate")]
    at.session_state["compare_form"] = True  # the user opens the form again
    assert estimate_line(at.run()).startswith("Estimate: 1 request ·")


def test_a_plain_run_is_asked_as_before(make_app: AppFactory, caught: list[Any]) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at = at.run()
    assert estimate_line(at).startswith("Estimate: 9 requests ·")  # 3 temperatures x 3
    at = click(at, "Run")
    (request,) = caught
    assert request.grid.variants == () and request.grid.rows == ()
    assert request.compose is None and request.rows == () and request.columns == ()
    assert request.messages[-1] == {"role": "user", "content": "Name a colour."}
    assert request.variants == (PromptVariant("Name a colour.", "You are a helpful assistant."),)


def test_the_spec_download_loads_back_equal_and_fills_a_new_form(make_app: AppFactory) -> None:
    at = upload(with_two_variants(open_compare(make_app)), TESTS_FILE, "cities.csv", CSV)
    at.session_state["compare_asserts_0"] = {
        "edited_rows": {},
        "added_rows": [
            {"type": "contains", "value": "{{expected}}", "ignore case": True},
            {"type": "json-schema", "value": '{"type": "object"}', "ignore case": False},
            {"type": "max-latency", "value": "2.5", "ignore case": False},
        ],
        "deleted_rows": [],
    }
    at.number_input(key="compare_threshold").set_value(0.75)
    at = at.run()
    spec = evaluation(at).spec
    assert spec is not None and len(spec.asserts) == 3 and spec.threshold == 0.75
    assert any(b.label == "Download as spec (YAML)" and not b.disabled for b in at.download_button)
    text = dump_spec(spec)
    assert load_spec(text, base_dir=None) == spec
    fresh = upload(open_compare(make_app), SPEC_FILE, "eval.yaml", text.encode())
    assert not fresh.exception
    assert evaluation(fresh).spec == spec


def test_a_spec_fills_the_form(make_app: AppFactory) -> None:
    text = """
prompts:
  - "Translate to French: {{text}}"
  - {system: "You translate.", user: "French for: {{text}}"}
tests:
  - {text: good morning, expected: bonjour}
  - {text: thank you, expected: merci}
models: [gpt-4o]
params: {temperature: [0, 0.7], seed: [1]}
samples: 2
assert:
  - {type: contains, value: "{{expected}}", ignore_case: true}
threshold: 0.8
"""
    at = upload(open_compare(make_app), SPEC_FILE, "eval.yaml", text.encode())
    assert not at.exception
    assert at.text_area(key="compare_prompt").value == "Translate to French: {{text}}"
    assert at.text_area(key="compare_variant_1_user").value == "French for: {{text}}"
    assert at.text_area(key="compare_variant_1_system").value == "You translate."
    assert at.text_input(key="compare_values_temperature").value == "0, 0.7"
    assert at.text_input(key="compare_values_seed").value == "1"
    assert at.number_input(key="compare_samples").value == 2
    assert at.number_input(key="compare_threshold").value == 0.8
    assert at.multiselect(key="compare_models").value == ["gpt-4o"]
    assert evaluation(at).columns == ("text", "expected")
    assert evaluation(at).rows == (("good morning", "bonjour"), ("thank you", "merci"))
    # 2 variants x 2 rows x 2 temperatures x 1 seed x 1 model x 2 samples
    assert estimate_line(at).startswith("Estimate: 16 requests ·")
    spec = evaluation(at).spec
    assert spec is not None and spec.tests == TestSet(
        ("text", "expected"), (("good morning", "bonjour"), ("thank you", "merci"))
    )


def test_a_bad_spec_changes_nothing_and_names_the_field(make_app: AppFactory) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Keep me.")
    at = at.run()
    bad = b'prompts: ["Hi {{name}}"]\ntests: [{name: Ann}]\nassert: [{type: shouts}]\n'
    at = upload(at, SPEC_FILE, "bad.yaml", bad)
    assert not at.exception
    assert at.text_area(key="compare_prompt").value == "Keep me."
    errors = " ".join(unescaped(e.value) for e in at.error)
    assert "The spec changed nothing: assert[0].type:" in errors
    at = upload(at, SPEC_FILE, "file.yaml", b'prompts: ["x"]\ntests: cases.csv\n')
    errors = " ".join(unescaped(e.value) for e in at.error)
    assert "tests: a spec loaded here cannot read a tests file" in errors
    assert at.text_area(key="compare_prompt").value == "Keep me."


def test_edits_apply_as_streamlit_applies_them() -> None:
    rows = (("a", "1"), ("b", None), ("c", "3"))
    edits = {
        "edited_rows": {"1": {"y": "2"}, 2: {"z": "ignored"}},
        "deleted_rows": [0],
        "added_rows": [{"x": "d"}],
    }
    assert edited(("x", "y"), rows, edits) == (("b", "2"), ("c", "3"), ("d", None))
    assert edited(("x", "y"), rows, None) == rows


def test_an_assertion_row_is_what_a_spec_writes() -> None:
    assert assertion_row({"type": None, "value": None, "judge model": ""}) is None  # blank
    assert assertion_row({"type": "max-chars", "value": "200"}) == {
        "type": "max-chars",
        "value": 200,
    }
    assert assertion_row({"type": "is-json", "value": "", "ignore case": False}) == {
        "type": "is-json"
    }
    assert assertion_row(
        {"type": "llm-rubric", "value": "Polite.", "judge model": "gpt-4o", "scale": "1-5"}
    ) == {"type": "llm-rubric", "value": "Polite.", "model": "gpt-4o", "scale": "1-5"}


def test_spec_of_a_plain_form_has_one_prompt_and_no_tests(make_app: AppFactory) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at = at.run()
    spec = evaluation(at).spec
    assert isinstance(spec, EvalSpec)
    assert spec.prompts == (PromptVariant("Name a colour.", "You are a helpful assistant."),)
    assert spec.tests == TestSet() and spec.samples == 3
    assert spec.params == (("temperature", (0.0, 0.7, 1.4)),)
