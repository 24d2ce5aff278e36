"""Load: many browser sessions chatting with one app process at once.

A session here is what a browser tab is to Streamlit: one websocket to
``/_stcore/stream`` speaking the frontend's protocol. It sends a ``rerun_script``
``BackMsg`` (the first with no widget values, as a page load does; later ones with the
chat input's value, as pressing Enter does) and reads ``ForwardMsg``s: ``new_session``
opens a script run, each ``delta`` puts an element or block at a path in the page tree,
``script_finished`` ends the run. A session costs a coroutine instead of a browser, so
fifty fit on a laptop, and it sees each token when a browser would.

Time to first token is measured as the user feels it: from sending the message to the
first delta that puts reply text in the new assistant bubble. Sessions load the page
first and then all send together, the worst case for the app.

``python -m testing.load`` runs this part of ``make bench`` alone;
``tests/e2e/test_load.py`` runs the same sessions as a correctness test.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Markdown_pb2 import Markdown
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from testing.aio import run_async  # noqa: E402
from testing.app_process import AppProcess, start, stop  # noqa: E402
from testing.fake_openai import FakeOpenAI, Reply  # noqa: E402

LEVELS = (1, 10, 20, 50)  # sessions chatting at once
MIN_SAMPLES = 20  # replies per level at least, so a p95 is not one unlucky reply
CHUNK_DELAY = 0.02  # seconds between the fake's words: replies stream, ~0.3 s each
RUN_TIMEOUT = 60.0  # one script run as seen by one session; a hung app fails, not hangs
BUDGET = 150.0  # seconds for the whole load benchmark, so `make bench` stays under 3 min
CURSOR = "▌"  # what components/chat/reply.py appends while a reply streams
CHAT_INPUT = "chat_input"
TreePath = tuple[int, ...]


# -- the app under load ---------------------------------------------------------------------


@contextlib.contextmanager
def running_app(base_url: str, api_key: str, scratch: Path) -> Iterator[AppProcess]:
    """Start the app against ``base_url``, and stop it on the way out."""
    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": api_key}
    app = start("load", env, scratch, scratch / "app.log")
    try:
        yield app
    finally:
        stop(app.process)


# -- the page, as the browser holds it ------------------------------------------------------


@dataclass
class Drawn:
    """An element or block on the page, the fragment that drew it and the run it was in."""

    node: Element | Block
    fragment: str  # the fragment that drew it; "" for the script itself
    run: int


@dataclass
class Page:
    """The page tree as the browser holds it across runs: elements and blocks by path.

    A full run redraws the page: what it does not draw again is removed when it ends. A
    fragment's run redraws that fragment's part only (the chat box's fragment, when a
    message is sent): what that fragment drew before and did not draw again is removed,
    and the rest of the page stays as it was. A run that ends early for a rerun removes
    nothing; the rerun does.

    The reply timed is the first assistant bubble drawn at a place that held none when
    the message was sent (``watch``), in the first run that shows a word of it.
    """

    nodes: dict[TreePath, Drawn] = field(default_factory=dict)
    run: int = 0
    fragments: tuple[str, ...] = ()  # the fragments the current run reruns; () for a full run
    status: str | None = None  # the current run's script_finished status, once it is over
    chat_fragment: str = ""  # the fragment that draws the chat box; a message sent reruns it
    before: set[TreePath] | None = None  # the assistant bubbles on the page at the send
    watched: TreePath | None = None  # the reply's bubble, once drawn
    first_text_at: float | None = None

    def start(self, fragments: Sequence[str]) -> None:
        """A run starts (``new_session``)."""
        self.run += 1
        self.fragments = tuple(fragments)
        self.status = None
        if self.first_text_at is None:
            # Its reply may not have shown a word yet: a run that ends early for a rerun
            # drops what it had not sent, and the rerun draws the reply in a new place.
            self.watched = None

    def finish(self, status: str) -> None:
        """A run ends (``script_finished``): what it should have drawn and did not goes."""
        self.status = status
        if status == "FINISHED_EARLY_FOR_RERUN":
            return
        stale = [
            path
            for path, drawn in self.nodes.items()
            if drawn.run != self.run and (not self.fragments or drawn.fragment in self.fragments)
        ]
        for path in stale:
            self._forget(path)

    def watch(self) -> None:
        """A message is being sent: time the first text of the reply that answers it."""
        self.before = {path for path, role in self._bubbles() if role == "assistant"}
        self.watched = None
        self.first_text_at = None

    def apply(self, delta_path: Sequence[int], msg: ForwardMsg) -> None:
        path = tuple(delta_path)
        kind = msg.delta.WhichOneof("type")
        if kind not in ("new_element", "add_block"):
            return  # transients (the spinner) draw nothing we read
        self._forget(path)  # a redraw at a path replaces what was there, children too
        node: Element | Block
        if kind == "add_block":
            node = msg.delta.add_block
            is_reply = node.HasField("chat_message") and node.chat_message.name == "assistant"
            new = self.before is not None and path not in self.before
            if is_reply and new and self.watched is None:
                self.watched = path
        else:
            node = msg.delta.new_element
            if node.WhichOneof("type") == CHAT_INPUT:
                self.chat_fragment = msg.delta.fragment_id
        self.nodes[path] = Drawn(node, msg.delta.fragment_id, self.run)
        if self.first_text_at is None and self._is_watched_text(path):
            self.first_text_at = time.perf_counter()

    def _forget(self, path: TreePath) -> None:
        for old in [p for p in self.nodes if p[: len(path)] == path]:
            del self.nodes[old]

    def _is_watched_text(self, path: TreePath) -> bool:
        bubble = self.watched
        if bubble is None or path[: len(bubble)] != bubble:
            return False
        node = self.nodes[path].node
        body = prose(node) if isinstance(node, Element) else None
        return bool(body and body.rstrip(f" {CURSOR}"))

    def _bubbles(self) -> list[tuple[TreePath, str]]:
        return [
            (path, drawn.node.chat_message.name)
            for path, drawn in sorted(self.nodes.items())
            if isinstance(drawn.node, Block) and drawn.node.HasField("chat_message")
        ]

    def elements(self) -> list[tuple[TreePath, Element]]:
        """The elements on the page, in page order."""
        return [
            (path, drawn.node)
            for path, drawn in sorted(self.nodes.items())
            if isinstance(drawn.node, Element)
        ]

    def bubbles(self) -> list[tuple[str, str]]:
        """(role, Markdown) of each chat bubble on the page, captions left out."""
        elements = self.elements()
        found = []
        for path, role in self._bubbles():
            texts = [
                text
                for inner, element in elements
                if inner[: len(path)] == path and (text := prose(element)) is not None
            ]
            found.append((role, "\n\n".join(texts)))
        return found

    def widget_id(self, element_type: str) -> str | None:
        for _, element in self.elements():
            if element.WhichOneof("type") == element_type:
                return str(getattr(element, element_type).id)
        return None

    def errors(self) -> list[str]:
        """Error boxes and exceptions on the page, and a run that did not end well."""
        found = []
        for _, element in self.elements():
            kind = element.WhichOneof("type")
            if kind == "exception":
                found.append(f"exception: {element.exception.message}")
            elif kind == "alert" and element.alert.format == element.alert.ERROR:
                found.append(f"error box: {element.alert.body}")
        if self.status not in ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"):
            found.append(f"script run ended with {self.status}")
        return found


def prose(element: Element) -> str | None:
    """The body of a Markdown element that is not a caption, else None."""
    if element.WhichOneof("type") != "markdown":
        return None
    if element.markdown.element_type not in (Markdown.Type.NATIVE, Markdown.Type.UNSPECIFIED):
        return None
    return str(element.markdown.body)


# -- one browser session ---------------------------------------------------------------------


@dataclass
class Turn:
    """One message sent and what the page showed when its run finished."""

    sent: str
    bubbles: list[tuple[str, str]]
    errors: list[str]
    time_to_first_token: float | None


class Session:
    """One browser tab's websocket, speaking Streamlit's protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.query_string = ""  # the app may set ?c=...; the browser sends it back
        self.page = Page()
        self.turns: list[Turn] = []
        self.session_id = ""  # the server's id for this session, from its first run

    @classmethod
    async def open(cls, url: str) -> Session:
        """Connect and load the page, as opening the app in a tab does."""
        ws = await connect(url, subprotocols=[Subprotocol("streamlit")], max_size=None)
        session = cls(ws)
        try:
            await session._run(BackMsg())
        except BaseException:
            await ws.close()
            raise
        return session

    async def close(self) -> None:
        await self._ws.close()

    async def chat(self, text: str) -> Turn:
        """Type ``text`` into the chat box and press Enter; wait for its runs to finish.

        As the browser does, the message reruns the fragment that draws the box, if any.
        """
        chat_input = self.page.widget_id(CHAT_INPUT)
        if chat_input is None:
            raise RuntimeError(f"no chat input on the page; it shows {self.page.errors()}")
        back = BackMsg()
        widget = back.rerun_script.widget_states.widgets.add()
        widget.id = chat_input
        widget.chat_input_value.data = text
        back.rerun_script.fragment_id = self.page.chat_fragment
        self.page.watch()
        sent = time.perf_counter()
        await self._run(back)
        first = self.page.first_text_at
        turn = Turn(
            sent=text,
            bubbles=self.page.bubbles(),
            errors=self.page.errors(),
            time_to_first_token=None if first is None else first - sent,
        )
        self.turns.append(turn)
        return turn

    async def _run(self, back: BackMsg) -> None:
        back.rerun_script.query_string = self.query_string  # no page hash: the default page
        await self._ws.send(back.SerializeToString())
        page = self.page
        page.status = None
        async with asyncio.timeout(RUN_TIMEOUT):
            # A run that ends early for a rerun is followed by that rerun, as the browser
            # sees it (the chat page draws itself whole again when its live part has
            # grown, components/chat/live.py).
            while page.status in (None, "FINISHED_EARLY_FOR_RERUN"):
                msg = ForwardMsg()
                msg.ParseFromString(await self._ws.recv())
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    page.start(msg.metadata.run.fragment_ids)
                    self.session_id = msg.new_session.initialize.session_id or self.session_id
                elif kind == "delta":
                    page.apply(msg.metadata.delta_path, msg)
                elif kind == "page_info_changed":
                    self.query_string = msg.page_info_changed.query_string
                elif kind == "script_finished":
                    page.finish(ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished))


