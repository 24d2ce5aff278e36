"""CSV cells a spreadsheet would run as formulas are written as text (OWASP's advice)."""

from __future__ import annotations

import csv
import io

import pytest

from chatlab.csv_export import FORMULA_STARTS, csv_text, safe_cell


def read_back(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_made_text(start: str) -> None:
    hostile = f'{start}HYPERLINK("http://127.0.0.1:9/steal?"&A1,"click")'
    (row,) = read_back(csv_text([{"model": hostile, "output": hostile}]))
    assert row == {"model": "'" + hostile, "output": "'" + hostile}


def test_the_list_is_owasps() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


def test_a_column_name_is_made_safe_too() -> None:
    text = csv_text([{"=cmd|' /C calc'!A0": "x"}])
    assert text.splitlines()[0] == "'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "value", ["Echo: hi", " =1+1", "a=b", "", "'=already quoted", "é=", "1-2", "0.5"]
)
def test_other_text_is_unchanged(value: str) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [-0.5, -3, 0, 1.25, None, True])
def test_numbers_and_empty_cells_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) is value
    (row,) = read_back(csv_text([{"n": value}]))
    assert row["n"] == ("" if value is None else str(value))


def test_columns_keep_the_order_first_seen() -> None:
    text = csv_text([{"a": 1, "b": 2}, {"b": 3, "c": "=x"}])
    assert read_back(text) == [{"a": "1", "b": "2", "c": ""}, {"a": "", "b": "3", "c": "'=x"}]
