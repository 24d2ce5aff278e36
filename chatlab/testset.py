"""A test set: named columns and rows of text, read from CSV or JSONL, checked whole.

Every row holds a value for every column (a rectangle): a row that lacks one is an error,
not a blank, so "missing" and "empty" never mix. Column names are variable names (an
identifier, as ``{{name}}`` needs), each once.

A file is checked whole before anything is kept: the first problem raises one
``TestSetError`` naming the row (1-based, the first data row is row 1; a CSV's header is
not a row) and the column, and no partial set is returned, so a bad upload changes
nothing. JSONL values may be text, numbers or booleans (kept as text, in JSON's spelling:
``true``, ``0.5``); null, lists and objects are refused. Limits: ``MAX_ROWS`` rows,
``MAX_CELL`` characters a cell, ``MAX_FILE_BYTES`` a file.

Export: JSONL is exact (``parse_jsonl(to_jsonl(s)) == s``). CSV goes through
``chatlab.csv_export.csv_text``, which makes a cell a spreadsheet would read as a
formula text (a leading ``'``): it is for spreadsheets, and may differ on the way back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from chatlab.csv_export import csv_text
from chatlab.errors import ChatLabError

__all__ = [
    "MAX_CELL",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "TestSet",
    "TestSetError",
    "from_dicts",
    "parse_csv",
    "parse_jsonl",
    "parse_test_file",
    "to_csv",
    "to_jsonl",
]

MAX_ROWS = 500
MAX_CELL = 20_000  # characters
MAX_FILE_BYTES = 2 * 1024 * 1024


class TestSetError(ChatLabError):
    """A test set that cannot be used; ``row`` (1-based) and ``column`` say where."""

    __test__: ClassVar[bool] = False  # not a pytest class

    def __init__(
        self, message: str, action: str, *, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(message, action, retryable=False)
        self.row = row
        self.column = column


@dataclass(frozen=True)
class TestSet:
    """Column names, and rows holding one text value per column, in column order."""

    __test__: ClassVar[bool] = False  # not a pytest class

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ((),)  # the default: one empty row

    def __post_init__(self) -> None:
        if any(len(row) != len(self.columns) for row in self.rows):
            raise ValueError("Every row of a TestSet holds one value per column.")

    def dicts(self) -> list[dict[str, str]]:
        """Each row as {column: value} (what ``chatlab.compare.variables.render`` takes)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def from_dicts(rows: Sequence[object], *, source: str = "The test set") -> TestSet:
    """A test set from mappings (JSONL lines, a spec's ``tests``); checked whole."""
    if len(rows) > MAX_ROWS:
        raise _too_many(len(rows), source)
    columns: dict[str, None] = {}
    mappings: list[Mapping[str, object]] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise TestSetError(
                f"{source}: row {number} is not a set of named values.",
                'Write each row as an object: {"text": "..."}.',
                row=number,
            )
        columns.update(dict.fromkeys(_column(name, number, source) for name in row))
        mappings.append(row)
    names = tuple(columns)
    kept = [_values(row, names, number, source) for number, row in enumerate(mappings, start=1)]
    return TestSet(names, tuple(kept))


def parse_jsonl(data: bytes | str) -> TestSet:
    """A JSONL file (one JSON object a line; blank lines at the end ignored), checked whole."""
    text = _text(data, "JSONL").rstrip()
    # "\n" alone ends a line: str.splitlines would also split inside a value at U+2028, U+0085
    lines = text.split("\n") if text else []
    objects = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise _blank(number, "JSONL")
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise TestSetError(
                f"The JSONL file's row {number} is not JSON ({err.msg}).",
                "Write one JSON object per line.",
                row=number,
            ) from None
    return _nonempty(from_dicts(objects, source="The JSONL file"), "JSONL")


