"""The browser figures of ``make bench``: Chat Lab against a bare Streamlit page, in Chromium.

Both pages run as ``streamlit run`` processes against one fake model server and are
driven by Playwright in Debian's Chromium, alternating, in one run, so each figure is a
ratio that means the same on a fast or a slow (or busy) machine:

1. Enter -> first token on screen, minus the server's own ``FIRST_TOKEN_DELAY``, with
   an empty chat and at 100 and 1,000 turns, and the first reply a freshly
   started process sends. Times come from the page: a capture-phase ``keydown`` listener
   stamps Enter and a ``MutationObserver`` stamps the first DOM change that shows the
   reply's first word (``performance.now()`` both).
2. Enter -> last token on screen for 2,000- and 8,000-token Markdown replies (headings,
   code blocks, tables), and the websocket bytes the page receives per byte of reply.
3. Process start -> chat input usable, against a trivial Streamlit app.
4. A fresh browser -> the first page fully drawn (no skeleton) and usable, against
   ``benchmarks/bare_sidebar_app.py``: the bare page with a sidebar of the same widgets.

``benchmarks/bare_app.py`` is the bare page (cached client, ``st.write_stream``, the
whole history drawn on every rerun); ``benchmarks/trivial_app.py`` the trivial app.
``python -m benchmarks.browser [--reps N]`` runs this part of ``make bench`` alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from playwright.sync_api import Browser, Page, WebSocket, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chatlab.config import database_url  # noqa: E402
from chatlab.messages import ChatMessage, ReplyStats, Role, Usage  # noqa: E402
from chatlab.storage.store import Store  # noqa: E402
from components.chat.live import REDRAWN_KEY  # noqa: E402
from testing.app_process import AppProcess, start, stop  # noqa: E402
from testing.fake_openai import FakeOpenAI, Reply, split_words, unused_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_TOKEN_DELAY = 0.3  # the fake server's "thinking" before the first token; subtracted
SHORT_CHUNK_DELAY = 0.01  # seconds between the words of a short reply
REPS = 7
APP = "asgi.py"  # Chat Lab as `make run` and `make serve` start it
TYPING = 1.0  # seconds from a usable chat box to Enter, for a first reply as people send it
# Conversations of 100 and 1,000 turns (a question and its reply each), against Chat Lab's
# own empty chat: the goal for each depth.
DEPTHS = {100: 1.2, 1000: 1.5}
FEWER_AT = 1000  # the deepest conversation, slow to plant, gets fewer repetitions
FEWER_REPS = 5
LONG_TOKENS = (2000, 8000)
TIMEOUT_MS = 120_000
OWNER = "local"  # who owns every conversation when sign-in is off (components/account.py)

WATCH = """([first, last]) => {
  const t = {enter: null, first: null, last: null};
  window.__bench = t;
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && t.enter === null) t.enter = performance.now();
  }, true);
  const check = (node) => {
    const text = node.textContent || "";
    if (t.first === null && text.includes(first)) t.first = performance.now();
    if (t.last === null && text.includes(last)) t.last = performance.now();
  };
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "characterData") check(record.target);
      for (const node of record.addedNodes) check(node);
    }
    if (t.first !== null && t.last !== null) observer.disconnect();
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


READY = """() => {
  const box = document.querySelector('[data-testid="stChatInputTextArea"]');
  const app = document.querySelector('[data-testid="stApp"]');
  return box !== null && !box.disabled && app !== null
    && app.getAttribute("data-test-script-state") === "notRunning"
    && document.querySelector('[data-testid="stChatInputStopButton"]') === null;
}"""


def planted_text(index: int) -> str:
    """The same history text ``bare_app.planted`` draws."""
    return f"Message {index}. " + "Filler " * 30


# -- processes --------------------------------------------------------------------------


@contextmanager
def running(script: str, env: Mapping[str, str], scratch: Path) -> Iterator[AppProcess]:
    """``script`` as a worker runs; its health is polled every 20 ms, because that polling
    falls inside the start-up time measured."""
    name, port = Path(script).stem, unused_port()
    log = scratch / f"{name}-{port}.log"
    app = start(name, env, scratch, log, port=port, script=script, poll=0.02)
    try:
        yield app
    finally:
        stop(app.process)


# -- one page ---------------------------------------------------------------------------


