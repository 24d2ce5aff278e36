"""A run read as a whole: each cell's finished answers clustered, the outcomes the summary
reads (the varied parameter, lengths, verdicts, costs, answers per cell) and the figures
laid out with the replies behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from chatlab.compare import answers_by_cell, figure_rows, outcomes, summarise, varied
from chatlab.grid import Check, Grid, PromptVariant, Result, State, cells
from chatlab.messages import ChatSettings, ReplyStats, Usage

BASE = ChatSettings(model="gpt-4o-mini")


def finished(
    grid: Grid,
    texts: Sequence[str],
    *,
    passed: Sequence[bool | None] | None = None,
    costs: Sequence[float | None] | None = None,
) -> list[Result]:
    """The grid's results, done, with these texts (and verdicts and costs), in grid order."""
    found = []
    for index, (cell, text) in enumerate(zip(cells(grid), texts, strict=True)):
        cost = costs[index] if costs is not None else 0.001
        verdict = passed[index] if passed is not None else None
        checks = () if verdict is None else (Check("contains", verdict, "why"),)
        stats = ReplyStats("m", Usage(10, 5), "stop", 0.1, 1.0, cost_usd=cost)
        found.append(Result(cell, State.DONE, text, stats, checks=checks))
    return found


TEMPERATURES = Grid(BASE, axes=(("temperature", (0.0, 1.4)),), samples=3)
# T=0: the same answer three times (one with other spaces and case); T=1.4: three answers.
TEXTS = ["Blue.", "blue ", "Blue.", "Red, I think.", "Green, surely!", "Purple is my pick."]


def test_each_cell_is_clustered_in_grid_order() -> None:
    low, high = answers_by_cell(finished(TEMPERATURES, TEXTS))
    assert low.setting == "temperature=0.0 · gpt-4o-mini"
    assert low.described == "1 answer ×3"
    (only,) = low.clusters
    assert only.representative == "Blue." and low.samples(only) == (1, 2, 3)
    assert high.described == "3 answers"
    assert [high.samples(found) for found in high.clusters] == [(1,), (2,), (3,)]


def test_only_finished_results_are_read() -> None:
    results = finished(TEMPERATURES, TEXTS)
    results[0] = replace(results[0], state=State.FAILED, text="")
    results[3] = replace(results[3], state=State.STOPPED)
    results[4] = replace(results[4], state=State.STOPPED)
    results[5] = replace(results[5], state=State.WAITING, text="")
    (low,) = answers_by_cell(results)  # T=1.4 has no finished result: no cell
    assert low.described == "1 answer ×2" and low.samples(low.clusters[0]) == (2, 3)
    assert [o.length for o in outcomes(results)] == [5, 5]


def test_outcomes_carry_each_results_figures() -> None:
    results = finished(
        TEMPERATURES,
        TEXTS,
        passed=[True, True, True, True, False, None],
        costs=[0.002, 0.002, 0.002, None, 0.001, 0.001],
    )
    found = outcomes(results)
    assert [o.value for o in found] == [0.0, 0.0, 0.0, 1.4, 1.4, 1.4]
    assert [o.length for o in found] == [len(text) for text in TEXTS]
    assert [o.answers for o in found] == [1, 1, 1, 3, 3, 3]
    assert [o.passed for o in found] == [True, True, True, True, False, None]
    assert [o.cost_usd for o in found] == [0.002, 0.002, 0.002, None, 0.001, 0.001]
    assert {o.variant for o in found} == {""}  # one prompt: no variant named
    assert found[3].setting == "temperature=1.4 · gpt-4o-mini"


