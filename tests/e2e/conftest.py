"""Browser fixtures: the real app under `streamlit run`, driven in Debian's Chromium.

The shape is Streamlit's own e2e suite: a fixture starts `streamlit run`, waits for
`/_stcore/health`, and Playwright drives the page. Starting an app costs seconds and a
browser more, so the fake model server, each app process and the browser live for the
whole session; a test gets a new tab, which is a new Streamlit session, in a browser
context kept for its app (``open_page``; its cookies and storage are cleared after each
test), or a context of its own where it stands for another person.

Every app process gets its environment from scratch: no developer's `.env`, secrets.toml
or OPENAI_* variable can reach it, and its output goes to `artifacts/e2e/` so tests can
check what it logged.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Request,
    ViewportSize,
    WebSocket,
    expect,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from components.chat.live import REDRAWN_KEY
from testing.app_process import AppDidNotStart, AppProcess, start, stop
from testing.fake_openai import DEFAULT_MODELS, Dialect, FakeOpenAI, Reply, StructuredOutput
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
# No GPU, no QUIC and none of the browser's own traffic (updates, sync, safe browsing):
# the only requests left are the ones the page makes.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
LOGS = ARTIFACTS / "e2e"
SCREENSHOTS = ARTIFACTS / "screenshots"
FAILURES = ARTIFACTS / "e2e" / "failures"

# Random per run, so a hit in the page or a log can only come from this run's key.
ENV_KEY = f"sk-e2e-env-{secrets.token_hex(12)}"
READ_TIMEOUT_S = 3  # how long the app waits between two streamed chunks ("hang" faults)
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# A bound on waiting for a state, never an expected time: what is waited for is a state of
# the page or the server, and a loaded machine (two cores running the app, the browser and
# pytest, or `stress-ng` beside them) takes longer, not differently. At 20 s, a page open
# under load average 9-11 failed (a fresh page took 24 s to draw); 60 s fails only a hang.
UI_TIMEOUT_MS = 60_000
UI_TIMEOUT_S = UI_TIMEOUT_MS / 1000

expect.set_options(timeout=UI_TIMEOUT_MS)


# -- the app under test ----------------------------------------------------------------------


def start_app(name: str, extra_env: dict[str, str], scratch: Path) -> AppProcess:
    """Start the app (short read timeouts for "hang" faults) and wait until it is healthy."""
    prune_logs()
    # The pid keeps two test runs on one machine from writing (and checking) one log.
    log_path = LOGS / f"app-{name}-{os.getpid()}.log"
    timeouts = {"CHATLAB_READ_TIMEOUT": str(READ_TIMEOUT_S), "CHATLAB_CONNECT_TIMEOUT": "2"}
    try:
        return start(name, {**timeouts, **extra_env}, scratch, log_path)
    except AppDidNotStart as exc:
        pytest.fail(str(exc))


def prune_logs() -> None:
    """Delete the app logs of test runs that have ended (their pytest pid is gone)."""
    for path in LOGS.glob("app-*-*.log"):
        pid = path.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and not is_running(int(pid)):
            path.unlink(missing_ok=True)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAI]:
    """The fake model server all app processes talk to, for the whole session."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake server, emptied for this test (overrides tests/conftest.py)."""
    reset_fake(fake_server)
    yield fake_server
    reset_fake(fake_server)


def reset_fake(server: FakeOpenAI) -> None:
    server.check()  # fails the test whose requests crashed the fake
    server.release()  # a "hang" left by a failed test must not hold a thread for 30 s
    server.clear()
    server.default_reply = Reply()
    server.models = list(DEFAULT_MODELS)
    server.models_reply = None
    server.reject_params = set()
    server.dialect = Dialect()
    server.sampler = None
    server.structured = StructuredOutput()


@pytest.fixture(scope="session")
def app_scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-app")