@dataclass
class Tab:
    """One browser tab on one app, counting the websocket bytes it receives."""

    page: Page
    received: list[int] = field(default_factory=lambda: [0])

    def on_websocket(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.count(payload))

    def count(self, payload: str | bytes) -> None:
        self.received[0] += len(payload.encode() if isinstance(payload, str) else payload)

    def open(self, url: str) -> None:
        """Load ``url`` and return as soon as its chat box takes input and its run is over.

        Checked in the page on every animation frame: Playwright's ``expect`` polls at
        growing intervals (up to a second), which would round a slower page's time up.
        """
        self.page.goto(url)
        self.page.wait_for_function(READY, polling="raf", timeout=TIMEOUT_MS)

    def wait_idle(self) -> None:
        # Chat Lab draws the page whole after a reply (components/chat/live.py): there is
        # a moment with no run between the two, so the page's own sign is waited for first.
        redraw_due = self.page.locator(f".st-key-{REDRAWN_KEY}")
        expect(redraw_due).to_have_count(0, timeout=TIMEOUT_MS)
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=TIMEOUT_MS)
        stop = self.page.get_by_test_id("stChatInputStopButton")
        expect(stop).to_have_count(0, timeout=TIMEOUT_MS)


@contextmanager
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    opened = Tab(page)
    page.on("websocket", opened.on_websocket)
    try:
        yield opened
    finally:
        context.close()


@dataclass
class Sample:
    first_s: float  # Enter -> first token on screen, server delay subtracted
    last_s: float  # Enter -> last token on screen, server delay included
    bytes_received: int
    request_s: float  # Enter (as Playwright presses it) -> the request reaches the server


_nonces = iter(range(1, 1_000_000))


def send(tab_: Tab, fake: FakeOpenAI, text: str | None = None) -> Sample:
    """Send one message and time its reply: ``text``, else a short one."""
    nonce = next(_nonces)
    first, last = f"Alpha{nonce}x", f"Omega{nonce}x"
    body = f"{first} {text} {last}" if text else f"{first} says a short reply, {last}"
    fake.clear()
    fake.enqueue(
        Reply(
            text=body,
            first_token_delay=FIRST_TOKEN_DELAY,
            chunk_delay=0.0 if text else SHORT_CHUNK_DELAY,
        )
    )
    box = tab_.page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_enabled(timeout=TIMEOUT_MS)
    box.fill(f"Question {nonce}")
    tab_.page.evaluate(WATCH, [first, last])
    before = tab_.received[0]
    pressed = time.monotonic()
    box.press("Enter")
    tab_.page.wait_for_function("() => window.__bench.last !== null", timeout=TIMEOUT_MS)
    stamps = tab_.page.evaluate("() => window.__bench")
    tab_.wait_idle()
    return Sample(
        first_s=(stamps["first"] - stamps["enter"]) / 1000 - FIRST_TOKEN_DELAY,
        last_s=(stamps["last"] - stamps["enter"]) / 1000,
        bytes_received=tab_.received[0] - before,
        request_s=fake.chat_requests[0].at - pressed,
    )


# -- the figures ------------------------------------------------------------------------


@dataclass
class Figure:
    """One row of the table: samples of Chat Lab and of its baseline."""

    name: str
    ours: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    base_name: str = "bare page"
    goal: float = 1.0
    unit: str = "ms"
    note: str = ""
    # Enter -> request at the server, for the first-token figures: where the time goes.
    leaves: dict[str, list[float]] = field(default_factory=lambda: {"ours": [], "base": []})


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def plant(scratch: Path, size: int) -> str:
    """A stored conversation of ``size`` messages in the app's database; returns its id.

    Its replies carry telemetry, as replies the page streamed do: each is drawn with its
    telemetry line and its buttons (Regenerate, Request, More), as in a real conversation.
    """
    store = Store.open(database_url({"CHATLAB_DATA_DIR": str(scratch / "data")}))
    try:
        conversation = store.create_conversation(OWNER, f"Planted {size}")
        parent: str | None = None
        for index in range(size):
            role: Role = "user" if index % 2 == 0 else "assistant"
            stats = ReplyStats("gpt-4o-mini", Usage(40, 38), "stop", 0.3, 0.8)
            message = ChatMessage(
                role,
                planted_text(index),
                parent_id=parent,
                stats=stats if role == "assistant" else None,
            )
            store.save_message(OWNER, conversation, message)
            parent = message.id
        return conversation
    finally:
        store.close()


Run = Callable[[], None]


def alternate(reps: int, *runs: Run) -> None:
    """Run each of ``runs`` ``reps`` times, interleaved, the order flipping every round."""
    for rep in range(reps):
        for run in runs if rep % 2 == 0 else reversed(runs):
            run()


def first_token(tab_: Tab, fake: FakeOpenAI, url: str | None, figure: Figure, side: str) -> None:
    """Open ``url`` (None: stay on the page) and time one short reply's first token."""
    if url is not None:
        tab_.open(url)
    sample = send(tab_, fake)
    (figure.ours if side == "ours" else figure.base).append(sample.first_s)
    figure.leaves[side].append(sample.request_s)


