"""An evaluation run from the Compare page, end to end under AppTest: 2 prompt variants x 3
test rows send 6 requests with the variables filled in, the assertions mark the right
cells, a judge request goes to the judge model and is counted as judge, a run over the
budget sends nothing, and the stored run reopens with its scores."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.compare import Sweep
from chatlab.grid import Run, State
from components.session import CompareState, PageState
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, click, held, wait_until
from tests.app.test_compare_evaluation_form import CSV, TESTS_FILE, said, upload, with_two_variants
from tests.app.test_compare_page import open_compare

# The fake echoes the last user message: "Capital of Paris?" holds "Paris" and not "France";
# "Which country is Oslo in?" holds "Oslo". So "contains {{city}}" passes everywhere and
# "contains {{expected}}" nowhere, and "not-contains Rome" fails on row 2 only.
ASSERTS = [
    {"type": "contains", "value": "{{city}}", "ignore case": False},
    {"type": "not-contains", "value": "Rome", "ignore case": True},
]


def evaluation_form(make_app: AppFactory, asserts: list[dict[str, object]]) -> AppTest:
    at = upload(with_two_variants(open_compare(make_app)), TESTS_FILE, "cities.csv", CSV)
    at.text_input(key="compare_values_temperature").set_value("0.5")
    at.number_input(key="compare_samples").set_value(1)
    at.session_state["compare_asserts_0"] = {
        "edited_rows": {},
        "added_rows": asserts,
        "deleted_rows": [],
    }
    return at.run()


def finished(at: AppTest) -> Run:
    current = held(at, CompareState).run
    assert isinstance(current, Sweep)
    assert current.wait(20)
    wait_until(lambda: current.finished)
    return current.snapshot()


def test_two_variants_by_three_rows_send_six_requests_and_are_checked(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = click(evaluation_form(make_app, ASSERTS), "Run")
    run = finished(at)
    sent = sorted(r.body["messages"][-1]["content"] for r in fake.chat_requests)
    assert sent == [
        "Capital of Oslo?",
        "Capital of Paris?",
        "Capital of Rome?",
        "Which country is Oslo in?",
        "Which country is Paris in?",
        "Which country is Rome in?",
    ]
    verdicts = {(r.cell.variant, r.cell.row): [c.passed for c in r.checks] for r in run.results}
    assert verdicts == {
        ("A", 1): [True, True],
        ("A", 2): [True, False],
        ("A", 3): [True, True],
        ("B", 1): [True, True],
        ("B", 2): [True, False],
        ("B", 3): [True, True],
    }
    (rome,) = [r for r in run.results if (r.cell.variant, r.cell.row) == ("A", 2)]
    assert "Rome" in rome.checks[1].reason and rome.passed is False
    at = at.run()
    assert not at.exception
    assert [tab.label for tab in at.tabs][:2] == ["Cards", "Scores"]
    shown = said(at)  # what was asked, above the report
    assert "Prompt A: Capital of {{city}}?" in shown
    assert "Prompt B: Which country is {{city}} in?" in shown
    assert "Test set: 3 rows of city, expected" in shown


def test_a_judge_request_goes_to_the_judge_model_and_is_counted_as_judge(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    rubric: dict[str, object] = {
        "type": "llm-rubric",
        "value": "Asks about {{city}}",
        "judge model": "gpt-4o",
        "ignore case": False,
    }
    at = evaluation_form(make_app, [rubric])
    at.text_area(key="compare_prompt").set_value("Capital of {{city}}?")
    (remove,) = [b for b in at.button if b.label == "Remove prompt B"]
    at = remove.click().run()
    verdict = Reply(text='{"score": "pass", "reason": "It asks."}')
    fake.enqueue(Reply(text="Paris?"), verdict, Reply(text="Rome?"), verdict)
    fake.enqueue(Reply(text="Oslo?"), Reply(text="no verdict here"))
    at.number_input(key="compare_concurrency").set_value(1)
    at = click(at.run(), "Run")
    run = finished(at)
    models = [r.body["model"] for r in fake.chat_requests]
    assert models == ["gpt-4o-mini", "gpt-4o"] * 3  # each reply, then its judge
    assert fake.chat_requests[1].body["temperature"] == 0
    assert "Asks about Paris" in fake.chat_requests[1].body["messages"][-1]["content"]
    assert [r.checks[0].passed for r in run.results] == [True, True, None]
    assert run.results[0].checks[0].reason == "gpt-4o: It asks."
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None
    wait_until(lambda: (found := store.load_run(owner, run.id)) is not None and found.finished)
    sources = sorted(r.stats.source for r in store.usage_records(owner).records)
    assert sources == ["compare"] * 3 + ["judge"] * 3


def test_a_run_over_the_budget_sends_nothing(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_MAX_RUN_REQUESTS", "5")
    at = click(evaluation_form(make_app, ASSERTS), "Run")
    assert "This run would send 6 requests; a run may send at most 5" in said(at)
    assert "Nothing was sent" in said(at)
    assert fake.chat_requests == []
    assert held(at, CompareState).run is None


def test_the_stored_evaluation_reopens_with_its_scores(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = click(evaluation_form(make_app, ASSERTS), "Run")
    run = finished(at)
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None
    wait_until(lambda: (found := store.load_run(owner, run.id)) is not None and found.finished)

    again = make_app().run().switch_page("pages/compare.py").run()
    (opened,) = [b for b in again.button if b.key == f"compare_open_{run.id}"]
    again = opened.click().run()
    assert not again.exception
    reopened = held(again, CompareState).run
    assert isinstance(reopened, Run) and not isinstance(reopened, Sweep)
    assert [r.state for r in reopened.results] == [State.DONE] * 6
    assert [[c.passed for c in r.checks] for r in reopened.results] == [
        [c.passed for c in r.checks] for r in run.results
    ]
    assert [tab.label for tab in again.tabs][:2] == ["Cards", "Scores"]
    page_text = " ".join(c.value for c in again.caption)
    assert "Rome" in page_text  # the failed check's reason, on its card