@pytest.fixture
def fresh_app(browser: Browser, fake_server: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    """A new app process with an empty database of its own, talking to the fake server: for
    a first page load, or totals that no other test's replies may add to."""
    env = {"OPENAI_API_KEY": ENV_KEY, "OPENAI_BASE_URL": fake_server.base_url}
    server = start_app("fresh", env, tmp_path)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def app(browser: Browser, fake_server: FakeOpenAI, app_scratch: Path) -> Iterator[AppProcess]:
    """The app with a server-side key, talking to the fake server."""
    env = {"OPENAI_API_KEY": ENV_KEY, "OPENAI_BASE_URL": fake_server.base_url}
    server = start_app("main", env, app_scratch)
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def keyless_app(browser: Browser, app_scratch: Path) -> Iterator[AppProcess]:
    """The app with neither a key nor a base URL: what a fresh clone shows."""
    server = start_app("keyless", {}, app_scratch)
    yield server
    stop(server.process)


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, once per session. `playwright install` is never used."""
    if not CHROMIUM.exists():
        message = f"Chromium is missing at {CHROMIUM}: run `apt-get install chromium`."
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} CI must run the browser tests (.ci/run installs it).")
        pytest.skip(message)
    with sync_playwright() as playwright:
        yield launch(playwright)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@dataclass
class Traffic:
    """What one browser context sent and received: request URLs and websocket frames."""

    urls: list[str] = field(default_factory=list)
    frames_received: list[bytes] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def on_websocket(self, socket: WebSocket) -> None:
        self.urls.append(socket.url)
        socket.on("framereceived", self.on_frame)

    def on_frame(self, payload: str | bytes) -> None:
        self.frames_received.append(payload.encode() if isinstance(payload, str) else payload)


class ChatPage:
    """The chat page as a user sees it; locators by test id, role and label."""

    def __init__(self, page: Page, app: AppProcess, traffic: Traffic) -> None:
        self.page = page
        self.app = app
        self.traffic = traffic

    # what is on screen

    @property
    def input(self) -> Locator:
        return self.page.get_by_test_id("stChatInputTextArea")

    @property
    def stop_button(self) -> Locator:
        return self.page.get_by_test_id("stChatInputStopButton")

    @property
    def messages(self) -> Locator:
        return self.page.get_by_test_id("stChatMessage")

    @property
    def redraw_due(self) -> Locator:
        """The chat's live end, while the page is to be drawn whole once its reply ends."""
        return self.page.locator(f".st-key-{REDRAWN_KEY}")

    @property
    def user_messages(self) -> Locator:
        return self.messages.filter(has=self.page.get_by_test_id("stChatMessageAvatarUser"))

    @property
    def user_texts(self) -> Locator:
        """What the user's messages say: their text, without the avatar's icon name, the
        buttons under them (edit, more) or the notes (captions) about them."""
        captions = self.page.get_by_test_id("stCaptionContainer")
        return self.user_messages.get_by_test_id("stMarkdown").filter(has_not=captions)

    @property
    def replies(self) -> Locator:
        return self.messages.filter(has=self.page.get_by_test_id("stChatMessageAvatarAssistant"))

    @property
    def error(self) -> Locator:
        """The error boxes the current run drew. A full run that draws a box one place
        higher (the live end's turn joined the history above it) leaves the old one on the
        page, stale, until it ends: under load, for seconds, two boxes for one error."""
        fresh = '[data-testid="stElementContainer"]:not([data-stale="true"])'
        return self.page.locator(f'{fresh} [data-testid="stAlertContentError"]')

    @property
    def main(self) -> Locator:
        """The page without its sidebar: the conversation, notes and errors."""
        return self.page.get_by_test_id("stMainBlockContainer")

    @property
    def sidebar(self) -> Locator:
        return self.page.get_by_test_id("stSidebar")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def textbox(self, label: str) -> Locator:
        return self.sidebar.get_by_role("textbox", name=label, exact=True)

    def slider(self, label: str) -> Locator:
        return self.sidebar.get_by_role("slider", name=label)

    def slider_value(self, label: str) -> Locator:
        widget = self.sidebar.get_by_test_id("stSlider").filter(has_text=label)
        return widget.get_by_test_id("stSliderThumbValue")

    def reply_text(self, index: int = -1) -> str:
        """The Markdown of one reply, without its captions (notes and telemetry)."""
        reply = self.replies.nth(index)
        blocks = reply.get_by_test_id("stMarkdown").filter(
            has_not=self.page.get_by_test_id("stCaptionContainer")
        )
        return " ".join(t.strip() for t in blocks.all_inner_texts() if t.strip())

    # what a user does

    def open(self, path: str = "") -> ChatPage:
        """Load the app at ``path`` (the chat when empty) in this tab. The chat is waited
        for; another page's own page object waits for what it shows."""
        self.page.goto(f"{self.app.url}{path}")
        if not path:
            expect(self.button("New chat")).to_be_visible()
            self.wait_idle()
        return self

    def send(self, text: str) -> None:
        expect(self.input).to_be_enabled()
        self.input.fill(text)
        self.input.press("Enter")  # once, as a person does: a lost Enter fails here
        expect(self.input).to_have_value("")  # sent: the box clears

    def wait_idle(self) -> None:
        """The script run is over, and no run is due after it (call after waiting for what
        the run should show).

        A reply streamed by the chat's live end is followed by a run that draws the page
        whole (components/chat/live.py). Between the two, no script runs for an instant: a
        click then lands on a page about to be drawn again. So this waits for the live
        end's sign that the redraw is due to go first (absent on other pages).
        """
        expect(self.redraw_due).to_have_count(0)
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-script-state", "notRunning")
        expect(self.stop_button).to_have_count(0)

    def chat(self, text: str, expected_reply: str) -> None:
        """Send a message and wait until the reply has finished streaming."""
        self.send(text)
        expect(self.user_texts.last).to_have_text(text)
        # The newest message is then a finished reply (its telemetry says how it finished).
        reply = (
            self.messages.last.filter(has=self.page.get_by_test_id("stChatMessageAvatarAssistant"))
            .filter(has_text=expected_reply)
            .filter(has_text="finish:")
        )
        expect(reply).to_be_visible()
        self.wait_idle()  # and the page drawn whole after it

    def choose(self, picker: Locator, option: str) -> None:
        """Pick `option` from a Streamlit selectbox."""
        self.open_and_click(picker, self.page.get_by_role("option", name=option, exact=True))

    def open_and_click(self, opener: Locator, item: Locator) -> None:
        """Open a list or menu (a selectbox, a popover) with ``opener`` and click ``item``.

        A click that lands while a rerun re-mounts the opener leaves it shut: the item
        showing is the condition waited for, and the opener is clicked again if it did not
        (a state, never a time, decides).
        """

        def click_opener() -> None:
            expect(opener).to_be_visible()
            opener.click()

        self.until_shown(click_opener, item, timeout_ms=5_000)
        item.click()

    def until_shown(self, act: Callable[[], None], shown: Locator, *, timeout_ms: int) -> None:
        """Do ``act`` until ``shown`` is visible: at most three times, ``timeout_ms`` each,
        then the usual bound. For an action a rerun starting in that moment can drop (a
        state, never a time, decides whether it is done again)."""
        for _ in range(3):
            act()
            try:
                shown.wait_for(state="visible", timeout=timeout_ms)
                return
            except PlaywrightTimeoutError:
                continue
        expect(shown).to_be_visible()

    def section(self, title: str) -> Locator:
        """A sidebar section (an expander), by its title."""
        title_ = self.page.get_by_text(title, exact=True)
        return self.sidebar.get_by_test_id("stExpander").filter(has=title_)

    def open_section(self, title: str) -> Locator:
        """Open a sidebar section unless it is open; the section. Advanced, Tools and This
        conversation draw their widgets with the rerun that opening makes: wait for one."""
        section = self.section(title)
        if section.locator("details").get_attribute("open") is None:
            section.locator("summary").click()
        return section

    def shut_section(self, title: str) -> Locator:
        """Shut an open sidebar section; the section, once shut (its ``details`` keep
        ``open`` until the folding is over: read before, it says open)."""
        section = self.section(title)
        section.locator("summary").click()
        expect(section.locator("details")).not_to_have_attribute("open", "")
        return section

    def open_connection(self) -> None:
        title = self.page.get_by_text("Connection", exact=True)
        expander = self.sidebar.get_by_test_id("stExpander").filter(has=title)
        summary = expander.locator("summary")
        if expander.locator("details").get_attribute("open") is None:
            summary.click()
        # Always there, unlike the Base URL field (absent where visitors may not choose).
        expect(self.sidebar.get_by_role("button", name="Check this server")).to_be_visible()

    def open_import(self) -> Locator:
        """Open "This conversation" and its Import popover; the file input in it."""
        expander = self.open_section("This conversation")
        opener = expander.get_by_role("button", name="Import…")
        body = self.page.get_by_test_id("stPopoverBody")
        dropzone = body.get_by_test_id("stFileUploaderDropzone")
        if not dropzone.is_visible():  # a click on an open popover would close it
            # Drawn only once the popover is open (a rerun): a state decides, never a time.
            self.until_shown(opener.click, dropzone, timeout_ms=5_000)
        return body.locator("input[type=file]")

    def type_key(self, key: str) -> None:
        """Type a key into the sidebar and submit it with Enter, as a user would."""
        self.open_connection()
        field_ = self.textbox("OpenAI API key")
        field_.fill(key)
        field_.press("Enter")
        expect(self.sidebar.get_by_text("API key set for this browser session.")).to_be_visible()
        self.wait_idle()

    def set_base_url(self, url: str) -> None:
        self.open_connection()
        field_ = self.textbox("Base URL")
        field_.fill(url)
        field_.press("Enter")
        expect(field_).to_have_value(url)
        self.wait_idle()

    def set_slider(self, label: str, *keys: str, shows: str) -> None:
        """Move a slider with the keyboard and wait until its thumb shows ``shows``."""
        thumb = self.slider(label)
        thumb.focus()
        for key in keys:
            thumb.press(key)
        expect(self.slider_value(label)).to_have_text(shows)
        self.wait_idle()

    # checks every test wants

    def assert_no_exception(self) -> None:
        """No Python exception box and no traceback text anywhere on the page."""
        expect(self.page.get_by_test_id("stException")).to_have_count(0)
        assert "Traceback" not in self.page.content()

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=path)
        return path