# -- many sessions at once -------------------------------------------------------------------


async def chat_at_once(
    url: str,
    conversations: Sequence[Sequence[str]],
    phase: Callable[[str], None] | None = None,
) -> list[Session]:
    """One session per conversation: all load the page, then all chat at the same time.

    ``phase`` is told ``"chatting"`` once every page is open and ``"done"`` once every
    conversation has ended: what the app spends on replies alone is read between them.
    """
    opened = await asyncio.gather(
        *(Session.open(url) for _ in conversations), return_exceptions=True
    )
    sessions = [s for s in opened if isinstance(s, Session)]
    try:
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        if phase is not None:
            phase("chatting")
        await asyncio.gather(
            *(converse(s, c) for s, c in zip(sessions, conversations, strict=True))
        )
        if phase is not None:
            phase("done")
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return sessions


def run_sessions(
    url: str,
    conversations: Sequence[Sequence[str]],
    timeout: float,
    phase: Callable[[str], None] | None = None,
) -> list[Session]:
    """``chat_at_once`` on an event loop in a thread of its own (``testing.aio``), within
    ``timeout`` seconds."""
    return run_async(chat_at_once(url, conversations, phase), timeout)


def drive(
    url: str, conversations: Sequence[Sequence[str]], timeout: float
) -> tuple[list[float], list[str], float]:
    """One load-driver process's share (``benchmarks/balancer.py --drivers``): its
    sessions' times to first token, what went wrong, and the CPU seconds it took."""
    began = time.process_time()
    done = run_sessions(url, conversations, timeout)
    samples = [t.time_to_first_token or 0.0 for s in done for t in s.turns]
    return samples, problems(done, conversations), time.process_time() - began


