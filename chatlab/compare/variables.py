"""Templates with ``{{variables}}``: their names, rendering, and the problems before a run.

A variable is ``{{name}}`` with optional spaces inside the braces (``{{ name }}``); a name
is an identifier (letters, digits and ``_``, not starting with a digit). Anything else in
double braces (``{{ two words }}``) is not a variable and stays as written.

Rendering is one pass over the template: a value is inserted literally and never expanded
again, so a row whose value holds ``{{other}}`` cannot pull in another column. A variable
without a value is an error (``VariableError``), never an empty string: an evaluation that
silently sends "Translate: " would measure nothing. ``check`` says all of it before anything
runs: each variable used but missing (and in which rows), and each column used by no
template (a warning: it is allowed, but probably a typo).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from chatlab.errors import ChatLabError

__all__ = ["Problem", "VariableError", "check", "names", "render"]

# ``[^\W\d]\w*``: an identifier (Unicode letters included), as Python reads one.
VARIABLE = re.compile(r"\{\{\s*([^\W\d]\w*)\s*\}\}")
ROWS_NAMED = 10  # a problem lists at most this many rows, then "and N more"


class VariableError(ChatLabError):
    """A template rendered with a row that has no value for one of its variables."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message, action, retryable=False)


@dataclass(frozen=True)
class Problem:
    """Something wrong with templates and a test set: an ``error`` stops the run."""

    severity: Literal["error", "warning"]
    variable: str
    message: str
    rows: tuple[int, ...] = ()  # 1-based, as the user counts; empty: not about rows


def names(template: str) -> tuple[str, ...]:
    """The variables ``template`` uses, each once, in order of first appearance."""
    return tuple(dict.fromkeys(match.group(1) for match in VARIABLE.finditer(template)))


def render(
    template: str, row: Mapping[str, str], escape: Callable[[str], str] | None = None
) -> str:
    """``template`` with each variable replaced by the row's value, inserted literally.

    ``escape`` transforms each value first (a regex assertion inserts values escaped).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in row:
            raise VariableError(
                f"{{{{{name}}}}} has no value in this row.",
                f"Add a column {name!r} to the test set, or remove {{{{{name}}}}}.",
            )
        found = row[name]
        return escape(found) if escape else found

    return VARIABLE.sub(value, template)


def check(templates: Iterable[str], rows: Sequence[Mapping[str, str]]) -> list[Problem]:
    """Variables used by ``templates`` but missing from rows (errors, naming the rows), then
    columns of ``rows`` used by no template (warnings); empty when all is well."""
    used = list(dict.fromkeys(name for template in templates for name in names(template)))
    problems = [_missing(name, rows) for name in used]
    found = [problem for problem in problems if problem is not None]
    columns = dict.fromkeys(column for row in rows for column in row)
    found += [
        Problem(
            "warning",
            column,
            f"Column {column!r} is used by no prompt or assertion (no {{{{{column}}}}}).",
        )
        for column in columns
        if column not in used
    ]
    return found


def _missing(name: str, rows: Sequence[Mapping[str, str]]) -> Problem | None:
    if not rows:
        return Problem("error", name, f"{{{{{name}}}}} is used, but the test set has no rows.")
    lacking = tuple(number for number, row in enumerate(rows, start=1) if name not in row)
    if not lacking:
        return None
    if len(lacking) == len(rows):
        where = "the test set has no such column"
    else:
        where = f"{_rows_text(lacking)} {'has' if len(lacking) == 1 else 'have'} no value for it"
    return Problem("error", name, f"{{{{{name}}}}} is used, but {where}.", lacking)


def _rows_text(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:ROWS_NAMED])
    more = len(numbers) - ROWS_NAMED
    label = "row" if len(numbers) == 1 else "rows"
    return f"{label} {shown}" + (f" and {more} more" if more > 0 else "")
