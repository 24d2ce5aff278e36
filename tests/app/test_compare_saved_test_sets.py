"""Saved test sets on the Compare page: a test set saved by name is listed, loaded into a
new session's table, replaced by a save under the same name, and deleted; a failure to
save is said, never a traceback."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.storage import StorageError, Store
from chatlab.testset import TestSet
from components.session import PageState
from tests.app.conftest import AppFactory, click, held
from tests.app.test_compare_evaluation_form import CSV, TESTS_FILE, upload
from tests.app.test_compare_page import open_compare


def saved_as(at: AppTest, name: str) -> AppTest:
    at.text_input(key="compare_testset_name").set_value(name)
    return click(at.run(), "Save")


def toasts(at: AppTest) -> str:
    """The toasts' text as the reader sees it (drawn through chatlab.markdown.plain)."""
    return re.sub(r"\\(.)", r"\1", " ".join(toast.value for toast in at.toast))


def store_of(at: AppTest) -> tuple[Store, str]:
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None
    return store, owner


def test_a_saved_test_set_loads_into_a_new_session_and_is_deleted(make_app: AppFactory) -> None:
    at = upload(open_compare(make_app), TESTS_FILE, "cities.csv", CSV)
    at = saved_as(at, "capitals")
    assert not at.exception
    assert "Test set “capitals” saved (3 rows)." in toasts(at)
    store, owner = store_of(at)
    stored = store.load_test_set(owner, "capitals")
    assert stored == TestSet(
        ("city", "expected"), (("Paris", "France"), ("Rome", "Italy"), ("Oslo", "Norway"))
    )

    fresh = open_compare(make_app)
    assert any(e.label.startswith("Test set · 1 row") for e in fresh.expander)
    picker = fresh.selectbox(key="compare_testset_pick")
    assert picker.options == ["capitals · 3 rows · city, expected"]
    fresh = click(picker.set_value("capitals").run(), "Load")
    assert not fresh.exception
    assert any(e.label.startswith("Test set · 3 rows") for e in fresh.expander)

    fresh = click(fresh.selectbox(key="compare_testset_pick").set_value("capitals").run(), "Delete")
    assert store.list_test_sets(owner) == []
    assert fresh.selectbox(key="compare_testset_pick").value is None


def test_saving_under_a_name_in_use_replaces_that_set(make_app: AppFactory) -> None:
    at = saved_as(upload(open_compare(make_app), TESTS_FILE, "a.csv", CSV), "capitals")
    at = upload(at, TESTS_FILE, "b.csv", b"city\nLima\n")
    at = saved_as(at, "capitals")
    store, owner = store_of(at)
    [summary] = store.list_test_sets(owner)
    assert (summary.name, summary.row_count) == ("capitals", 1)


def test_a_failed_save_is_said_and_changes_nothing(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = upload(open_compare(make_app), TESTS_FILE, "cities.csv", CSV)
    store, owner = store_of(at)

    def refuse(*_args: object) -> None:
        raise StorageError("The database is locked.", "Try again in a moment.")

    monkeypatch.setattr(store, "save_test_set", refuse)
    at = saved_as(at, "capitals")
    assert not at.exception
    assert "The test set was not saved: The database is locked" in toasts(at)
    assert store.list_test_sets(owner) == []


def test_without_a_test_set_there_is_nothing_to_save(make_app: AppFactory) -> None:
    at = open_compare(make_app)
    at.text_input(key="compare_testset_name").set_value("empty").run()
    (save,) = [b for b in at.button if b.label == "Save"]
    assert save.disabled