async def converse(session: Session, messages: Sequence[str]) -> None:
    for text in messages:
        await session.chat(text)


def conversation(index: int, turns: int) -> list[str]:
    """Messages no other session sends, long enough to stream in about fifteen pieces."""
    tag = secrets.token_hex(4)
    return [
        f"Session {index} turn {turn} ({tag}): please say this line back to me word by word."
        for turn in range(1, turns + 1)
    ]


def problems(sessions: Sequence[Session], conversations: Sequence[Sequence[str]]) -> list[str]:
    """What went wrong: errors, a reply that is not this session's echo, a missing turn."""
    found = []
    for index, (session, messages) in enumerate(zip(sessions, conversations, strict=True)):
        if len(session.turns) != len(messages):
            found.append(f"session {index}: {len(session.turns)} of {len(messages)} turns ran")
        expected: list[tuple[str, str]] = []
        for turn in session.turns:
            expected += [("user", turn.sent), ("assistant", f"Echo: {turn.sent}")]
            found += [f"session {index}: {error}" for error in turn.errors]
            if turn.bubbles != expected:
                found.append(f"session {index}: page shows {turn.bubbles}, expected {expected}")
            if turn.time_to_first_token is None:
                found.append(f"session {index}: no reply text arrived for {turn.sent!r}")
    return found


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# -- make bench -------------------------------------------------------------------------------


