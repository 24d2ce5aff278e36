"""The leaderboard page: stored votes ranked, filtered, exported and withdrawn (issue 19)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.arena import Contestant, Turn, Verdict, Vote, leaderboard, vote_from, vote_json
from chatlab.storage import StorageError, Store
from components.account import LOCAL_OWNER
from components.arena import leaderboard as board
from components.arena.leaderboard import EVERY
from tests.app.conftest import AppFactory, charts

LEADERBOARD_PAGE = "pages/leaderboard.py"
BIG, SMALL, LOCAL = "gpt-4o", "gpt-4o-mini", "=llama-3"  # "=": a formula to a spreadsheet


def vote(
    number: int,
    a: Contestant,
    b: Contestant,
    verdict: Verdict,
    tags: tuple[str, ...] = (),
    conversation: str = "run-1",
) -> Vote:
    return Vote(
        id=f"vote-{number}",
        a=a,
        b=b,
        verdict=verdict,
        at=datetime.now(UTC) - timedelta(minutes=100 - number),
        turns=(Turn("Say *hi*", "hi from a", "hi from b"),),
        blind=number % 2 == 0,
        conversation=conversation,
        tags=tags,
    )


def seeded_votes() -> list[Vote]:
    """gpt-4o beats gpt-4o-mini 5 times (once at another temperature), one tie; =llama-3
    has two votes (not enough); the 'french' tag is on gpt-4o-mini's tie and llama's."""
    big, small = Contestant(BIG, (("temperature", 0.7),)), Contestant(SMALL)
    found = [vote(n, big, small, Verdict.A) for n in range(1, 5)]
    found.append(vote(5, Contestant(BIG, (("temperature", 0.0),)), small, Verdict.A))
    found.append(vote(6, big, small, Verdict.TIE, tags=("french",)))
    found.append(vote(7, Contestant(LOCAL), big, Verdict.B, tags=("french",), conversation="s-2"))
    found.append(vote(8, Contestant(LOCAL), small, Verdict.BOTH_BAD, conversation="s-2"))
    return found


def seed(votes: list[Vote]) -> Store:
    store = Store.open(config.database_url())
    for found in votes:
        store.save_vote(LOCAL_OWNER, found.id, found.at, vote_json(found))
    return store


def open_leaderboard(at: AppTest) -> AppTest:
    return at.switch_page(LEADERBOARD_PAGE).run()


def lines(at: AppTest) -> list[str]:
    """The Markdown drawn, as the reader sees it (untrusted text comes escaped)."""
    return [re.sub(r"\\(.)", r"\1", md.value) for md in at.markdown]


def table(at: AppTest) -> list[dict[str, Any]]:
    frame = at.dataframe[0].value
    return [dict(row) for row in frame.to_dict(orient="records")]


def test_the_standings_rank_two_models_and_wait_for_a_third(make_app: AppFactory) -> None:
    seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    assert not at.exception
    rows = table(at)
    assert [row["contestant"] for row in rows] == [BIG, SMALL, LOCAL]
    assert [row["rank"] for row in rows] == ["1", "2", "not enough votes (2 of 5)"]
    first = rows[0]
    assert (first["votes"], first["wins"], first["losses"], first["ties"]) == (7, 6, 0, 1)
    assert first["rating"] > rows[1]["rating"]
    low, high = (int(n) for n in re.findall(r"\d+", first["95% interval"]))
    assert low <= first["rating"] <= high
    assert rows[2]["both bad"] == 1
    (ratings, rated), (heatmap, cells) = charts(at)
    assert [row["contestant"] for row in rated] == [BIG, SMALL, LOCAL]
    assert rated[2]["standing"] == "fewer than 5 votes"
    bars, dots = ratings["layer"]
    assert (bars["mark"]["type"], dots["mark"]["type"]) == ("rule", "circle")
    assert dots["encoding"]["y"]["axis"]["labelLimit"] == 0  # names never cut
    assert len(cells) == 6  # every ordered pair of three
    said = {(cell["row"], cell["column"]): cell["text"] for cell in cells}
    assert said[(BIG, SMALL)] == "92% of 6"  # 5 wins and a tie
    assert said[(SMALL, LOCAL)] == "50% of 1"  # "both bad" counts as a tie
    assert heatmap["layer"][0]["mark"]["color"] == "#e0e0e0"  # grey where they never met
    # The same votes draw the same intervals on every run (a fixed seed).
    assert table(at.run())[0]["95% interval"] == first["95% interval"]


def test_model_and_settings_are_ranked_apart_on_request(make_app: AppFactory) -> None:
    seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    at.radio(key="leaderboard_rank").set_value("model + settings").run()
    labels = [row["contestant"] for row in table(at)]
    assert labels[0] == f"{BIG} · temperature=0.7"
    assert set(labels) == {f"{BIG} · temperature=0.7", f"{BIG} · temperature=0.0", SMALL, LOCAL}


def test_a_vote_between_two_settings_of_one_model_is_left_out_of_models_and_said(
    make_app: AppFactory,
) -> None:
    cold, warm = Contestant(BIG, (("temperature", 0),)), Contestant(BIG, (("temperature", 1),))
    seed([*seeded_votes(), vote(9, cold, warm, Verdict.A)])
    at = open_leaderboard(make_app().run())
    assert table(at)[0]["votes"] == 7
    assert any("1 vote compares a model with itself" in c.value for c in at.caption)


def test_the_tag_and_conversation_filters_choose_the_votes(make_app: AppFactory) -> None:
    seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    at.selectbox(key="leaderboard_tag").set_value("french").run()
    rows = table(at)
    assert {row["contestant"]: row["votes"] for row in rows} == {BIG: 2, SMALL: 1, LOCAL: 1}
    assert all(row["rank"].startswith("not enough votes") for row in rows)
    at.selectbox(key="leaderboard_tag").set_value(EVERY).run()
    at.selectbox(key="leaderboard_conversation").set_value("s-2").run()
    assert {row["contestant"] for row in table(at)} == {BIG, SMALL, LOCAL}
    assert sum(row["votes"] for row in table(at)) == 4  # two votes, two sides each
    at.date_input(key="leaderboard_dates").set_value((date(2020, 1, 1), date(2020, 1, 2))).run()
    assert "No votes from 2020-01-01 to 2020-01-02" in at.info[0].value


Exported = list[tuple[str, Any]]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Exported:
    """(label, data) of every download button drawn."""
    found: Exported = []
    real: Callable[..., Any] = DeltaGenerator.download_button

    def recording(self: DeltaGenerator, label: str, data: Any, *args: Any, **kw: Any) -> Any:
        found.append((label, data))
        return real(self, label, data, *args, **kw)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    return found


def test_the_filtered_votes_export_as_csv_and_json(
    make_app: AppFactory, downloads: Exported
) -> None:
    votes = seeded_votes()
    seed(votes)
    at = open_leaderboard(make_app().run())
    at.selectbox(key="leaderboard_tag").set_value("french").run()
    exported = dict(downloads[-2:])
    rows = list(csv.DictReader(io.StringIO(exported["Download CSV"])))
    assert [row["id"] for row in rows] == ["vote-6", "vote-7"]
    assert rows[1]["a"] == "'=llama-3"  # text in a spreadsheet, never a formula
    assert rows[1]["verdict"] == "B better" and rows[1]["prompt"] == "Say *hi*"
    document = json.loads(exported["Download JSON"])
    assert (document["format"], document["version"]) == ("chatlab.votes", 1)
    assert [vote_from(item) for item in document["votes"]] == [votes[5], votes[6]]


def test_a_vote_is_withdrawn_and_no_longer_counted(make_app: AppFactory) -> None:
    store = seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    assert table(at)[2]["votes"] == 2
    assert any(f"**A** {LOCAL} vs **B** {SMALL}" in line for line in lines(at))
    (withdraw,) = [b for b in at.button if b.key == "leaderboard_withdraw_vote-8"]
    at = withdraw.click().run()
    assert not at.exception
    assert "vote-8" not in {found.id for found in store.list_votes(LOCAL_OWNER)}
    assert table(at)[2]["votes"] == 1
    assert any("Vote withdrawn" in toast.value for toast in at.toast)


def test_without_votes_the_page_says_how_to_cast_them(make_app: AppFactory) -> None:
    at = open_leaderboard(make_app().run())
    assert not at.exception
    (info,) = at.info
    assert "No votes from" in info.value and "Side by side" in info.value
    assert "Compare" in info.value
    assert not at.dataframe and not charts(at)
    assert at.get("page_link")


def test_a_store_that_fails_is_said_without_a_traceback(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: object) -> None:
        raise StorageError("The database is locked.", "Try again in a moment.")

    monkeypatch.setattr(Store, "list_votes", failing)
    at = open_leaderboard(make_app().run())
    assert not at.exception
    assert "The database is locked" in at.error[0].value


def test_a_damaged_vote_is_counted_and_left_out(make_app: AppFactory) -> None:
    seed(seeded_votes())
    engine = sa.create_engine(config.database_url())  # a hand edit, behind the store's back
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE votes SET vote = '{\"format\": 5}' WHERE id = 'vote-8'"))
        conn.execute(sa.text("UPDATE votes SET vote = 'not json' WHERE id = 'vote-7'"))
    engine.dispose()
    at = open_leaderboard(make_app().run())
    assert not at.exception
    assert any("2 stored votes could not be read" in c.value for c in at.caption)
    assert [row["contestant"] for row in table(at)] == [BIG, SMALL]


def test_hostile_names_are_shown_literally(make_app: AppFactory) -> None:
    hostile = Contestant("**bold** <b>x</b> [link](http://evil)")
    seed([vote(1, hostile, Contestant(SMALL), Verdict.A, conversation="[c](http://evil)")])
    at = open_leaderboard(make_app().run())
    assert not at.exception
    (line,) = [md.value for md in at.markdown if "vs" in md.value]
    assert "\\*\\*bold\\*\\*" in line and "\\[link\\]" in line
    assert table(at)[0]["contestant"] == hostile.model  # a cell: text as is


def test_a_store_that_cannot_be_opened_is_said(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unopenable(cls: type[Store], url: str) -> Store:
        raise StorageError("The database file is locked by another program.", "Close it.")

    monkeypatch.setattr(Store, "open", classmethod(unopenable))
    at = open_leaderboard(make_app().run())
    assert not at.exception
    assert "Votes are kept in the database, which cannot be read now" in at.info[0].value
    assert not at.dataframe and not at.button


def test_a_tag_whose_votes_are_all_withdrawn_leaves_the_filter_at_all(
    make_app: AppFactory,
) -> None:
    seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    at.selectbox(key="leaderboard_tag").set_value("french").run()
    for vote_id in ("vote-6", "vote-7"):  # the two 'french' votes
        (withdraw,) = [b for b in at.button if b.key == f"leaderboard_withdraw_{vote_id}"]
        at = withdraw.click().run()
    assert not at.exception
    assert at.selectbox(key="leaderboard_tag").value == EVERY
    assert at.selectbox(key="leaderboard_tag").disabled  # no vote has a tag now
    assert [row["contestant"] for row in table(at)] == [BIG, SMALL, LOCAL]


def test_a_rerun_does_not_refit_the_same_votes(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[int] = []

    def counted(votes: Any, **options: Any) -> Any:
        fits.append(len(votes))
        return leaderboard(votes, **options)

    st.cache_data.clear()
    monkeypatch.setattr(board, "leaderboard", counted)
    seed(seeded_votes())
    at = open_leaderboard(make_app().run())
    at.run()
    assert not at.exception
    assert fits == [8]  # the bootstrap's 200 refits ran once, not once per rerun
