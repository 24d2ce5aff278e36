"""A run's results read as a whole: each cell's answers clustered, and the summary's inputs.

A cell is a setting's samples (``Cell.setting``: prompt variant, test row, parameters,
model). Only results that finished (``State.DONE``) are read: a failed or stopped
request has no answer to count, and its length would pull the means down.

``outcomes`` turns results into the ``Outcome`` rows ``summarise`` reads: the variant
(``prompt A``; empty when the run has one prompt), the setting as ``Cell.parameters``
names it (so "cheapest setting" spans the test rows), the value of the ``varied``
parameter, the output's length in characters, ``Result.passed``, the cost, and the number
of distinct answers (clusters) in its cell. ``figure_rows`` lays a summary's figures out
as a table, with the results counted behind each, so every number said can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatlab.compare.clusters import Cluster, cluster, describe
from chatlab.compare.summary import Outcome, Summary
from chatlab.grid import Cell, Result, State
from chatlab.model_names import display_name

__all__ = ["CellAnswers", "answers_by_cell", "figure_rows", "outcomes", "varied"]

# What each figure is, in the words of the table it is counted from.
FIGURE_MEANINGS = {
    "length": "mean characters of a reply",
    "variety": "mean distinct answers in a reply's cell",
    "pass rate": "share of checked replies that passed",
}


@dataclass(frozen=True)
class CellAnswers:
    """One cell's finished results and their clusters (``Cluster.members`` index ``results``)."""

    setting: str
    results: tuple[Result, ...]
    clusters: tuple[Cluster, ...]

    @property
    def described(self) -> str:
        """In words, as ``describe`` says it: one answer and its count, or how many."""
        return describe(self.clusters)

    def samples(self, found: Cluster) -> tuple[int, ...]:
        """The sample numbers of a cluster's members."""
        return tuple(self.results[index].cell.sample for index in found.members)


def answers_by_cell(results: Sequence[Result]) -> list[CellAnswers]:
    """Each cell's finished results, clustered; cells in grid order, empty ones left out."""
    members: dict[tuple[str, int, tuple[tuple[str, Any], ...]], list[Result]] = {}
    for result in results:  # keyed by what makes ``Cell.setting``, not by the text it builds
        if result.state == State.DONE:
            cell = result.cell
            members.setdefault((cell.variant, cell.row, cell.varied), []).append(result)
    return [
        CellAnswers(found[0].cell.setting, tuple(found), tuple(cluster([r.text for r in found])))
        for found in members.values()
    ]


def varied(results: Sequence[Result]) -> str:
    """The parameter the summary compares along: the first one (not the model) that takes
    more than one value; else the model when models differ; else the first one given."""
    values: dict[str, set[Any]] = {}
    for settings in {result.cell.varied for result in results}:
        for name, value in settings:
            values.setdefault(name, set()).add(value)
    several = [name for name, found in values.items() if len(found) > 1]
    parameters = [name for name in several if name != "model"]
    if parameters:
        return parameters[0]
    if several:
        return "model"
    return next((name for name in values if name != "model"), "model")


def outcomes(results: Sequence[Result]) -> list[Outcome]:
    """The finished results as the summary reads them (module docstring), cell by cell."""
    parameter = varied(results)
    found = []
    for cell in answers_by_cell(results):
        first = cell.results[0].cell  # its samples share all but their sample number
        variant = f"prompt {first.variant}" if first.variant else ""
        setting, value = first.parameters, _value(first, parameter)
        found += [
            Outcome(
                variant=variant,
                setting=setting,
                value=value,
                length=len(result.text),
                passed=result.passed,
                cost_usd=result.stats.cost_usd if result.stats is not None else None,
                answers=len(cell.clusters),
            )
            for result in cell.results
        ]
    return found


def _value(cell: Cell, parameter: str) -> Any:
    if parameter == "model":
        return display_name(cell.settings.model)
    return dict(cell.varied).get(parameter)


def figure_rows(summary: Summary) -> list[dict[str, Any]]:
    """The summary's figures as table rows: what each is, its value at the lowest and the
    highest setting, the change, and the replies counted; then the cheapest setting."""
    low, high = _shown(summary.low), _shown(summary.high)
    rows: list[dict[str, Any]] = [
        {
            "figure": figure.name,
            "what it is": FIGURE_MEANINGS[figure.name],
            f"at {summary.parameter} {low}": round(figure.low, 3),
            f"at {summary.parameter} {high}": round(figure.high, 3),
            "change": _change(figure.name, figure.change),
            "replies counted": f"{figure.counted[0]} and {figure.counted[1]}",
        }
        for figure in summary.figures
    ]
    cheapest = summary.cheapest
    if cheapest is not None:
        name = " · ".join(part for part in (cheapest.variant, cheapest.setting) if part)
        rows.append(
            {
                "figure": "cheapest setting",
                "what it is": f"lowest mean cost a reply, pass rate ≥ {summary.goal:.0%}: {name}",
                f"at {summary.parameter} {low}": None,
                f"at {summary.parameter} {high}": None,
                "change": f"pass rate {cheapest.pass_rate:.0%}, "
                f"${cheapest.mean_cost_usd:.6f} a reply",
                "replies counted": str(cheapest.counted),
            }
        )
    return rows


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _change(name: str, change: float | None) -> str:
    if change is None:
        return "—"
    if name == "length":
        return f"{change:+.0f}%"
    if name == "variety":
        return f"×{change:.2f}"
    return f"{change:+.0f} points"