def last_token(
    tab_: Tab, fake: FakeOpenAI, url: str, text: str, into: list[float], sent: list[float]
) -> None:
    """Open ``url`` (a fresh chat) and time ``text``'s last token and the bytes it cost."""
    tab_.open(url)
    sample = send(tab_, fake, text)
    into.append(sample.last_s)
    sent.append(sample.bytes_received / len(text.encode()))


def first_token_figures(
    browser: Browser,
    fake: FakeOpenAI,
    chatlab: AppProcess,
    bare: AppProcess,
    scratch: Path,
    reps: int,
) -> list[Figure]:
    empty = Figure("first token, empty chat")
    with tab(browser) as ours, tab(browser) as base:
        ours.open(chatlab.url)  # warm both processes: imports, caches, the model list
        send(ours, fake)
        base.open(bare.url)
        send(base, fake)
        alternate(
            reps,
            partial(first_token, ours, fake, chatlab.url, empty, "ours"),
            partial(first_token, base, fake, bare.url, empty, "base"),
        )
    figures = [empty]
    for turns, goal in DEPTHS.items():
        conversation = plant(scratch, 2 * turns)
        count = min(reps, FEWER_REPS) if turns >= FEWER_AT else reps
        figure = Figure(
            f"first token, {turns:,} turns ({2 * turns:,} messages)",
            base=empty.ours,
            base_name="Chat Lab, empty chat",
            goal=goal,
        )
        figure.leaves["base"] = empty.leaves["ours"]
        figure.note = f"{count} reps" if count != reps else ""
        with tab(browser) as ours:
            ours.open(f"{chatlab.url}?c={conversation}")
            alternate(count, partial(first_token, ours, fake, None, figure, "ours"))
        figures.append(figure)
    return figures


def markdown_reply(tokens: int) -> str:
    """About ``tokens`` words of Markdown: headings, prose, code blocks and tables."""
    sections: list[str] = []
    section = 0
    while len(split_words("\n\n".join(sections))) < tokens - 60:
        section += 1
        sections.append(
            f"## Part {section}\n\nThis part explains step {section} with a few plain words "
            f"and some **bold** and `inline code` to render.\n\n"
            f"```python\ndef step_{section}(values: list[int]) -> int:\n"
            f"    total = sum(value * {section} for value in values)\n    return total\n```\n\n"
            f"| name | value | note |\n| --- | --- | --- |\n| alpha | {section} | first row |\n"
            f"| beta | {section * 2} | second row |\n| gamma | {section * 3} | third row |"
        )
    return "\n\n".join(sections) + "\n\nIn short:"


def long_reply_figures(
    browser: Browser, fake: FakeOpenAI, chatlab: AppProcess, bare: AppProcess, reps: int
) -> list[Figure]:
    figures = []
    for tokens in LONG_TOKENS:
        text = markdown_reply(tokens)
        size = len(text.encode())
        words = len(split_words(text))
        times = Figure(f"last token, {words:,}-token Markdown reply", goal=0.6, unit="s")
        ratio = Figure(
            f"websocket bytes / reply ({size:,} B), {words:,} tokens",
            base_name="the reply",
            goal=4.0,
            unit="x",
        )
        bare_bytes: list[float] = []
        with tab(browser) as ours, tab(browser) as base:
            alternate(
                reps,
                partial(last_token, ours, fake, chatlab.url, text, times.ours, ratio.ours),
                partial(last_token, base, fake, bare.url, text, times.base, bare_bytes),
            )
        ratio.base = [1.0]
        ratio.note = f"bare page {median(bare_bytes):.1f}x"
        figures += [times, ratio]
    return figures


def first_paint_figures(
    browser: Browser, chatlab: AppProcess, bare: AppProcess, reps: int
) -> list[Figure]:
    """A fresh browser (a new context: no cache, no session) opening each running app,
    until its page is fully drawn (no skeleton left) and its chat box takes input."""
    paint = Figure(
        "fresh browser -> first page fully drawn and usable",
        base_name="bare page, same sidebar",
        goal=1.1,
        unit="s",
    )

    def opened(url: str, into: list[float]) -> Run:
        def run() -> None:
            with tab(browser) as tab_:
                began = time.monotonic()
                tab_.open(url)
                into.append(time.monotonic() - began)

        return run

    opened(chatlab.url, [])()  # warm both processes: imports, the model list
    opened(bare.url, [])()
    alternate(reps, opened(chatlab.url, paint.ours), opened(bare.url, paint.base))
    return [paint]