def measure(
    app: AppProcess,
    sessions: int,
    deadline: float,
    rounds: int | None = None,
    *,
    turns: int = 1,
    phase: Callable[[str], None] | None = None,
) -> list[float]:
    """Times to first token of enough rounds of ``sessions`` sessions chatting at once,
    ``turns`` messages each (``phase`` as in ``chat_at_once``)."""
    samples: list[float] = []
    for _ in range(rounds or math.ceil(MIN_SAMPLES / sessions)):
        conversations = [conversation(i, turns=turns) for i in range(sessions)]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"load: over its {BUDGET:.0f} s budget, no timing reported")
        done = run_sessions(app.stream_url, conversations, remaining, phase)
        wrong = problems(done, conversations)
        if wrong:
            raise SystemExit("load: wrong replies, no timing reported:\n" + "\n".join(wrong))
        samples += [t.time_to_first_token or 0.0 for s in done for t in s.turns]
    return samples


def report(results: Mapping[int, list[float]]) -> None:
    base = percentile(results[LEVELS[0]], 50)
    print(
        "load    time to first token seen by the client, N sessions sending at once to "
        f"one app (fake model, {CHUNK_DELAY * 1000:.0f} ms/word):"
    )
    print("          sessions   replies   p50 ms   p95 ms   p50 vs 1 session")
    for level, samples in results.items():
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        print(
            f"          {level:8d}   {len(samples):7d}   {p50 * 1000:6.0f}   {p95 * 1000:6.0f}"
            f"   {p50 / base:16.2f}"
        )


def main() -> None:
    with (
        FakeOpenAI(default_reply=Reply(chunk_delay=CHUNK_DELAY)) as fake,
        tempfile.TemporaryDirectory(prefix="chatlab-load-") as scratch,
        running_app(fake.base_url, "sk-load-test", Path(scratch)) as app,
    ):
        deadline = time.monotonic() + BUDGET
        try:
            measure(app, 1, deadline, rounds=1)  # warm up: first imports, first connections
            results = {level: measure(app, level, deadline) for level in LEVELS}
        except BaseException:
            print(app.log()[-4000:], file=sys.stderr)
            raise
        if "Traceback" in app.log():
            raise SystemExit(f"load: the app logged a traceback:\n{app.log()}")
    report(results)


if __name__ == "__main__":
    main()
