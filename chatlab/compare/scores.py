"""Scores: how often each assertion passed, per prompt variant x model x setting, and how
people rated the results; the numbers behind the Scores tab's matrix and table.

A row is one prompt variant and one setting (``Cell.parameters``: the varied values and
the model), aggregated over its test rows and samples, in grid order. Decisions:

- Only results that ended with a request answered or failed are counted (``DONE`` and
  ``FAILED``); waiting, streaming and stopped ones are not results of the evaluation yet.
- Each assertion is matched by position: ``Result.checks`` holds one check per assertion
  of the run, in order (their names may differ from row to row, ``{{variables}}`` filled).
- A check whose ``passed`` is None (a judge reply that did not parse, a missing check, a
  failed request) is "not told": counted apart, never as a pass nor in the rate. The rate
  is passed / (passed + failed), as the "what changed" summary reads it
  (``chatlab.compare.summary``), so its figures can be found here.
- Overall, a result passes when every check passed (``Result.passed``).
- Every rate comes with the counts behind it (``Tally``), so a 100% of one result never
  reads like a 100% of thirty.
- A person's rating is counted as thumbs up and down; its "rate" is the share of thumbs
  up among the rated results.

The rows are plain data; ``matrix_cells`` and ``score_table`` lay them out for a heatmap
and for a table of the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatlab.grid import Result, State
from chatlab.model_names import display_name

__all__ = [
    "ALL_PASSED",
    "RATED",
    "ScoreRow",
    "Tally",
    "assertion_label",
    "cell_text",
    "column_labels",
    "matrix_cells",
    "score_rows",
    "score_table",
]

ALL_PASSED = "all assertions"  # the matrix column of results whose every check passed
RATED = "people's rating"  # the matrix column of thumbs up and down
COUNTED = frozenset({State.DONE, State.FAILED})
LABEL_VALUE = 40  # characters of an assertion's value shown in its label


@dataclass(frozen=True)
class Tally:
    """Results counted for one rate: passed, failed, and not told (counted apart)."""

    passed: int = 0
    failed: int = 0
    untold: int = 0

    @property
    def told(self) -> int:
        """Results that passed or failed: the rate's denominator."""
        return self.passed + self.failed

    @property
    def rate(self) -> float | None:
        """passed / told, 0..1; None when none was told."""
        return self.passed / self.told if self.told else None


@dataclass(frozen=True)
class ScoreRow:
    """One prompt variant x setting: its results' tallies and ratings."""

    variant: str  # "A", "B", ...; "": the run has one prompt
    model: str  # as shown (a file path: its file name)
    setting: str  # the varied values and the model: ``temperature=0.7 · gpt-4o-mini``
    results: int  # results counted (answered or failed)
    assertions: tuple[Tally, ...]  # one per assertion, in the run's order
    overall: Tally  # results whose every check passed / one failed / not told
    up: int  # thumbs up
    down: int  # thumbs down

    @property
    def label(self) -> str:
        """The row as the matrix names it: ``prompt B · temperature=0.7 · gpt-4o-mini``."""
        return f"prompt {self.variant} · {self.setting}" if self.variant else self.setting

    @property
    def rating(self) -> Tally:
        """Thumbs up as passed, down as failed."""
        return Tally(self.up, self.down)


def score_rows(results: Sequence[Result], assertions: int) -> list[ScoreRow]:
    """A row per prompt variant x setting, in grid order; ``assertions`` is how many the
    run has (each result's checks are read by position)."""
    grouped: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        grouped.setdefault((result.cell.variant, result.cell.parameters), []).append(result)
    return [_row(members, assertions) for members in grouped.values()]


def _row(members: list[Result], assertions: int) -> ScoreRow:
    cell = members[0].cell
    counted = [result for result in members if result.state in COUNTED]
    per_assertion = tuple(
        _tally(_told(result, index) for result in counted) for index in range(assertions)
    )
    return ScoreRow(
        variant=cell.variant,
        model=display_name(cell.settings.model),
        setting=cell.parameters,
        results=len(counted),
        assertions=per_assertion,
        overall=_tally(result.passed for result in counted),
        up=sum(result.rating == 1 for result in members),
        down=sum(result.rating == -1 for result in members),
    )


def _told(result: Result, index: int) -> bool | None:
    """Assertion ``index``'s verdict on ``result``: None when it has none (failed, not run)."""
    if result.state != State.DONE or index >= len(result.checks):
        return None
    return result.checks[index].passed


