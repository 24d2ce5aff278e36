"""The pass-rate matrix's numbers: per prompt variant x setting, over test rows and samples,
each assertion's and the overall pass rate with the counts behind it, "not told" checks
counted apart (never a pass), failed requests not told, and people's thumbs."""

from __future__ import annotations

from dataclasses import replace

from chatlab.compare.scores import (
    ALL_PASSED,
    RATED,
    Tally,
    assertion_label,
    cell_text,
    column_labels,
    matrix_cells,
    score_rows,
    score_table,
)
from chatlab.grid import Check, Grid, PromptVariant, Result, State, new_run
from chatlab.messages import ChatSettings

OK = Check("contains", True, "contains 'x' (case-sensitive)")
BAD = Check("contains", False, "does not contain 'x' (case-sensitive)")
UNTOLD = Check("judge", None, "the judge's reply did not parse")
PASSED_JUDGE = Check("judge", True, "it is French")
FAILED_JUDGE = Check("judge", False, "it is English")


def evaluation(variants: int = 2, rows: int = 2, samples: int = 2) -> list[Result]:
    """Every result of variants x rows x 2 temperatures x samples, waiting."""
    grid = Grid(
        ChatSettings(model="gpt-4o-mini"),
        (("temperature", (0.0, 1.0)),),
        samples=samples,
        variants=tuple(PromptVariant(f"prompt {n} {{{{text}}}}") for n in range(variants)),
        columns=("text",),
        rows=tuple((f"row {n}",) for n in range(rows)),
    )
    return list(new_run(grid, "", []).results)


def done(result: Result, *checks: Check, rating: int = 0) -> Result:
    return replace(result, state=State.DONE, text="x", checks=checks, rating=rating)


def test_a_row_per_variant_and_setting_over_test_rows_and_samples() -> None:
    results = [done(r, OK, PASSED_JUDGE) for r in evaluation()]
    rows = score_rows(results, 2)
    assert [row.label for row in rows] == [
        "prompt A · temperature=0.0 · gpt-4o-mini",
        "prompt A · temperature=1.0 · gpt-4o-mini",
        "prompt B · temperature=0.0 · gpt-4o-mini",
        "prompt B · temperature=1.0 · gpt-4o-mini",
    ]
    for row in rows:
        assert row.results == 4  # 2 test rows x 2 samples
        assert row.assertions == (Tally(4, 0, 0), Tally(4, 0, 0))
        assert row.overall == Tally(4, 0, 0) and row.overall.rate == 1.0
        assert row.model == "gpt-4o-mini"


def test_each_assertion_and_overall_count_passes_failures_and_not_told_apart() -> None:
    results = evaluation(variants=1, rows=1, samples=4)[:4]  # temperature 0, four samples
    results = [
        done(results[0], OK, PASSED_JUDGE),  # passes
        done(results[1], BAD, PASSED_JUDGE),  # fails the first
        done(results[2], OK, UNTOLD),  # the judge did not parse: not told overall
        done(results[3], BAD, UNTOLD),  # one failure fails it whatever the judge
    ]
    (row,) = score_rows(results, 2)
    contains, judge = row.assertions
    assert contains == Tally(passed=2, failed=2, untold=0) and contains.rate == 0.5
    assert judge == Tally(passed=2, failed=0, untold=2)
    assert judge.rate == 1.0  # not told is left out of the rate, and never a pass
    assert row.overall == Tally(passed=1, failed=2, untold=1)
    assert row.overall.rate == 1 / 3
    assert row.variant == "" and row.label == "temperature=0.0 · gpt-4o-mini"


def test_a_failed_request_is_not_told_and_unfinished_results_are_not_counted() -> None:
    first, second, third, fourth = evaluation(variants=1, rows=1, samples=4)[:4]
    results = [
        done(first, OK),
        replace(second, state=State.FAILED, error="The server failed."),
        replace(third, state=State.STREAMING, text="par"),
        replace(fourth, state=State.STOPPED),
    ]
    (row,) = score_rows(results, 1)
    assert row.results == 2
    assert row.assertions == (Tally(1, 0, 1),)
    assert row.overall == Tally(1, 0, 1)


def test_a_result_without_its_checks_is_not_told() -> None:
    first, second = evaluation(variants=1, rows=1, samples=2)[:2]
    (row,) = score_rows([done(first, OK), done(second)], 2)
    assert row.assertions == (Tally(1, 0, 1), Tally(0, 0, 2))
    assert row.assertions[1].rate is None