OpenPage = Callable[..., ChatPage]


@dataclass
class KeptContext:
    """A browser context kept for one app process, and its tabs not in use."""

    context: BrowserContext
    idle: list[Page] = field(default_factory=list)


@pytest.fixture(scope="session")
def app_contexts(browser: Browser) -> Iterator[dict[int, KeptContext]]:
    """One browser context per app process, kept for the session, with its tabs.

    A test's page is a tab left by an earlier test, or a new one, loading the app afresh: a
    new document and a new Streamlit session (a session is a document's websocket), with
    the app's scripts in the browser's cache. On the idle machine, to an idle page the
    browser spent 2.2 s of CPU in a new tab against 0.9 s in a kept one (its renderer
    process already running), and 1.2 s against 0.6 s of wall time; in the browser tests
    the browser takes three quarters of the CPU.
    """
    kept: dict[int, KeptContext] = {}
    yield kept
    for one in kept.values():
        with contextlib.suppress(Exception):
            one.context.close()


@pytest.fixture
def open_page(
    browser: Browser,
    app_contexts: dict[int, KeptContext],
    fake: FakeOpenAI,
    request: pytest.FixtureRequest,
) -> Iterator[OpenPage]:
    """Open the app (at ``path``: the chat when empty) in a tab of its own: a new document
    and a new Streamlit session.

    The tab is one an earlier test left (emptied: storage, cookies, ``about:blank``) or a
    new one. A test that changes the tab itself (a listener of its own, emulated media)
    undoes it before it ends; a failed test's tabs are closed, not kept.

    ``own_context=True`` opens it in a browser context of its own, with its own cookies:
    for two people at once, or a balancer's sticky cookie.
    """
    opened: list[tuple[Page, ChatPage, int]] = []
    owned: list[BrowserContext] = []
    listening: list[tuple[BrowserContext, Callable[[Request], None]]] = []
    lent: list[tuple[Page, Traffic, KeptContext]] = []

    def open_(
        app: AppProcess,
        *,
        viewport: ViewportSize | None = None,
        own_context: bool = False,
        path: str = "",
    ) -> ChatPage:
        kept: KeptContext | None = None
        if own_context:
            context = browser.new_context(viewport=VIEWPORT)
            owned.append(context)
            page = context.new_page()
        else:
            kept = app_contexts.get(app.process.pid)
            if kept is None:
                kept = app_contexts[app.process.pid] = KeptContext(
                    browser.new_context(viewport=VIEWPORT)
                )
            context = kept.context
            page = kept.idle.pop() if kept.idle else context.new_page()
        traffic = Traffic()
        # Every request the context makes during the test, a window a page opens too (the
        # tests run one at a time in a worker, and the last test's tabs are emptied); the
        # websocket frames are this tab's own.
        context.on("request", traffic.on_request)
        listening.append((context, traffic.on_request))
        page.set_default_timeout(UI_TIMEOUT_MS)
        if page.viewport_size != (viewport or VIEWPORT):
            page.set_viewport_size(viewport or VIEWPORT)
        page.on("websocket", traffic.on_websocket)
        if kept is not None:
            lent.append((page, traffic, kept))
        chat = ChatPage(page, app, traffic)
        opened.append((page, chat, len(app.log())))
        return chat.open(path)

    yield open_

    failed = any(
        getattr(request.node, f"rep_{phase}", None) is not None
        and getattr(request.node, f"rep_{phase}").failed
        for phase in ("setup", "call")
    )
    try:
        for index, (_, chat, log_start) in enumerate(opened):
            if failed:
                save_failure(chat, f"{request.node.name}-{index}")
            else:
                chat.assert_no_exception()
                assert_no_traceback_logged(chat.app, log_start)
    finally:
        for context, listener in listening:
            context.remove_listener("request", listener)
        for page, traffic, kept in lent:
            if failed:
                with contextlib.suppress(Exception):
                    page.close()
            elif give_back(page, traffic):
                kept.idle.append(page)
        for context, _ in listening:
            if all(context is not own for own in owned):
                context.clear_cookies()
        for context in owned:
            context.close()