def test_the_summary_of_those_outcomes() -> None:
    results = finished(TEMPERATURES, TEXTS, passed=[True, True, True, True, False, True])
    summary = summarise(outcomes(results), varied(results))
    length, variety, pass_rate = summary.figures
    assert (length.low, length.high) == (5, (13 + 14 + 18) / 3)
    assert (variety.low, variety.high, variety.change) == (1, 3, 3)
    assert (pass_rate.low, pass_rate.high) == (1, 2 / 3)
    assert summary.text.startswith(
        "From temperature 0 to 1.4, replies got 200% longer, 3× more varied and the pass "
        "rate fell from 100% to 67%."
    )
    assert summary.cheapest is not None
    assert summary.cheapest.setting == "temperature=0.0 · gpt-4o-mini"


def test_variants_and_rows_are_cells_but_not_settings() -> None:
    grid = Grid(
        BASE,
        axes=(("temperature", (0.0, 1.0)),),
        samples=2,
        variants=(PromptVariant("Say {{x}}"), PromptVariant("Please say {{x}}")),
        columns=("x",),
        rows=(("a",), ("b",)),
    )
    texts = ["same"] * 16
    texts[-1] = "quite another reply altogether"  # prompt B · row 2 · temperature=1.0
    results = finished(grid, texts)
    by_cell = answers_by_cell(results)
    assert len(by_cell) == 8  # 2 variants x 2 rows x 2 temperatures
    assert by_cell[-1].setting == "prompt B · row 2 · temperature=1.0 · gpt-4o-mini"
    assert by_cell[-1].described == "2 answers"
    found = outcomes(results)
    assert {o.variant for o in found} == {"prompt A", "prompt B"}
    assert {o.setting for o in found} == {
        "temperature=0.0 · gpt-4o-mini",
        "temperature=1.0 · gpt-4o-mini",
    }
    assert [o.answers for o in found].count(2) == 2  # that cell's two samples


def grid_of(axes: tuple[tuple[str, tuple[Any, ...]], ...], models: tuple[str, ...]) -> Grid:
    return Grid(BASE, axes=axes, models=models, samples=1)


def test_the_varied_parameter() -> None:
    def varied_in(grid: Grid) -> str:
        return varied(finished(grid, ["x"] * len(cells(grid))))

    two_models = ("gpt-4o-mini", "gpt-4o")
    assert varied_in(grid_of((("temperature", (0.0, 1.0)), ("seed", (1, 2))), ())) == (
        "temperature"
    )
    # One temperature, two seeds: the seed is what varies.
    assert varied_in(grid_of((("temperature", (0.5,)), ("seed", (1, 2))), ())) == "seed"
    # Only the models vary: the model, named as shown (a file path: its file name).
    models_only = grid_of((("temperature", (0.5,)),), ("/models/qwen.gguf", "gpt-4o"))
    assert varied_in(models_only) == "model"
    assert [o.value for o in outcomes(finished(models_only, ["x", "y"]))] == [
        "qwen.gguf",
        "gpt-4o",
    ]
    assert varied_in(grid_of((("temperature", (0.0, 1.0)),), two_models)) == "temperature"
    assert varied_in(grid_of((("temperature", (0.5,)),), ())) == "temperature"
    assert varied_in(grid_of((), ())) == "model"


def test_every_figure_is_a_row_with_the_replies_behind_it() -> None:
    results = finished(TEMPERATURES, TEXTS, passed=[True] * 5 + [False])
    rows = figure_rows(summarise(outcomes(results), "temperature"))
    assert [row["figure"] for row in rows] == ["length", "variety", "pass rate", "cheapest setting"]
    length, variety, pass_rate, cheapest = rows
    assert length["at temperature 0"] == 5 and length["at temperature 1.4"] == 15
    assert length["change"] == "+200%" and length["replies counted"] == "3 and 3"
    assert variety["change"] == "×3.00"
    assert pass_rate["at temperature 1.4"] == 0.667 and pass_rate["change"] == "-33 points"
    assert "temperature=0.0 · gpt-4o-mini" in cheapest["what it is"]
    assert cheapest["replies counted"] == "3"
    assert figure_rows(summarise([], "temperature")) == []
