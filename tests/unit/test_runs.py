"""Compare runs in the database: saved, listed, reopened, deleted, per owner."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace

import pytest
import sqlalchemy as sa

from chatlab.grid import Check, Grid, PromptVariant, Result, Run, State, new_run
from chatlab.messages import ChatSettings, ReplyStats, Usage
from chatlab.storage import Store
from chatlab.storage.runs import run_from, run_json

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
BASE = ChatSettings(model="gpt-4o-mini", system_prompt="Be brief.")
STATS = ReplyStats(
    model="gpt-4o-mini",
    usage=Usage(prompt_tokens=9, completion_tokens=4),
    finish_reason="stop",
    time_to_first_token=0.1,
    total_time=0.5,
    cost_usd=None,
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def finished_run(prompt: str = "Name a colour.") -> Run:
    grid = Grid(BASE, axes=(("temperature", (0.0, 1.4)),), samples=2)
    run = new_run(grid, prompt, [{"role": "user", "content": prompt}])
    results = list(run.results)
    results[0] = replace(results[0], state=State.DONE, text="Blue.", stats=STATS)
    results[1] = replace(results[1], state=State.FAILED, text="Re", error="The server failed.")
    results[2] = replace(results[2], state=State.STOPPED, request={"model": "gpt-4o-mini"})
    return replace(run, results=tuple(results), stopped=True)


def test_a_saved_run_reopens_whole(store: Store) -> None:
    run = finished_run()
    store.save_run(ALICE, run)
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None
    assert loaded.prompt == run.prompt
    assert loaded.grid == run.grid
    assert loaded.messages == run.messages
    assert loaded.stopped
    assert [(r.state, r.text, r.error) for r in loaded.results] == [
        (State.DONE, "Blue.", None),
        (State.FAILED, "Re", "The server failed."),
        (State.STOPPED, "", None),
        (State.STOPPED, "", None),  # stored while waiting: the run is over now
    ]
    assert loaded.results[0].stats == STATS
    assert loaded.results[2].request == {"model": "gpt-4o-mini"}
    assert [r.cell for r in loaded.results] == [r.cell for r in run.results]


def test_saving_again_updates_the_results(store: Store) -> None:
    run = finished_run()
    store.save_run(ALICE, run)
    later = replace(run, results=(replace(run.results[0], text="Green."), *run.results[1:]))
    store.save_run(ALICE, later)
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None and loaded.results[0].text == "Green."
    assert len(store.list_runs(ALICE)) == 1


def test_runs_are_listed_newest_first_with_their_prompt(store: Store) -> None:
    first, second = finished_run("First question"), finished_run("Second question")
    second = replace(second, created_at=first.created_at.replace(year=first.created_at.year + 1))
    store.save_run(ALICE, first)
    store.save_run(ALICE, second)
    listed = store.list_runs(ALICE)
    assert [(s.id, s.title, s.requests) for s in listed] == [
        (second.id, "Second question", 4),
        (first.id, "First question", 4),
    ]


def test_another_owner_cannot_see_touch_or_delete_a_run(store: Store) -> None:
    run = finished_run()
    store.save_run(ALICE, run)
    assert store.list_runs(BOB) == []
    assert store.load_run(BOB, run.id) is None
    assert store.delete_run(BOB, run.id) is False
    store.save_run(BOB, replace(run, prompt="hijacked"))  # same id: not Alice's row
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None and loaded.prompt == "Name a colour."


def test_a_deleted_run_is_gone(store: Store) -> None:
    run = finished_run()
    store.save_run(ALICE, run)
    assert store.delete_run(ALICE, run.id) is True
    assert store.load_run(ALICE, run.id) is None
    assert store.list_runs(ALICE) == []


def test_a_run_stopped_mid_cell_reopens_stopped_not_streaming(store: Store) -> None:
    run = finished_run()
    run = replace(run, results=(replace(run.results[0], state=State.STREAMING), *run.results[1:]))
    store.save_run(ALICE, run)
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None and loaded.results[0].state == State.STOPPED


def test_a_damaged_result_opens_failed_and_the_rest_opens(store: Store, database_url: str) -> None:
    run = finished_run()
    store.save_run(ALICE, run)
    data = run_json(run)
    data["results"][1]["settings"]["temperature"] = "very hot"
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE compare_runs SET run = :run"), {"run": _dumps(data)})
    engine.dispose()
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None
    assert loaded.results[0].text == "Blue."
    damaged = loaded.results[1]
    assert damaged.state == State.FAILED
    assert damaged.error is not None and "could not be read" in damaged.error


def test_json_round_trip_keeps_unicode_and_drops_lone_surrogates() -> None:
    run = finished_run("Café 🙂 \ud800")
    back = run_from(run_json(run))
    assert back.prompt == "Café 🙂 \ufffd"


def _dumps(data: object) -> str:
    return json.dumps(data)


def test_result_defaults_are_waiting() -> None:
    assert Result(finished_run().results[0].cell).state == State.WAITING


def test_the_list_says_which_runs_failed_or_were_stopped(store: Store) -> None:
    troubled = finished_run("troubled")
    clean = new_run(Grid(BASE, samples=1), "clean", [])
    clean = replace(clean, results=(replace(clean.results[0], state=State.DONE, stats=STATS),))
    store.save_run(ALICE, troubled)
    store.save_run(ALICE, clean)
    listed = {s.title: (s.failed, s.stopped) for s in store.list_runs(ALICE)}
    assert listed == {"troubled": (1, True), "clean": (0, False)}


def test_usage_counts_every_request_of_a_run_and_its_retried_attempts(store: Store) -> None:
    run = finished_run()
    retried = replace(STATS, usage=Usage(prompt_tokens=9, completion_tokens=30))
    results = list(run.results)
    results[0] = replace(results[0], attempts=2, retried=retried)
    store.save_run(ALICE, replace(run, results=tuple(results)))
    records = store.usage_records(ALICE).records
    assert [(r.stats.source, r.stats.usage.completion_tokens) for r in records] == [
        ("compare", 4),
        ("compare", 30),
    ]
    assert store.usage_records(BOB).records == []


def evaluation_run() -> Run:
    """Two prompt variants over two test rows, with assertions, checks, a judge and a rating."""
    grid = Grid(
        BASE,
        samples=1,
        variants=(PromptVariant("Say {{word}}."), PromptVariant("{{word}}!", "Shout.")),
        columns=("word",),
        rows=(("hi",), ("bye",)),
    )

    def compose(variant: PromptVariant, row: Mapping[str, str]) -> list[dict[str, str]]:
        return [{"role": "user", "content": variant.user.replace("{{word}}", row["word"])}]

    asserts = ({"type": "contains", "value": "{{word}}"}, {"type": "is-json", "value": {"a": [1]}})
    run = new_run(grid, "Say {{word}}.", [], compose=compose, asserts=asserts)
    results = list(run.results)
    results[0] = replace(
        results[0],
        state=State.DONE,
        text="hi",
        stats=STATS,
        checks=(Check('contains "hi"', True, "found"), Check("judge", None, "unreadable", 3)),
        judged=replace(STATS, source="judge"),
        rating=-1,
    )
    return replace(run, results=tuple(results))


def test_an_evaluation_reopens_with_its_variants_rows_checks_and_rating(store: Store) -> None:
    run = evaluation_run()
    assert [(r.cell.variant, r.cell.row) for r in run.results] == [
        ("A", 1),
        ("A", 2),
        ("B", 1),
        ("B", 2),
    ]
    assert run.results[3].cell.messages == ({"role": "user", "content": "bye!"},)
    assert run.results[3].cell.settings.system_prompt == "Shout."
    store.save_run(ALICE, run)
    loaded = store.load_run(ALICE, run.id)
    assert loaded is not None
    assert loaded.grid == run.grid
    assert loaded.asserts == run.asserts
    first = loaded.results[0]
    assert (first.cell.variant, first.cell.row, first.cell.setting) == (
        "A",
        1,
        "prompt A · row 1 · gpt-4o-mini",
    )
    assert first.checks == run.results[0].checks
    assert (first.rating, first.passed) == (-1, None)  # one check could not be told
    assert first.judged is not None and first.judged.usage == STATS.usage


def test_usage_counts_judge_requests_apart(store: Store) -> None:
    store.save_run(ALICE, evaluation_run())
    records = store.usage_records(ALICE).records
    assert [r.stats.source for r in records] == ["compare", "judge"]
