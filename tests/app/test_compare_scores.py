"""Compare's scores under AppTest: a stored run with checks opens with a Scores tab (the
pass-rate matrix and its table) and each card's checks; a thumbs up or down is stored,
on a stored run and on a live sweep, and shown again when the run is reopened."""

from __future__ import annotations

import json
from dataclasses import replace

import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Tab

from chatlab.compare import ALL_PASSED, RATED, Sweep
from chatlab.grid import Check, Grid, PromptVariant, Run, State, new_run
from chatlab.markdown import plain
from chatlab.messages import ChatSettings
from chatlab.storage import Store
from components.compare.scores import rating_key
from components.session import CompareState, PageState
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, charts, click, held, wait_until

COMPARE_PAGE = "pages/compare.py"
ASSERTS = (
    {"type": "contains", "value": "{{word}}", "ignore_case": True},
    {"type": "llm-rubric", "value": "The reply is polite"},
)
# A failure's reason quotes the row (and so model output): Markdown in it must show as text.
HOSTILE = "does not contain '**hola** [x](http://evil)' (case-insensitive)"


def evaluated_run() -> Run:
    """2 prompt variants x 1 row x 2 temperatures x 2 samples, every request answered:
    prompt A passes everything at 0; at 1.0 one sample fails "contains", one the judge
    could not tell; prompt B fails "contains" everywhere."""
    grid = Grid(
        ChatSettings(model="gpt-4o-mini"),
        (("temperature", (0.0, 1.0)),),
        samples=2,
        variants=(PromptVariant("Say {{word}}"), PromptVariant("Shout {{word}}")),
        columns=("word",),
        rows=(("hola",),),
    )
    run = new_run(grid, "Say {{word}}", [], asserts=ASSERTS)
    ok = Check('contains "hola"', True, "contains 'hola' (case-insensitive)")
    bad = Check('contains "hola"', False, HOSTILE)
    polite = Check("judge: polite", True, "it is polite", score=None)
    untold = Check("judge: polite", None, "the judge's reply did not parse")
    checks = [(ok, polite), (ok, polite), (ok, polite), (bad, untold)] + [(bad, polite)] * 4
    results = tuple(
        replace(result, state=State.DONE, text=f"Reply {index}", checks=pair)
        for index, (result, pair) in enumerate(zip(run.results, checks, strict=True))
    )
    return replace(run, results=results)


def stored(make_app: AppFactory, run: Run) -> tuple[AppTest, Store, str]:
    """The compare page, with ``run`` saved in its store and listed."""
    at = make_app().run().switch_page(COMPARE_PAGE).run()
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None
    store.save_run(owner, run)
    return at.run(), store, owner


def opened(at: AppTest, run_id: str) -> AppTest:
    (button,) = [b for b in at.button if b.key == f"compare_open_{run_id}"]
    at = button.click().run()
    assert not at.exception
    return at


def scores_tab(at: AppTest) -> Tab:
    (tab,) = [tab for tab in at.tabs if tab.label == "Scores"]
    return tab


