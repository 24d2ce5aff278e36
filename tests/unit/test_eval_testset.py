"""Test sets: CSV and JSONL read and checked whole (one error naming row and column, nothing
partial), the limits, and the exports (JSONL exact, CSV with formulas made text)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlab.testset import (
    MAX_CELL,
    MAX_FILE_BYTES,
    MAX_ROWS,
    TestSet,
    TestSetError,
    from_dicts,
    parse_csv,
    parse_jsonl,
    parse_test_file,
    to_csv,
    to_jsonl,
)
from tests.unit.test_properties import FAST


def test_csv_with_a_header() -> None:
    data = b'text,expected\r\ngood morning,bonjour\r\n"a, b","say ""hi"""\r\n'
    found = parse_csv(data)
    assert found == TestSet(
        ("text", "expected"), (("good morning", "bonjour"), ("a, b", 'say "hi"'))
    )
    assert found.dicts()[1] == {"text": "a, b", "expected": 'say "hi"'}


def test_csv_with_a_bom_blank_lines_at_the_end_and_spaces_in_the_header() -> None:
    found = parse_csv("\ufeff text , n\n1,2\n\n ,\n".encode())
    assert found == TestSet(("text", "n"), (("1", "2"),))


def test_rows_are_numbered_as_in_the_file_a_blank_row_is_an_error() -> None:
    with pytest.raises(TestSetError, match="row 2 is blank") as caught:
        parse_csv("a,b\n1,2\n\n3,4\n")
    assert caught.value.row == 2
    with pytest.raises(TestSetError, match="row 2 is blank"):
        parse_jsonl('{"a": 1}\n\n{"a": 2}\n')
    with pytest.raises(TestSetError, match="JSONL file's row 3 is not JSON"):
        parse_jsonl('{"a": 1}\n{"a": 2}\n{"a": \n\n')


def test_a_row_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="one value per column"):
        TestSet(("a",))


def test_jsonl_values_become_text_in_jsons_spelling() -> None:
    data = (
        '{"a": "x", "b": 1, "c": 0.5, "d": true}\r\n{"a": "y", "b": -2, "c": 1e20, "d": false}\n\n'
    )
    found = parse_jsonl(data)
    assert found.columns == ("a", "b", "c", "d")
    assert found.rows == (("x", "1", "0.5", "true"), ("y", "-2", "1e+20", "false"))


@pytest.mark.parametrize(
    ("data", "row", "column", "words"),
    [
        ('{"a": "x"}\n{"a": [1]}\n', 2, "a", "row 2, column 'a' holds list"),
        ('{"a": "x"}\n{"a": {"b": 1}}\n', 2, "a", "holds dict"),
        ('{"a": null}\n', 1, "a", "holds null"),
        ('{"a": "x"}\n{"b": "y"}\n', 1, "b", "row 1 has no 'b'"),
        ('{"a": "x"}\nnot json\n', 2, None, "row 2 is not JSON"),
        ('{"a": "x"}\n[1, 2]\n', 2, None, "row 2 is not a set of named values"),
        ('{"my col": "x"}\n', 1, "my col", "column 'my col' is not a variable name"),
        ('{"1a": "x"}\n', 1, "1a", "not a variable name"),
    ],
)
def test_a_bad_jsonl_row_names_its_row_and_column(
    data: str, row: int, column: str | None, words: str
) -> None:
    with pytest.raises(TestSetError) as caught:
        parse_jsonl(data)
    assert words in caught.value.message
    assert (caught.value.row, caught.value.column) == (row, column)
    assert caught.value.action


@pytest.mark.parametrize(
    ("data", "row", "column", "words"),
    [
        ("a,b\n1,2\n3\n", 2, None, "row 2 has 1 values, for 2 columns"),
        ("a,b\n1,2,3\n", 1, None, "row 1 has 3 values"),
        ("a,a\n1,2\n", None, "a", "names column 'a' twice"),
        ("a,Expected answer\n1,2\n", None, "Expected answer", "is not a variable name"),
        ("a,\n1,2\n", None, "", "column '' is not a variable name"),
        ("", None, None, "no column names"),
        ("\na\n1\n", None, None, "no column names"),
        ("a,b\n", None, None, "no rows"),
    ],
)
def test_a_bad_csv_names_its_row_and_column(
    data: str, row: int | None, column: str | None, words: str
) -> None:
    with pytest.raises(TestSetError) as caught:
        parse_csv(data)
    assert words in caught.value.message
    assert (caught.value.row, caught.value.column) == (row, column)


def test_limits() -> None:
    with pytest.raises(TestSetError, match=f"at most {MAX_ROWS}"):
        parse_csv("a\n" + "x\n" * (MAX_ROWS + 1))
    assert len(parse_csv("a\n" + "x\n" * MAX_ROWS).rows) == MAX_ROWS
    with pytest.raises(TestSetError, match="at most 20,000") as caught:
        parse_jsonl('{"a": "ok"}\n{"a": "' + "x" * (MAX_CELL + 1) + '"}\n')
    assert (caught.value.row, caught.value.column) == (2, "a")
    with pytest.raises(TestSetError, match="at most 2 MB"):
        parse_csv(b"a\n" + b"x" * MAX_FILE_BYTES)
    with pytest.raises(TestSetError, match="at most 500"):
        from_dicts([{"a": "x"}] * (MAX_ROWS + 1))


def test_not_utf8_and_unknown_endings() -> None:
    with pytest.raises(TestSetError, match="not UTF-8"):
        parse_csv(b"a\n\xff\n")
    with pytest.raises(TestSetError, match="neither CSV nor JSONL"):
        parse_test_file("tests.xlsx", b"")
    assert parse_test_file("T.CSV", "a\n1\n").rows == (("1",),)
    assert parse_test_file("t.ndjson", '{"a": 1}').rows == (("1",),)


def test_the_default_is_one_empty_row() -> None:
    assert TestSet().dicts() == [{}]
    assert from_dicts([{}]) == TestSet()


def test_exports() -> None:
    found = TestSet(("text", "n"), (("=1+1", "-3"), ("é", "")))
    assert to_jsonl(found) == '{"text": "=1+1", "n": "-3"}\n{"text": "é", "n": ""}\n'
    assert to_csv(found) == "text,n\r\n'=1+1,'-3\r\né,\r\n"  # formulas made text
    assert to_csv(TestSet(("a", "b"), ())) == "a,b\r\n"
    assert to_csv(TestSet()) == ""


names = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)


@FAST
@given(st.lists(names, min_size=1, max_size=4, unique=True), st.data())
def test_jsonl_and_plain_csv_round_trip(columns: list[str], data: st.DataObject) -> None:
    cell = st.text(max_size=15)
    rows = data.draw(st.lists(st.tuples(*[cell] * len(columns)), min_size=1, max_size=5))
    found = TestSet(tuple(columns), tuple(rows))
    assert parse_jsonl(to_jsonl(found)) == found
    plain = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)
    simple = data.draw(st.lists(st.tuples(*[plain] * len(columns)), min_size=1, max_size=5))
    table = TestSet(tuple(columns), tuple(simple))
    assert parse_csv(to_csv(table)) == table