def startup_figures(browser: Browser, fake: FakeOpenAI, scratch: Path, reps: int) -> list[Figure]:
    """Start-up, and the first reply of a new process: sent the moment the chat box takes
    input (the worst case: Chat Lab loads the model SDK after its first page), and sent
    after ``TYPING`` s, as a person who reads the page and types would send it."""
    env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url}
    start = Figure(
        "process start -> chat input usable", base_name="trivial app", goal=1.05, unit="s"
    )
    cold = Figure("first token, first reply after start-up, sent at once")
    typed = Figure(f"first token, first reply after start-up, sent after {TYPING:.0f} s")
    bare_start: list[float] = []

    def started(script: str, into: list[float], side: str, reply: Figure | None) -> Run:
        def run() -> None:
            began = time.monotonic()
            with running(script, env, scratch) as app, tab(browser) as tab_:
                tab_.open(app.url)
                into.append(time.monotonic() - began)
                if reply is None:
                    return
                if reply is typed:
                    time.sleep(TYPING)  # a person reading the page and typing
                sample = send(tab_, fake)
                (reply.ours if side == "ours" else reply.base).append(sample.first_s)
                reply.leaves[side].append(sample.request_s)

        return run

    alternate(
        reps,
        started(APP, start.ours, "ours", cold),
        started("benchmarks/bare_app.py", bare_start, "base", cold),
        started("benchmarks/trivial_app.py", start.base, "base", None),
        started(APP, start.ours, "ours", typed),
        started("benchmarks/bare_app.py", bare_start, "base", typed),
    )
    start.note = f"bare page {median(bare_start):.2f} s"
    return [cold, typed, start]


# -- the table --------------------------------------------------------------------------


def shown(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1000:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.1f}x"


def spread(values: list[float], unit: str) -> str:
    return f"{shown(median(values), unit)} ({shown(p95(values), unit)})"


def table(figures: list[Figure]) -> tuple[str, bool]:
    lines = [
        "| figure | Chat Lab median (p95) | baseline median (p95) | ratio | goal | result |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    passed = True
    for figure in figures:
        ratio = median(figure.ours) / median(figure.base)
        ok = ratio <= figure.goal
        passed &= ok
        ours = spread(figure.ours, figure.unit)
        base = "-" if figure.unit == "x" else spread(figure.base, figure.unit)
        notes = [figure.note] if figure.note else []
        if figure.leaves["ours"] and figure.leaves["base"]:
            ours_leaves, base_leaves = (median(figure.leaves[s]) * 1000 for s in ("ours", "base"))
            notes.append(f"request sent after {ours_leaves:.0f} vs {base_leaves:.0f} ms")
        note = "; " + "; ".join(notes) if notes else ""
        lines.append(
            f"| {figure.name} | {ours} | {figure.base_name}: {base}{note} | x{ratio:.2f} | "
            f"<= x{figure.goal:g} | {'pass' if ok else 'FAIL'} |"
        )
    return "\n".join(lines), passed


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def main(reps: int = REPS, only: str = "") -> bool:
    if not Path(CHROMIUM).exists():
        print(f"browser skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")
        return True
    began = time.monotonic()
    print(f"browser load before: {load()}")
    with (
        tempfile.TemporaryDirectory(prefix="chatlab-bench-") as folder,
        FakeOpenAI() as fake,
        sync_playwright() as playwright,
    ):
        scratch = Path(folder)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url}
        plant(scratch, 0)  # the database exists before any timed start-up
        figures = startup_figures(browser, fake, scratch, reps) if only != "paint" else []
        if only == "startup":
            return report(figures, reps, began)
        with (
            running(APP, env, scratch) as chatlab,
            running("benchmarks/bare_app.py", env, scratch) as bare,
            running("benchmarks/bare_sidebar_app.py", env, scratch) as bare_sidebar,
        ):
            # First paint first: measured after the first-token rows, the bare page's
            # first open once waited past the timeout (not seen when measured first).
            paint = first_paint_figures(browser, chatlab, bare_sidebar, reps)
            if only == "paint":
                return report(paint, reps, began)
            figures = (
                first_token_figures(browser, fake, chatlab, bare, scratch, reps)
                + paint
                + figures
                + long_reply_figures(browser, fake, chatlab, bare, reps)
            )
        browser.close()
    return report(figures, reps, began)


def report(figures: list[Figure], reps: int, began: float) -> bool:
    rows, passed = table(figures)
    print(
        f"browser Chromium, {reps} alternating reps (fewer where noted); first token = Enter -> "
        f"first word in the DOM minus the server's {FIRST_TOKEN_DELAY * 1000:.0f} ms; last "
        "token includes it; long replies stream as fast as the fake server writes"
    )
    print(rows)
    print(f"browser load after: {load()}; took {time.monotonic() - began:.0f} s")
    return passed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument(
        "--only",
        choices=("startup", "paint"),
        default="",
        help="only the start-up rows (a new process), or only the first paint",
    )
    options = parser.parse_args()
    sys.exit(0 if main(options.reps, options.only) else 1)