def _tally(verdicts: Iterable[bool | None]) -> Tally:
    found = list(verdicts)
    return Tally(
        passed=sum(verdict is True for verdict in found),
        failed=sum(verdict is False for verdict in found),
        untold=sum(verdict is None for verdict in found),
    )


def assertion_label(spec: Mapping[str, Any]) -> str:
    """An assertion as a column names it: ``contains "{{expected}}" (any case)``,
    ``max-chars 200``, ``judge: "The reply is French"``."""
    kind = str(spec.get("type", "assertion"))
    value = spec.get("value")
    if kind == "llm-rubric":
        return f"judge: {_quoted(value)}"
    if kind in ("contains", "not-contains", "equals"):
        case = " (any case)" if spec.get("ignore_case") else ""
        return f"{kind} {_quoted(value)}{case}"
    if kind == "regex":
        return f"regex /{_short(str(value))}/" + (" (any case)" if spec.get("ignore_case") else "")
    if kind.startswith("max-") and value is not None:
        return f"{kind} {value:g}" if isinstance(value, float) else f"{kind} {value}"
    return kind  # is-json, json-schema, matches-schema: no schema fits a column's name


def _short(text: str) -> str:
    return text if len(text) <= LABEL_VALUE else text[: LABEL_VALUE - 1] + "…"


def _quoted(value: object) -> str:
    return f'"{_short(str(value))}"'


def column_labels(asserts: Sequence[Mapping[str, Any]], results: Sequence[Result]) -> list[str]:
    """A distinct label per assertion: from the run's spec, else the first check's name
    (a run stored with checks beyond its spec), else its number."""
    count = max([len(asserts), *(len(result.checks) for result in results)])
    labels: list[str] = []
    for index in range(count):
        if index < len(asserts):
            label = assertion_label(asserts[index])
        else:
            names = [r.checks[index].name for r in results if index < len(r.checks)]
            label = names[0] if names else f"assertion {index + 1}"
        labels.append(label if label not in labels else f"{label} (#{index + 1})")
    return labels


def matrix_cells(rows: Sequence[ScoreRow], labels: Sequence[str]) -> list[dict[str, Any]]:
    """The heatmap's cells: per row, one per assertion, one for all of them (when there
    are assertions) and one for the rating (when any result is rated); each with its
    rate (None: nothing told), its counts and the text drawn on it; ``case`` names the
    row (``ScoreRow.label``), ``measure`` the column."""
    rated = any(row.up or row.down for row in rows)
    cells = []
    for row in rows:
        columns = list(zip(labels, row.assertions, strict=True))
        columns += [(ALL_PASSED, row.overall)] if labels else []
        columns += [(RATED, row.rating)] if rated else []
        for name, tally in columns:
            cells.append(
                {
                    "case": row.label,
                    "measure": name,
                    "rate": tally.rate,
                    "passed": tally.passed,
                    "failed": tally.failed,
                    "not told": tally.untold,
                    "text": _rating_text(tally) if name == RATED else cell_text(tally),
                }
            )
    return cells


def cell_text(tally: Tally) -> str:
    """``67% of 3``, ``+1 not told`` when some were not, ``not told (2)`` or ``none``."""
    if tally.rate is None:
        return f"not told ({tally.untold})" if tally.untold else "none"
    said = f"{tally.rate:.0%} of {tally.told}"
    return f"{said} +{tally.untold} not told" if tally.untold else said


def _rating_text(tally: Tally) -> str:
    return f"{tally.passed} up · {tally.failed} down" if tally.told else "not rated"


def score_table(rows: Sequence[ScoreRow], labels: Sequence[str]) -> list[dict[str, Any]]:
    """The same numbers as a table, one row per variant x setting: for each assertion and
    for all, the pass rate (0..1, None: nothing told) and its counts in words; the thumbs."""
    table = []
    for row in rows:
        line: dict[str, Any] = {"prompt": row.variant} if any(r.variant for r in rows) else {}
        line |= {"model": row.model, "setting": row.setting, "results": row.results}
        measures = list(zip(labels, row.assertions, strict=True))
        measures += [(ALL_PASSED, row.overall)] if labels else []
        for name, tally in measures:
            line[name] = tally.rate
            line[f"{name}: counts"] = _counts(tally)
        line |= {"thumbs up": row.up, "thumbs down": row.down}
        table.append(line)
    return table


def _counts(tally: Tally) -> str:
    said = f"{tally.passed} of {tally.told} passed"
    return f"{said}, {tally.untold} not told" if tally.untold else said
