"""Templates with {{variables}}: names, rendering (literal, never re-expanded, missing is an
error), and the problems named before a run (missing per row, unused columns)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlab.compare.variables import Problem, VariableError, check, names, render
from chatlab.errors import ChatLabError
from tests.unit.test_properties import FAST


def test_names_in_order_of_first_appearance_each_once() -> None:
    template = "{{b}} and {{ a }} then {{b}} {{\tc_1  }}"
    assert names(template) == ("b", "a", "c_1")


def test_what_is_not_an_identifier_is_not_a_variable() -> None:
    assert names("{{ two words }} {{1x}} {x} {{}} {{é}}") == ("é",)
    assert render("{{ two words }} {x}", {}) == "{{ two words }} {x}"


def test_render_inserts_values() -> None:
    assert render("Translate: {{ text }}!", {"text": "good morning"}) == "Translate: good morning!"


def test_values_are_inserted_literally_never_re_expanded() -> None:
    row = {"a": "{{b}}", "b": "B", "c": r"\1 \g<0>"}
    assert render("{{a}} {{c}}", row) == r"{{b}} \1 \g<0>"


def test_a_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(VariableError) as caught:
        render("Say {{expected}}", {"text": "x"})
    assert isinstance(caught.value, ChatLabError)
    assert "{{expected}}" in caught.value.message
    assert "expected" in caught.value.action


def test_render_can_escape_values() -> None:
    assert render("^{{x}}$", {"x": "a.b"}, escape=str.upper) == "^A.B$"


def test_check_names_missing_variables_with_their_rows() -> None:
    rows = [{"text": "a", "expected": "x"}, {"text": "b"}, {"text": "c"}]
    problems = check(["Translate {{text}}", "contains {{expected}}"], rows)
    assert problems == [
        Problem(
            "error", "expected", "{{expected}} is used, but rows 2, 3 have no value for it.", (2, 3)
        )
    ]


def test_check_a_single_missing_row_and_a_missing_column() -> None:
    problems = check(["{{a}} {{b}}"], [{"a": "1"}, {"a": "2", "b": "3"}, {"b": "4"}])
    assert [p.message for p in problems] == [
        "{{a}} is used, but row 3 has no value for it.",
        "{{b}} is used, but row 1 has no value for it.",
    ]
    problems = check(["{{zz}}"], [{"a": "1"}])
    assert problems[0].message == "{{zz}} is used, but the test set has no such column."
    assert problems[0].rows == (1,)


def test_check_lists_at_most_ten_rows() -> None:
    problems = check(["{{a}}"], [{"a": "x"}] + [{}] * 12)
    assert problems[0].message.endswith(
        "rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more have no value for it."
    )
    assert problems[0].rows == tuple(range(2, 14))


def test_check_with_no_rows() -> None:
    problems = check(["{{a}}"], [])
    assert problems[0].severity == "error"
    assert "no rows" in problems[0].message


def test_unused_columns_are_warnings() -> None:
    problems = check(["{{text}}"], [{"text": "a", "note": "n"}, {"text": "b", "extra": "e"}])
    assert [(p.severity, p.variable) for p in problems] == [
        ("warning", "note"),
        ("warning", "extra"),
    ]
    assert "'note' is used by no prompt" in problems[0].message


def test_all_well_is_no_problem() -> None:
    assert check(["{{a}}", "no variables"], [{"a": "1"}]) == []
    assert check(["plain"], [{}]) == []


texts = st.text(st.characters(exclude_characters="{}"), max_size=10)


@FAST
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), texts), max_size=5), st.text(max_size=10)
)
def test_render_is_one_literal_pass(parts: list[tuple[str, str]], value: str) -> None:
    """Every variable becomes its value exactly, and a value is never expanded again."""
    row = {"a": value, "b": "{{a}}", "c": ""}
    template = "".join(f"{text}{{{{{name}}}}}" for name, text in parts)
    assert render(template, row) == "".join(text + row[name] for name, text in parts)
    assert names(template) == tuple(dict.fromkeys(name for name, _ in parts))