def give_back(page: Page, traffic: Traffic) -> bool:
    """Empty a tab for the next test: what the page kept in the browser (Streamlit keeps the
    sidebar's state in localStorage: a phone test then found it open), its websocket (the
    session ends), its document. False, and the tab closed, if any step fails."""
    try:
        page.remove_listener("websocket", traffic.on_websocket)
        page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        page.goto("about:blank")
    except Exception:  # a crashed or closed tab: the next test gets a new one
        with contextlib.suppress(Exception):
            page.close()
        return False
    return True


@pytest.fixture
def chat(open_page: OpenPage, app: AppProcess) -> ChatPage:
    """The main app, open in a fresh session."""
    return open_page(app)


# A traceback, or a warning Streamlit logs with its stack: each says the app's code used it
# wrongly (a widget given a value both ways, a label left empty, ...).
LOGGED_DEFECTS = ("Traceback", "Stack (most recent call last)")


def assert_no_traceback_logged(app: AppProcess, start: int) -> None:
    logged = app.log()[start:]
    found = [marker for marker in LOGGED_DEFECTS if marker in logged]
    assert not found, f"the app logged {found}:\n{logged}"


def save_failure(chat: ChatPage, name: str) -> None:
    safe = re.sub(r"[^\w.-]+", "_", name)
    FAILURES.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        chat.page.screenshot(path=FAILURES / f"{safe}.png", full_page=True)
        (FAILURES / f"{safe}.html").write_text(chat.page.content())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def copy_to_docs(screenshot: Path, name: str = "screenshot.png") -> None:
    """Make ``screenshot`` the README's (committed) docs/``name``.

    Only when it is missing or UPDATE_DOCS_SCREENSHOT=1 (``make screenshots``): the timings
    in every screenshot differ, and a test run must not leave the work tree dirty. The
    screenshot itself is taken on every run, so the steps that make it are tested in CI.
    """
    target = ROOT / "docs" / name
    if target.exists() and os.environ.get("UPDATE_DOCS_SCREENSHOT") != "1":
        return
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, target)
