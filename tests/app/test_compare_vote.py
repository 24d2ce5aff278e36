"""A vote from Compare's cards (issue 19): two cards picked, the better one said; the vote
is stored (read back from the store), changed in place, and counted on the Leaderboard."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.arena import Contestant, Turn, Verdict, Vote, vote_from
from chatlab.grid import Grid, Run, State, new_run
from chatlab.messages import ChatSettings
from chatlab.storage import StorageError, Store
from components.session import PageState
from tests.app.conftest import AppFactory, held

COMPARE_PAGE = "pages/compare.py"
PROMPT = "Name a colour."


def finished_run(models: tuple[str, ...], temperatures: tuple[float, ...], samples: int = 1) -> Run:
    grid = Grid(
        ChatSettings(model=models[0]), (("temperature", temperatures),), models, samples=samples
    )
    run = new_run(grid, PROMPT, [{"role": "user", "content": PROMPT}])
    done = tuple(
        replace(result, state=State.DONE, text=f"Reply {index}")
        for index, result in enumerate(run.results)
    )
    return replace(run, results=done)


def opened(make_app: AppFactory, run: Run) -> tuple[AppTest, Store, str]:
    """The compare page with ``run`` stored and opened."""
    at = make_app().run().switch_page(COMPARE_PAGE).run()
    store, owner = held(at, PageState).store, held(at, PageState).owner
    assert store is not None
    store.save_run(owner, run)
    at = at.run()
    (button,) = [b for b in at.button if b.key == f"compare_open_{run.id}"]
    at = button.click().run()
    assert not at.exception
    return at, store, owner


def press(at: AppTest, run: Run, verdict: Verdict) -> AppTest:
    (button,) = [b for b in at.button if b.key == f"compare_vote_{verdict.value}_{run.id}"]
    at = button.click().run()
    assert not at.exception
    return at


def stored_votes(store: Store, owner: str) -> list[Vote]:
    return [vote_from(found.document) for found in store.list_votes(owner)]


def test_a_vote_on_two_models_is_stored_changed_in_place_and_ranked(
    make_app: AppFactory,
) -> None:
    run = finished_run(("gpt-4o", "gpt-4o-mini"), (0.7,))
    at, store, owner = opened(make_app, run)
    assert at.selectbox(key=f"compare_vote_y_{run.id}").value == 1  # another setting first
    at = press(at, run, Verdict.A)
    (vote,) = stored_votes(store, owner)
    assert vote.a == Contestant("gpt-4o") and vote.b == Contestant("gpt-4o-mini")
    assert vote.verdict is Verdict.A and not vote.blind and vote.conversation == run.id
    assert vote.turns == (Turn(PROMPT, "Reply 0", "Reply 1"),)
    assert any("Recorded:" in c.value and "X better" in c.value for c in at.caption)
    at = press(at, run, Verdict.TIE)  # a change of mind replaces the vote
    (changed,) = stored_votes(store, owner)
    assert (changed.id, changed.verdict) == (vote.id, Verdict.TIE)
    board = at.switch_page("pages/leaderboard.py").run()
    assert not board.exception
    contestants = list(board.dataframe[0].value["contestant"])
    assert sorted(contestants) == ["gpt-4o", "gpt-4o-mini"]


def test_two_temperatures_of_one_model_are_two_contestants(make_app: AppFactory) -> None:
    run = finished_run(("gpt-4o-mini",), (0.0, 1.2))
    at, store, owner = opened(make_app, run)
    press(at, run, Verdict.B)
    (vote,) = stored_votes(store, owner)
    assert vote.a == Contestant("gpt-4o-mini", (("temperature", 0.0),))
    assert vote.b == Contestant("gpt-4o-mini", (("temperature", 1.2),))
    assert vote.verdict is Verdict.B


def test_two_samples_of_one_setting_are_not_offered_a_vote(make_app: AppFactory) -> None:
    run = finished_run(("gpt-4o-mini",), (0.7,), samples=2)
    at, store, owner = opened(make_app, run)
    assert any("Two samples of one setting" in c.value for c in at.caption)
    assert not [b for b in at.button if (b.key or "").startswith("compare_vote_")]
    assert store.list_votes(owner) == []


def test_a_vote_the_store_refuses_is_said_and_not_recorded(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = finished_run(("gpt-4o", "gpt-4o-mini"), (0.7,))
    at, store, owner = opened(make_app, run)

    def refuse(*_args: object) -> None:
        raise StorageError("The database is locked.", "Try again in a moment.")

    monkeypatch.setattr(store, "save_vote", refuse)
    at = press(at, run, Verdict.A)
    assert any("The vote was not saved" in toast.value for toast in at.toast)
    assert not any("Recorded:" in c.value for c in at.caption)
    assert store.list_votes(owner) == []