def test_ratings_are_counted_up_and_down_per_row() -> None:
    results = evaluation(variants=2, rows=1, samples=2)
    results[0] = done(results[0], rating=1)
    results[1] = done(results[1], rating=-1)
    results[4] = done(results[4], rating=1)  # prompt B, temperature 0
    rows = score_rows(results, 0)
    assert [(row.up, row.down) for row in rows] == [(1, 1), (0, 0), (1, 0), (0, 0)]
    assert rows[0].rating.rate == 0.5 and rows[1].rating.rate is None


def test_the_matrix_cells_carry_rates_counts_and_their_text() -> None:
    results = evaluation(variants=1, rows=1, samples=3)
    results[0] = done(results[0], OK, rating=1)
    results[1] = done(results[1], BAD)
    results[2] = done(results[2], BAD)
    rows = score_rows(results, 1)
    cells = matrix_cells(rows, ["contains"])
    first = [cell for cell in cells if cell["case"] == rows[0].label]
    assert [cell["measure"] for cell in first] == ["contains", ALL_PASSED, RATED]
    contains, overall, rated = first
    assert contains["rate"] == 1 / 3 and contains["text"] == "33% of 3"
    assert (contains["passed"], contains["failed"], contains["not told"]) == (1, 2, 0)
    assert overall["rate"] == 1 / 3
    assert rated["rate"] == 1.0 and rated["text"] == "1 up · 0 down"
    second = [cell for cell in cells if cell["case"] == rows[1].label]
    assert [cell["text"] for cell in second] == ["none", "none", "not rated"]
    assert second[0]["rate"] is None


def test_without_assertions_only_the_rating_is_a_column() -> None:
    results = evaluation(variants=1, rows=1, samples=1)
    results[0] = done(results[0], rating=-1)
    cells = matrix_cells(score_rows(results, 0), [])
    assert {cell["measure"] for cell in cells} == {RATED}
    assert cells[0]["rate"] == 0.0


def test_cell_text_says_what_was_not_told() -> None:
    assert cell_text(Tally(2, 1, 1)) == "67% of 3 +1 not told"
    assert cell_text(Tally(0, 0, 2)) == "not told (2)"
    assert cell_text(Tally()) == "none"


def test_the_table_holds_the_same_numbers() -> None:
    results = evaluation(variants=2, rows=1, samples=2)
    results[0] = done(results[0], OK, UNTOLD, rating=1)
    results[1] = done(results[1], BAD, PASSED_JUDGE)
    labels = ["contains", "judge"]
    table = score_table(score_rows(results, 2), labels)
    first = table[0]
    assert first["prompt"] == "A" and first["model"] == "gpt-4o-mini"
    assert first["setting"] == "temperature=0.0 · gpt-4o-mini" and first["results"] == 2
    assert first["contains"] == 0.5 and first["contains: counts"] == "1 of 2 passed"
    assert first["judge"] == 1.0 and first["judge: counts"] == "1 of 1 passed, 1 not told"
    assert first[ALL_PASSED] == 0.0  # one failed, one not told
    assert first[f"{ALL_PASSED}: counts"] == "0 of 1 passed, 1 not told"
    assert (first["thumbs up"], first["thumbs down"]) == (1, 0)
    assert table[1][ALL_PASSED] is None  # nothing ended yet


def test_one_prompt_has_no_prompt_column() -> None:
    results = [done(r, OK) for r in evaluation(variants=1, rows=1, samples=1)]
    assert "prompt" not in score_table(score_rows(results, 1), ["contains"])[0]


def test_assertion_labels() -> None:
    assert assertion_label({"type": "contains", "value": "{{expected}}", "ignore_case": True}) == (
        'contains "{{expected}}" (any case)'
    )
    assert assertion_label({"type": "max-chars", "value": 200}) == "max-chars 200"
    assert assertion_label({"type": "max-latency", "value": 2.5}) == "max-latency 2.5"
    assert assertion_label({"type": "is-json"}) == "is-json"
    assert assertion_label({"type": "regex", "value": "^a+$"}) == "regex /^a+$/"
    rubric = assertion_label({"type": "llm-rubric", "value": "x" * 100})
    assert rubric.startswith('judge: "xxx') and rubric.endswith('…"') and len(rubric) < 60


def test_column_labels_are_distinct_and_fall_back_to_check_names() -> None:
    results = [done(evaluation(1, 1, 1)[0], OK, OK, UNTOLD)]
    twice = {"type": "is-json"}
    assert column_labels([twice, twice], results) == ["is-json", "is-json (#2)", "judge"]
    assert column_labels([], [results[0]]) == ["contains", "contains (#2)", "judge"]
    assert column_labels([], []) == []