def test_a_stored_run_with_checks_shows_its_scores_and_each_cards_checks(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    run = evaluated_run()
    at, _, _ = stored(make_app, run)
    at = opened(at, run.id)
    assert [tab.label for tab in at.tabs] == [
        "Cards",
        "Scores",
        "Table",
        "Charts",
        "Clusters",
        "Word diff",
    ]
    tab = scores_tab(at)
    (table,) = tab.dataframe
    frame = table.value
    assert list(frame["prompt"]) == ["A", "A", "B", "B"]
    assert (
        list(frame["setting"])
        == ["temperature=0.0 · gpt-4o-mini", "temperature=1.0 · gpt-4o-mini"] * 2
    )
    contains = 'contains "{{word}}" (any case)'
    judge = 'judge: "The reply is polite"'
    assert list(frame[contains]) == [1.0, 0.5, 0.0, 0.0]
    assert list(frame[f"{contains}: counts"])[1] == "1 of 2 passed"
    assert list(frame[judge])[:2] == [1.0, 1.0]  # the one not told is left out
    assert list(frame[f"{judge}: counts"])[1] == "1 of 1 passed, 1 not told"
    assert list(frame[ALL_PASSED]) == [1.0, 0.5, 0.0, 0.0]  # a failure fails it, whatever the judge
    assert list(frame["thumbs up"]) == [0, 0, 0, 0]
    (matrix,) = [rows for spec, rows in charts(at) if '"rate"' in json.dumps(spec)]
    second = {
        row["measure"]: row
        for row in matrix
        if row["case"].startswith("prompt A · temperature=1.0")
    }
    assert second[contains]["text"] == "50% of 2"
    assert second[judge]["text"] == "100% of 1 +1 not told"
    assert second[ALL_PASSED]["rate"] == 0.5 and RATED not in second  # nobody rated yet
    cards = [c.value for c in at.tabs[0].caption]
    assert "all 2 assertions passed" in " ".join(cards)
    failed = [c for c in cards if "✗" in c]
    assert len(failed) == 5  # one at A, 1.0 and the four of B
    assert plain(HOSTILE) in failed[0] and "**hola**" not in failed[0]  # shown as text
    assert "?" in failed[0] and "did not parse" in failed[0]


def test_a_run_without_assertions_or_ratings_has_no_scores_tab(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    run = evaluated_run()
    plain_run = replace(run, asserts=(), results=tuple(replace(r, checks=()) for r in run.results))
    at, _, _ = stored(make_app, plain_run)
    at = opened(at, run.id)
    assert [tab.label for tab in at.tabs] == ["Cards", "Table", "Charts", "Clusters", "Word diff"]
    assert len(at.feedback) == 8  # every finished card can still be rated


def test_rating_a_stored_run_stores_it_and_a_reopened_run_shows_it(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    run = evaluated_run()
    at, store, owner = stored(make_app, run)
    at = opened(at, run.id)
    at = at.feedback(key=rating_key(run.id, 1)).set_value(1).run()
    at = at.feedback(key=rating_key(run.id, 4)).set_value(0).run()
    assert not at.exception

    def ratings() -> list[int]:
        found = store.load_run(owner, run.id)
        assert found is not None
        return [result.rating for result in found.results]

    wait_until(lambda: ratings() == [0, 1, 0, 0, -1, 0, 0, 0])
    frame = scores_tab(at).dataframe[0].value
    assert list(frame["thumbs up"]) == [1, 0, 0, 0]
    assert list(frame["thumbs down"]) == [0, 0, 1, 0]

    st.cache_resource.clear()  # a new process: the store is opened again
    again = opened(make_app().run().switch_page(COMPARE_PAGE).run(), run.id)
    assert again.feedback(key=rating_key(run.id, 1)).value == 1
    assert again.feedback(key=rating_key(run.id, 4)).value == 0
    assert again.feedback(key=rating_key(run.id, 0)).value is None
    (matrix,) = [rows for spec, rows in charts(again) if '"rate"' in json.dumps(spec)]
    rated = {row["case"]: row["text"] for row in matrix if row["measure"] == RATED}
    assert rated["prompt A · temperature=0.0 · gpt-4o-mini"] == "1 up · 0 down"
    assert rated["prompt B · temperature=0.0 · gpt-4o-mini"] == "0 up · 1 down"


def test_rating_a_live_sweeps_card_stores_it_with_the_run(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run().switch_page(COMPARE_PAGE).run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("0, 1")
    at.number_input(key="compare_samples").set_value(1)
    at = click(at, "Run")
    live = held(at, CompareState).run
    assert isinstance(live, Sweep)
    assert [tab.label for tab in at.tabs] == [
        "Cards",
        "Table",
        "Charts",
        "Clusters",
        "Word diff",
    ]  # nothing to score
    at = at.feedback(key=rating_key(live.id, 1)).set_value(1).run()
    assert not at.exception
    assert [r.rating for r in live.snapshot().results] == [0, 1]
    assert [tab.label for tab in at.tabs][1] == "Scores"  # a rating is something to show
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None

    def stored_ratings() -> list[int]:
        found = store.load_run(owner, live.id)
        return [] if found is None else [result.rating for result in found.results]

    wait_until(lambda: stored_ratings() == [0, 1])
