"""The evaluation's inputs on the Compare form: prompt variants, the test set, assertions.

Design decisions:

- Variant A is the form's Prompt and System prompt, under their old widget keys, so a
  link, "Compare this prompt" and a plain sweep see the same form; with one variant the
  form looks as it always did. B, C, ... are ids in the compare state
  (``session.EvaluationForm.variant_ids``): a label is a position, a key an id, so
  removing B keeps C's text (it becomes B).
- A data editor keeps its edits against the table it started from, and that table must
  stay the same from run to run. So each editor's starting table is kept in the state,
  what it holds now is that table with the edits the browser sent (``edited``: Streamlit's
  order, edits, deletions, additions), and a new start (an upload, a spec, a variable's
  new column) is a new table under a new key, the edits so far folded into it. Reading
  the edits before the editor is drawn lets the assertions' ``{{variables}}`` give the
  test set its columns whatever the drawing order.
- The test set's columns are the variables the prompts and assertions use, then the
  columns an upload brought; a column no one uses and nobody filled goes away again.
- A cell never typed is None, and a variable without a value in a row is missing: it
  blocks Run, naming the rows. An empty text typed is a value. An unused column only
  warns (``chatlab.compare.check_variables``).
- An assertion row becomes an ``Assertion`` the way a spec's does (``assertion_from``),
  so the page and the command line refuse the same things, in the same words, here
  with the row (counted from 1) and the column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from chatlab.compare import (
    ASSERTION_TYPES,
    MAX_FILE_BYTES,
    Assertion,
    Problem,
    PromptVariant,
    SpecError,
    TestSet,
    TestSetError,
    assertion_data,
    assertion_from,
    check_variables,
    names,
    parse_test_file,
    to_csv,
)
from chatlab.grid import variant_label
from chatlab.markdown import plain
from components import session
from components.compare.saved_test_sets import render_saved_test_sets

__all__ = [
    "ASSERT_COLUMNS",
    "MAX_VARIANTS",
    "EvaluationInputs",
    "assertion_row",
    "edited",
    "read_assertions",
    "render_assertions",
    "render_evaluation",
    "render_test_set",
    "render_variants",
    "set_assertions",
    "set_test_set",
    "set_variants",
    "take_test_file",
    "templates_of",
    "test_set_of",
]

MAX_VARIANTS = 10
ROWS_NAMED = 10  # a missing variable names at most this many rows
ASSERT_COLUMNS = ("type", "value", "ignore case", "judge model", "scale")
# What each assertion field is called in the table (a SpecError names the field).
FIELD_COLUMNS = {"ignore_case": "ignore case", "model": "judge model"}
NUMBER_TYPES = frozenset({"max-chars", "max-latency", "max-cost"})
SCALES = ("pass-fail", "1-5")
ASSERT_HELP = (
    "Checked on every reply. contains, not-contains, equals and regex are case-sensitive "
    "unless “ignore case” is ticked; equals ignores surrounding spaces. A value may use "
    "the test set's {{variables}} (e.g. contains {{expected}}). is-json needs no value; "
    "json-schema takes the schema as JSON; matches-schema needs none: it checks the reply "
    "against the sidebar's Response format schema; max-chars, max-latency (seconds) and max-cost "
    "(USD) take a number. llm-rubric: the value is the rubric a judge model grades the "
    "reply by (judge model blank: the run's model), pass-fail or 1-5."
)
TESTS_HELP = (
    "One row per test case; each column is a {{variable}} the prompts and assertions use. "
    "A CSV's first line names the columns; a JSONL file holds one object per line."
)

Table = tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True)
class EvaluationInputs:
    """The test set and assertions as typed, checked; ``blocking`` says what stops Run."""

    columns: tuple[str, ...]
    rows: Table
    asserts: tuple[Assertion, ...]
    blocking: tuple[str, ...]


# -- prompt variants -----------------------------------------------------------------------------


def render_variants(prompt: str, system_prompt: str) -> tuple[PromptVariant, ...]:
    """Prompt A (today's Prompt and System prompt, starting from these texts), then B, C,
    ..., each removable, and "Add a prompt variant"."""
    ids = session.compare().evaluation.variant_ids
    suffix = " A" if ids else ""
    session.seed_widget(session.COMPARE_PROMPT, prompt)
    session.seed_widget(session.COMPARE_SYSTEM_PROMPT, system_prompt)
    user = st.text_area(
        f"Prompt{suffix}",
        key=session.COMPARE_PROMPT,
        placeholder="One prompt, run over the grid; {{name}} is filled from the test set",
    )
    system = st.text_area(f"System prompt{suffix}", key=session.COMPARE_SYSTEM_PROMPT)
    found = [PromptVariant(user, system)]
    for index, ident in enumerate(ids, start=1):
        label = variant_label(index)
        with st.container(border=True):
            found.append(
                PromptVariant(
                    st.text_area(f"Prompt {label}", key=_variant_key(ident, "user")),
                    st.text_area(f"System prompt {label}", key=_variant_key(ident, "system")),
                )
            )
            st.button(
                f"Remove prompt {label}",
                key=f"compare_remove_variant_{ident}",
                icon=":material/delete:",
                on_click=_remove_variant,
                args=(ident,),
            )
    st.button(
        "Add a prompt variant",
        icon=":material/add:",
        disabled=len(found) >= MAX_VARIANTS,
        on_click=_add_variant,
        help=f"Run another prompt over the same grid (at most {MAX_VARIANTS}); it starts as "
        "a copy of prompt A.",
    )
    return tuple(found)


def _variant_key(ident: str, part: str) -> str:
    return f"{session.COMPARE_VARIANT}{ident}_{part}"


def _add_variant() -> None:
    form = session.compare().evaluation
    if len(form.variant_ids) + 1 >= MAX_VARIANTS:
        return
    ident = str(max((int(i) for i in form.variant_ids), default=0) + 1)
    session.set_widget(_variant_key(ident, "user"), session.widget_value(session.COMPARE_PROMPT))
    system = session.widget_value(session.COMPARE_SYSTEM_PROMPT)
    session.set_widget(_variant_key(ident, "system"), system)
    form.variant_ids.append(ident)


def _remove_variant(ident: str) -> None:
    form = session.compare().evaluation
    if ident in form.variant_ids:
        form.variant_ids.remove(ident)


def set_variants(variants: Sequence[PromptVariant]) -> None:
    """Fill the prompts with ``variants`` (A first); call before they are drawn."""
    form = session.compare().evaluation
    first, *others = variants
    session.set_widget(session.COMPARE_PROMPT, first.user)
    session.set_widget(session.COMPARE_SYSTEM_PROMPT, first.system)
    form.variant_ids = [str(index) for index in range(1, len(others) + 1)]
    for ident, variant in zip(form.variant_ids, others, strict=True):
        session.set_widget(_variant_key(ident, "user"), variant.user)
        session.set_widget(_variant_key(ident, "system"), variant.system)


def templates_of(variants: Sequence[PromptVariant], asserts: Sequence[Assertion]) -> list[str]:
    """Every text that may name ``{{variables}}``: the prompts, the assertions' texts."""
    texts = [text for variant in variants for text in (variant.user, variant.system)]
    return texts + [a.value for a in asserts if isinstance(a.value, str)]


# -- the editors' tables -------------------------------------------------------------------------


def edited(columns: Sequence[str], rows: Table, edits: object) -> Table:
    """``rows`` with a data editor's edits applied as Streamlit applies them: cell edits,
    then deletions (positions in the starting table), then added rows."""
    if not isinstance(edits, Mapping):
        return rows
    current = [list(row) for row in rows]
    for index, changes in dict(edits.get("edited_rows") or {}).items():
        position = int(index)
        if 0 <= position < len(current) and isinstance(changes, Mapping):
            for column, value in changes.items():
                if column in columns:
                    current[position][columns.index(column)] = _cell(value)
    deleted = {int(index) for index in edits.get("deleted_rows") or ()}
    kept = [row for position, row in enumerate(current) if position not in deleted]
    for added in edits.get("added_rows") or ():
        if isinstance(added, Mapping):
            kept.append([_cell(added.get(column)) for column in columns])
    return tuple(tuple(row) for row in kept)


def _cell(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # NaN: never typed
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _frame(columns: Sequence[str], rows: Table) -> Any:
    """A starting table as the data editor takes it: text columns (object, even empty)."""
    return pd.DataFrame(list(rows), columns=list(columns), dtype=object)


# -- the test set ------------------------------------------------------------------------------


def _tests_key() -> str:
    return f"{session.COMPARE_TESTS}{session.compare().evaluation.tests_version}"


def current_tests() -> tuple[tuple[str, ...], Table]:
    """The test set as the editor holds it now (its starting table and the edits sent)."""
    form = session.compare().evaluation
    return form.columns, edited(form.columns, form.rows, session.widget_value(_tests_key()))


def _fold_columns(used: Sequence[str]) -> None:
    """Give each variable used a column, and drop the columns nobody uses or filled: a new
    starting table (a new editor) holding what was typed so far."""
    columns, rows = current_tests()
    kept = [
        column
        for position, column in enumerate(columns)
        if column in used or any(row[position] not in (None, "") for row in rows)
    ]
    wanted = tuple(kept + [name for name in used if name not in kept])
    if wanted == columns:
        return
    moved = tuple(
        tuple(row[columns.index(c)] if c in columns else None for c in wanted) for row in rows
    )
    _set_tests(wanted, moved or ((None,) * len(wanted),))


def _set_tests(columns: tuple[str, ...], rows: Table) -> None:
    form = session.compare().evaluation
    form.columns, form.rows = columns, rows
    form.tests_version += 1


def set_test_set(tests: TestSet) -> None:
    """Make ``tests`` the test set's starting table (an upload, a spec)."""
    _set_tests(tests.columns, tests.rows)


def test_set_of(columns: Sequence[str], rows: Table) -> TestSet:
    """The table as a ``TestSet`` (a cell never typed: empty); the default when it has no
    columns."""
    if not columns:
        return TestSet()
    return TestSet(tuple(columns), tuple(tuple(v or "" for v in row) for row in rows))


def take_test_file() -> None:
    """The uploader's callback: the file becomes the test set, or (checked whole) nothing
    changes and why is said with its row and column."""
    upload: Any = session.widget_value(session.COMPARE_TESTS_FILE)
    form = session.compare().evaluation
    if upload is None:
        return
    try:
        tests = parse_test_file(str(upload.name), upload.getvalue())
    except TestSetError as err:
        form.tests_refused = f"The file changed nothing: {err}{_where(err)}"
        return
    form.tests_refused = None
    set_test_set(tests)


def _where(err: TestSetError) -> str:
    said = [f"row {err.row}"] if err.row is not None else []
    said += [f"column {err.column!r}"] if err.column is not None else []
    return f" (at {', '.join(said)})" if said else ""


def render_test_set(templates: Sequence[str]) -> tuple[tuple[str, ...], Table, list[Problem]]:
    """The test set in an expander: its table (a column per variable ``templates`` use),
    an upload, a CSV download, and the variables' problems under it."""
    _fold_columns(used_variables(templates))
    form = session.compare().evaluation
    columns, rows = current_tests()
    count = len(rows)
    with st.expander(
        f"Test set · {count} row{'' if count == 1 else 's'}",
        icon=":material/table_rows:",
        expanded=bool(columns),
    ):
        if columns:
            st.data_editor(
                _frame(form.columns, form.rows),
                key=_tests_key(),
                num_rows="dynamic",
                hide_index=True,
                width="stretch",
                placeholder="",  # a cell never typed: blank, not "None"
                column_config={c: st.column_config.TextColumn(c, help=TESTS_HELP) for c in columns},
            )
        else:
            st.caption(
                "Write {{name}} in a prompt to make a column, or upload a CSV or JSONL file: "
                "each row is one test case, run through every setting."
            )
        problems = _problems(templates, columns, rows)
        load, save = st.columns(2)
        load.file_uploader(
            "Upload a test set (CSV or JSONL)",
            type=["csv", "jsonl", "ndjson"],
            max_upload_size=math.ceil(MAX_FILE_BYTES / 1_000_000),  # in MB
            key=session.COMPARE_TESTS_FILE,
            on_change=take_test_file,
            help=TESTS_HELP,
        )
        if form.tests_refused:
            load.error(plain(form.tests_refused), icon=":material/error:")
        tests = test_set_of(columns, rows)
        save.download_button(
            "Download as CSV",
            data=lambda: to_csv(tests),
            file_name="test-set.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            disabled=not columns,
        )
        render_saved_test_sets(tests, savable=bool(columns), load_into=set_test_set)
    return columns, rows, problems


def _problems(templates: Sequence[str], columns: Sequence[str], rows: Table) -> list[Problem]:
    """Each variable missing from rows (an error) and each column unused (a warning),
    said under the table; a cell never typed has no value."""
    dicts = [{c: v for c, v in zip(columns, row, strict=True) if v is not None} for row in rows]
    problems = [_in_table(problem, columns) for problem in check_variables(templates, dicts)]
    for problem in problems:
        if problem.severity == "error":
            st.error(plain(problem.message), icon=":material/error:")
        else:
            st.warning(plain(problem.message), icon=":material/warning:")
    return problems


def _in_table(problem: Problem, columns: Sequence[str]) -> Problem:
    """A variable that has its column, but cells nobody typed, said as such."""
    if problem.severity != "error" or problem.variable not in columns or not problem.rows:
        return problem
    shown = ", ".join(str(number) for number in problem.rows[:ROWS_NAMED])
    more = len(problem.rows) - ROWS_NAMED
    shown += f" and {more} more" if more > 0 else ""
    one = len(problem.rows) == 1
    message = (
        f"{{{{{problem.variable}}}}} is used, but row{'' if one else 's'} {shown} "
        f"{'has' if one else 'have'} no value for it."
    )
    return replace(problem, message=message)


# -- assertions ------------------------------------------------------------------------------


def _asserts_key() -> str:
    return f"{session.COMPARE_ASSERTS}{session.compare().evaluation.asserts_version}"


def _start_asserts() -> Table:
    rows = session.compare().evaluation.asserts
    return tuple(tuple(_cell(row.get(c)) for c in ASSERT_COLUMNS) for row in rows)


def _assert_table() -> Table:
    return edited(ASSERT_COLUMNS, _start_asserts(), session.widget_value(_asserts_key()))


def assertion_row(row: Mapping[str, object]) -> dict[str, object] | None:
    """A table row as a spec writes an assertion (None: a blank row, left out)."""
    kind = str(row.get("type") or "").strip()
    value = str(row.get("value") or "")
    model = str(row.get("judge model") or "").strip()
    if not kind and not value.strip() and not model:
        return None
    item: dict[str, object] = {"type": kind}
    if kind in NUMBER_TYPES:
        item["value"] = _number(value)
    elif value.strip() or kind not in ("is-json", "json-schema", "matches-schema"):
        item["value"] = value if value.strip() else None
    if row.get("ignore case") in (True, "true", "True"):
        item["ignore_case"] = True
    if model:
        item["model"] = model
    scale = str(row.get("scale") or "pass-fail")
    if scale != "pass-fail":
        item["scale"] = scale
    return item


def _number(text: str) -> object:
    try:
        number = float(text)
    except ValueError:
        return text.strip() or None  # said by the assertion: not a number
    return int(number) if number.is_integer() else number


def read_assertions() -> tuple[tuple[Assertion, ...], tuple[str, ...]]:
    """The assertions the table holds, and each invalid row said (row, column, what to
    fix)."""
    found, problems = [], []
    for position, values in enumerate(_assert_table()):
        item = assertion_row(dict(zip(ASSERT_COLUMNS, values, strict=True)))
        if item is None:
            continue
        try:
            found.append(assertion_from(item, f"assert[{position}]"))
        except SpecError as err:
            problems.append(_assertion_problem(position, err))
    return tuple(found), tuple(problems)


def _assertion_problem(position: int, err: SpecError) -> str:
    field = err.field.partition(".")[2]
    column = FIELD_COLUMNS.get(field, field)
    where = f"Assertion row {position + 1}" + (f", {column}" if column else "")
    return f"{where}: {err.bare} {err.action}"


def assertion_rows(asserts: Sequence[Assertion]) -> tuple[dict[str, object], ...]:
    """Assertions as the table's rows (a schema as JSON text, a number as text)."""
    rows = []
    for assertion in asserts:
        data = assertion_data(assertion)
        value = data.get("value")
        shown = json.dumps(value) if isinstance(value, Mapping) else value
        rows.append(
            {
                "type": data["type"],
                "value": None if shown is None else str(shown),
                "ignore case": bool(data.get("ignore_case", False)),
                "judge model": data.get("model"),
                "scale": data.get("scale", "pass-fail"),
            }
        )
    return tuple(rows)


def set_assertions(asserts: Sequence[Assertion]) -> None:
    """Make ``asserts`` the assertions' starting table (a spec)."""
    form = session.compare().evaluation
    form.asserts = assertion_rows(asserts)
    form.asserts_version += 1


def render_assertions(asserts: Sequence[Assertion], problems: Sequence[str]) -> None:
    """The assertions' table in an expander, and each invalid row said under it."""
    count = len(asserts)
    with st.expander(
        f"Assertions · {count}", icon=":material/rule:", expanded=bool(count or problems)
    ):
        frame = _frame(ASSERT_COLUMNS, _start_asserts())
        frame["ignore case"] = (frame["ignore case"] == "true").astype(bool)
        st.data_editor(
            frame,
            key=_asserts_key(),
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            column_config={
                "type": st.column_config.SelectboxColumn(
                    "type", options=list(ASSERTION_TYPES), help=ASSERT_HELP
                ),
                "value": st.column_config.TextColumn("value", help=ASSERT_HELP),
                "ignore case": st.column_config.CheckboxColumn(
                    "ignore case", default=False, help="Compare text ignoring case."
                ),
                "judge model": st.column_config.TextColumn(
                    "judge model", help="llm-rubric: the judge (blank: the run's model)."
                ),
                "scale": st.column_config.SelectboxColumn(
                    "scale", options=list(SCALES), default="pass-fail", help="llm-rubric."
                ),
            },
        )
        st.caption(
            "Text checks are case-sensitive unless “ignore case” is ticked. A value may name "
            "the test set's {{variables}}: contains {{expected}}."
        )
        for problem in problems:
            st.error(plain(problem), icon=":material/error:")


def used_variables(templates: Sequence[str]) -> list[str]:
    """The variables ``templates`` use, each once, in order."""
    return list(dict.fromkeys(name for text in templates for name in names(text)))


def render_evaluation(variants: Sequence[PromptVariant]) -> EvaluationInputs:
    """The test set and the assertions, drawn; what they hold, checked."""
    asserts, invalid = read_assertions()
    columns, rows, problems = render_test_set(templates_of(variants, asserts))
    render_assertions(asserts, invalid)
    missing = tuple(problem.message for problem in problems if problem.severity == "error")
    return EvaluationInputs(columns, rows, asserts, missing + invalid)