def parse_csv(data: bytes | str) -> TestSet:
    """A CSV file (its first line the column names), checked whole."""
    table = list(csv.reader(io.StringIO(_text(data, "CSV"), newline="")))
    while table and not any(cell.strip() for cell in table[-1]):
        table.pop()  # blank lines at the end
    if not table or not table[0]:
        raise TestSetError(
            "The CSV file has no column names.", "Put the column names on its first line."
        )
    header, body = table[0], table[1:]
    columns = tuple(_column(name.strip(), None, "The CSV file") for name in header)
    if len(set(columns)) < len(columns):
        twice = next(name for name in columns if columns.count(name) > 1)
        raise TestSetError(
            f"The CSV file names column {twice!r} twice.",
            "Give each column its own name.",
            column=twice,
        )
    if len(body) > MAX_ROWS:
        raise _too_many(len(body), "The CSV file")
    rows = []
    for number, row in enumerate(body, start=1):
        if not any(cell.strip() for cell in row):
            raise _blank(number, "CSV")
        if len(row) != len(columns):
            raise TestSetError(
                f"The CSV file's row {number} has {len(row)} values, for {len(columns)} columns.",
                "Give every row one value per column (quote values holding commas).",
                row=number,
            )
        rows.append(_values(dict(zip(columns, row, strict=True)), columns, number, "The CSV file"))
    return _nonempty(TestSet(columns, tuple(rows)), "CSV")


def parse_test_file(name: str, data: bytes | str) -> TestSet:
    """A CSV or JSONL file by its name's ending (``.csv``, ``.jsonl``, ``.ndjson``)."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return parse_csv(data)
    if lowered.endswith((".jsonl", ".ndjson")):
        return parse_jsonl(data)
    raise TestSetError(f"{name!r} is neither CSV nor JSONL.", "Use a .csv or .jsonl file.")


def to_jsonl(test_set: TestSet) -> str:
    """The test set as JSONL, one object a row: exact, it reads back the same."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in test_set.dicts())


def to_csv(test_set: TestSet) -> str:
    """The test set as CSV for spreadsheets (formulas made text: see the module docstring)."""
    if not test_set.columns:
        return ""
    if not test_set.rows:  # csv_text takes its columns from the rows: the header alone
        return csv_text([dict.fromkeys(test_set.columns, "")]).split("\r\n")[0] + "\r\n"
    return csv_text(test_set.dicts())


def _text(data: bytes | str, kind: str) -> str:
    size = len(data.encode() if isinstance(data, str) else data)
    if size > MAX_FILE_BYTES:
        raise TestSetError(
            f"The {kind} file is {size / 1024 / 1024:.1f} MB; a test set file may be at most "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB.",
            f"Use at most {MAX_ROWS} rows, or shorter values.",
        )
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TestSetError(
            f"The {kind} file is not UTF-8 text (byte {err.start + 1}).", "Save it as UTF-8."
        ) from None


def _column(name: object, row: int | None, source: str) -> str:
    if isinstance(name, str) and name.isidentifier():
        return name
    where = f"row {row}: " if row else ""
    raise TestSetError(
        f"{source}: {where}column {name!r} is not a variable name.",
        "Name columns with letters, digits and _ (not starting with a digit), as {{name}} uses.",
        row=row,
        column=str(name),
    )


def _values(
    row: Mapping[str, object], columns: Sequence[str], number: int, source: str
) -> tuple[str, ...]:
    values = []
    for column in columns:
        if column not in row:
            raise TestSetError(
                f"{source}: row {number} has no {column!r} (other rows have it).",
                'Give every row a value for every column ("" for none).',
                row=number,
                column=column,
            )
        values.append(_cell(row[column], number, column, source))
    return tuple(values)


def _cell(value: object, number: int, column: str, source: str) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = json.dumps(value)  # JSON's spelling: true, 0.5
    else:
        kind = "null" if value is None else type(value).__name__
        raise TestSetError(
            f"{source}: row {number}, column {column!r} holds {kind}, not a value.",
            'Use text, a number or true/false ("" for none).',
            row=number,
            column=column,
        )
    if len(text) > MAX_CELL:
        raise TestSetError(
            f"{source}: row {number}, column {column!r} is {len(text):,} characters long; "
            f"a value may be at most {MAX_CELL:,}.",
            "Shorten it.",
            row=number,
            column=column,
        )
    return text


def _too_many(count: int, source: str) -> TestSetError:
    return TestSetError(
        f"{source} has {count:,} rows; a test set may have at most {MAX_ROWS}.",
        "Split it, or keep the rows that matter most.",
    )


def _blank(number: int, kind: str) -> TestSetError:
    return TestSetError(
        f"The {kind} file's row {number} is blank.",
        "Remove the blank line, or give the row its values.",
        row=number,
    )


def _nonempty(test_set: TestSet, kind: str) -> TestSet:
    if not test_set.rows:
        raise TestSetError(f"The {kind} file has no rows.", "Add at least one row of values.")
    return test_set
