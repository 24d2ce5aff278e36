"""An evaluation's cells and checks: messages composed from variants and rows, assertions
named and applied, a judge asked and its verdicts kept, and the estimate of it all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chatlab.compare import Assertion, assertion_name, composer, estimate, evaluator
from chatlab.compare.evaluation import Judge
from chatlab.errors import ChatLabError
from chatlab.grid import Grid, PromptVariant, Result, State, new_run
from chatlab.messages import ChatSettings, ReplyStats, Usage
from chatlab.structured import ResponseFormat

BASE = ChatSettings(model="gpt-4o-mini", system_prompt="")
GRID = Grid(
    BASE,
    samples=1,
    variants=(PromptVariant("Translate {{text}}", "Be {{tone}}."), PromptVariant("{{text}}?")),
    columns=("text", "tone", "expected"),
    rows=(("hello", "brief", "bonjour"), ("thanks", "warm", "merci")),
)
STATS = ReplyStats(
    model="gpt-4o",
    usage=Usage(30, 5),
    finish_reason="stop",
    time_to_first_token=0.1,
    total_time=0.2,
)


def test_each_cell_sends_its_variant_filled_from_its_row_after_the_context() -> None:
    context = [{"role": "system", "content": "dropped"}, {"role": "user", "content": "Before"}]
    run = new_run(GRID, "", [], compose=composer(context))
    sent = [(r.cell.variant, r.cell.row, r.cell.messages) for r in run.results]
    assert sent[0] == (
        "A",
        1,
        (
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Before"},
            {"role": "user", "content": "Translate hello"},
        ),
    )
    assert sent[3] == (
        "B",
        2,
        ({"role": "user", "content": "Before"}, {"role": "user", "content": "thanks?"}),
    )
    assert run.results[0].cell.settings.system_prompt == "Be {{tone}}."  # what the card says


def test_a_value_holding_braces_is_sent_as_typed() -> None:
    grid = replace(GRID, rows=(("{{tone}}", "x", "y"),), variants=GRID.variants[1:])
    [result] = new_run(grid, "", [], compose=composer()).results
    assert result.cell.messages[-1]["content"] == "{{tone}}?"


@pytest.mark.parametrize(
    ("assertion", "name"),
    [
        (Assertion("contains", "{{expected}}"), 'contains "{{expected}}"'),
        (Assertion("max-chars", 80), "max-chars 80"),
        (Assertion("is-json"), "is-json"),
        (Assertion("json-schema", {"type": "object"}), "json-schema (schema)"),
        (Assertion("llm-rubric", "x" * 80), "judge: " + "x" * 49 + "…"),
    ],
)
def test_checks_are_named_as_people_read_them(assertion: Assertion, name: str) -> None:
    assert assertion_name(assertion) == name


def done(text: str, row: int) -> Result:
    run = new_run(GRID, "", [], compose=composer())
    cell = next(r.cell for r in run.results if r.cell.row == row)
    return Result(cell, State.DONE, text=text, stats=STATS)


def test_assertions_use_the_rows_variables_and_a_judge_is_asked() -> None:
    asked: list[tuple[str, str]] = []

    def judge(model: str, messages: list[dict[str, str]]) -> tuple[str, ReplyStats | None]:
        asked.append((model, messages[-1]["content"]))
        return '{"score": 4, "reason": "Fine."}', replace(STATS, source="judge")

    asserts = [
        Assertion("contains", "{{expected}}", ignore_case=True),
        Assertion("llm-rubric", "Translates {{text}}", model="gpt-4o", scale="1-5"),
    ]
    checked = evaluator(asserts, GRID, judge)(done("Merci !", 2))
    assert [(c.name, c.passed) for c in checked.checks] == [
        ('contains "{{expected}}"', True),
        ("judge: Translates {{text}}", True),
    ]
    assert checked.checks[1].score == 4 and checked.checks[1].reason == "gpt-4o: Fine."
    assert asked[0][0] == "gpt-4o" and "Translates thanks" in asked[0][1]
    assert checked.judged is not None and checked.judged.usage == Usage(30, 5)
    assert checked.passed is True
    failed = evaluator(asserts[:1], GRID, judge)(done("Bonjour", 2))
    assert failed.passed is False and "merci" in failed.checks[0].reason


def test_a_judge_that_fails_or_does_not_answer_a_verdict_is_no_pass() -> None:
    def silent(model: str, messages: list[dict[str, str]]) -> tuple[str, ReplyStats | None]:
        return "Looks good to me.", STATS

    def broken(model: str, messages: list[dict[str, str]]) -> tuple[str, ReplyStats | None]:
        raise ChatLabError("The server failed.", "Retry.")

    rubric = [Assertion("llm-rubric", "Good")]
    judges: list[Judge | None] = [silent, broken, None]
    for judge in judges:
        checked = evaluator(rubric, GRID, judge)(done("x", 1))
        assert checked.checks[0].passed is None
        assert checked.passed is None
    unanswered = evaluator(rubric, GRID, silent)(done("x", 1))
    assert unanswered.judged == STATS  # its tokens were spent, and are counted


def test_the_estimate_counts_each_case_and_each_judge_request() -> None:
    run = new_run(GRID, "", [], compose=composer())
    cells = [r.cell for r in run.results]

    def price(model: str, tokens_in: int, tokens_out: int) -> float | None:
        return None if model == "local" else 0.001

    found = estimate(
        cells, [], price, judges=["gpt-4o", "local"], speeds={"gpt-4o-mini": 100.0}, concurrency=2
    )
    assert found.requests == 4 * 3
    assert found.output_tokens == 4 * (1024 + 100 + 100)
    assert found.cost_usd == pytest.approx(8 * 0.001)
    assert found.unpriced == ("local",)
    assert found.guessed_speed == ("gpt-4o", "local")
    assert found.seconds == pytest.approx((4 * 1024 / 100 + 2 * 400 / 30) / 2)
    assert (
        "12 requests" in found.summary
        and "at most" in found.summary
        and "30 tokens/s" in found.summary
    )


def test_matches_schema_reads_the_cells_response_format() -> None:
    schema = '{"type": "object", "required": ["answer"]}'
    asked = ResponseFormat("json_schema", schema)
    grid = replace(GRID, base=replace(BASE, response_format=asked))
    run = new_run(grid, "", [], compose=composer())
    cell = run.results[0].cell
    assert cell.settings.response_format == asked  # a sweep's cells carry it
    check = evaluator([Assertion("matches-schema")], grid, None)
    (passed,) = check(Result(cell, State.DONE, text='{"answer": 1}', stats=STATS)).checks
    (failed,) = check(Result(cell, State.DONE, text="{}", stats=STATS)).checks
    assert (passed.passed, failed.passed) == (True, False)
    assert failed.reason == "does not match the schema: $: 'answer' is a required property"
