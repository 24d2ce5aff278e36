"""Saved test sets: the test set in the form saved by name (per owner), and loaded back.

Test sets are reused across runs: the same ten questions put to a new prompt next week.
They are stored per owner (``Store.save_test_set``), named, and listed newest first. A
saved set is checked as an upload is, both when it is saved and when it is loaded (the
database is not trusted more than a file). Loading one replaces the table, as an upload
does. Saving, loading and deleting happen in the buttons' callbacks, so the rerun that
follows shows the result; a storage failure is told as a notice, never a traceback. With
no store open, the section says so and offers nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatlab.markdown import plain
from chatlab.storage import MAX_TEST_SET_NAME, StorageError, Store, TestSetSummary
from chatlab.testset import TestSet
from components import session

__all__ = ["render_saved_test_sets"]


def render_saved_test_sets(
    tests: TestSet, savable: bool, load_into: Callable[[TestSet], None]
) -> None:
    """Save ``tests`` under a name; or load one of the owner's saved sets (``load_into``
    makes it the table), or delete one."""
    page = session.page()
    store, owner = page.store, page.owner
    if store is None:
        st.caption("Test sets cannot be saved while the database is not open.")
        return
    try:
        saved = store.list_test_sets(owner)
    except StorageError as err:
        st.caption(f"Saved test sets cannot be listed: {plain(str(err))}")
        return
    named = {summary.name: summary for summary in saved}
    pick, load, delete = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        "Saved test sets",
        list(named),
        index=None,
        placeholder="Choose one to load" if named else "None saved yet",
        format_func=lambda name: _label(named[name]),
        key=session.COMPARE_TESTSET_PICK,
        disabled=not named,
    )
    load.button(
        "Load",
        icon=":material/upload_file:",
        disabled=chosen is None,
        on_click=_load,
        args=(store, owner, chosen, load_into),
        key="compare_testset_load",
    )
    delete.button(
        "Delete",
        icon=":material/delete:",
        disabled=chosen is None,
        on_click=_delete,
        args=(store, owner, chosen),
        key="compare_testset_delete",
    )
    name_box, save = st.columns([4, 1], vertical_alignment="bottom")
    name = name_box.text_input(
        "Save this test set as",
        max_chars=MAX_TEST_SET_NAME,
        key=session.COMPARE_TESTSET_NAME,
        placeholder="e.g. capitals",
        help="Saved for you, by name; saving under a name in use replaces that set.",
    )
    save.button(
        "Save",
        icon=":material/save:",
        disabled=not savable or not name.strip(),
        on_click=_save,
        args=(store, owner, name, tests),
        key="compare_testset_save",
    )


def _label(summary: TestSetSummary) -> str:
    rows = f"{summary.row_count} row{'' if summary.row_count == 1 else 's'}"
    return f"{summary.name} · {rows} · {', '.join(summary.columns)}"


def _save(store: Store, owner: str, name: str, tests: TestSet) -> None:
    try:
        store.save_test_set(owner, name, tests)
    except StorageError as err:
        session.add_notice(f"The test set was not saved: {err}")
        return
    session.add_notice(f"Test set “{name.strip()}” saved ({len(tests.rows)} rows).")


def _load(store: Store, owner: str, name: str | None, load_into: Callable[[TestSet], None]) -> None:
    if name is None:
        return
    try:
        found = store.load_test_set(owner, name)
    except StorageError as err:
        session.add_notice(f"The test set was not loaded: {err}")
        return
    if found is None:
        session.add_notice(f"There is no test set “{name}” any more.")
        return
    load_into(found)


def _delete(store: Store, owner: str, name: str | None) -> None:
    if name is None:
        return
    try:
        store.delete_test_set(owner, name)
    except StorageError as err:
        session.add_notice(f"The test set was not deleted: {err}")
        return
    session.set_widget(session.COMPARE_TESTSET_PICK, None)
    session.add_notice(f"Test set “{name}” deleted.")
