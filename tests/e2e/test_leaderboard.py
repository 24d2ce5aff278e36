"""The Leaderboard in Chromium (issue 19): votes seeded in the app's own database rank two
models, with the ratings chart and the win-rate heatmap drawn whole on a laptop and on a
phone.

The app has a database of its own (``fresh_app``), so the board holds exactly these
votes: gpt-4o beats gpt-4o-mini five times of six, the sixth a tie.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, ViewportSize, expect

from chatlab.arena import Contestant, Turn, Verdict, Vote, vote_json
from chatlab.storage import Store
from testing.app_process import AppProcess
from tests.e2e.conftest import ChatPage, OpenPage, copy_to_docs
from tests.e2e.views import LAPTOP, PHONE, boxes

pytestmark = pytest.mark.e2e

BIG, SMALL = "gpt-4o", "gpt-4o-mini"


def seed(data_dir: Path) -> None:
    """Six votes in the app's database (the fresh app's data folder), as the local owner."""
    verdicts = [Verdict.A] * 5 + [Verdict.TIE]
    now = datetime.now(UTC)
    with Store.open(f"sqlite:///{(data_dir / 'chatlab.db').resolve()}") as store:
        for number, verdict in enumerate(verdicts):
            vote = Vote(
                id=f"vote-{number}",
                a=Contestant(BIG),
                b=Contestant(SMALL),
                verdict=verdict,
                at=now - timedelta(minutes=10 - number),
                turns=(Turn("Name a colour.", "Teal.", "Red."),),
                conversation="seeded",
            )
            store.save_vote("local", vote.id, vote.at, vote_json(vote))


def assert_whole(chart: Locator, screen: ViewportSize) -> None:
    """The chart, scrolled to, is within the window's width, its drawing within it."""
    chart.scroll_into_view_if_needed()
    drawn = chart.locator("svg.marks, canvas").first
    expect(drawn).to_be_visible()
    frame, drawing = boxes(chart, drawn)
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= screen["width"], frame
    assert drawing["x"] >= frame["x"] - 1, (drawing, frame)
    assert drawing["x"] + drawing["width"] <= frame["x"] + frame["width"] + 1, (drawing, frame)


def test_the_leaderboard_ranks_two_models_with_its_charts(
    open_page: OpenPage, fresh_app: AppProcess, tmp_path: Path
) -> None:
    """At 1280x800, then on a phone (390x844): one app, its votes seeded once."""
    seed(tmp_path / "data")
    chat: ChatPage = open_page(fresh_app, viewport=LAPTOP, path="leaderboard")
    for screen in (LAPTOP, PHONE):
        if screen is not LAPTOP:  # loaded afresh at that size, as a phone opens it
            chat.page.set_viewport_size(screen)
            chat.open("leaderboard")
        expect(chat.page.get_by_role("heading", name="Leaderboard")).to_be_visible()
        chat.wait_idle()
        assert_ranked(chat, screen)


def assert_ranked(chat: ChatPage, screen: ViewportSize) -> None:
    """The standings, both charts whole on ``screen``, the recent votes; a screenshot."""
    table = chat.main.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    cells = table.locator("[role=gridcell]")  # the grid's cells, there for screen readers
    expect(cells.filter(has_text=re.compile(rf"^{re.escape(BIG)}$"))).to_have_count(1)
    expect(cells.filter(has_text=re.compile(rf"^{re.escape(SMALL)}$"))).to_have_count(1)
    rows = table.locator("[role=row]")  # the head, then gpt-4o first
    expect(rows.nth(1)).to_contain_text(BIG)
    expect(rows.nth(1)).not_to_contain_text(SMALL)
    expect(rows.nth(2)).to_contain_text(SMALL)

    charts = chat.main.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(2)  # the ratings, the heatmap
    for chart in charts.all():
        assert_whole(chart, screen)
    heatmap = charts.last
    for said in ("92%", "8%", "of 6"):  # gpt-4o's 5 wins and a tie of 6, and the reverse
        expect(heatmap).to_contain_text(said)
    votes = chat.main.get_by_text(f"{BIG} vs B {SMALL}")
    expect(votes).to_have_count(6)  # the recent votes, each withdrawable
    expect(chat.main.get_by_role("button", name="Withdraw")).to_have_count(6)
    chat.assert_no_exception()
    table.evaluate("element => element.scrollIntoView({block: 'start'})")
    shot = chat.screenshot(f"leaderboard-{screen['width']}x{screen['height']}")
    if screen is LAPTOP:
        copy_to_docs(shot, "leaderboard.png")
