"""A side-by-side turn as it streams: each column's answer read on its own thread.

Every column's request goes out at once, each through a ``BackgroundReply`` read by a
thread of its own, so the columns stream concurrently and a slow or failing server holds
up only its own column. The page never touches a worker: it polls ``answer()`` (a frozen
``Answer``) and redraws a column whose ``version`` moved. ``stop()`` closes one column's
connection (even one still waiting for headers) and keeps what arrived; stopping every
column is stopping each. A reply that ends is settled once, on its thread: its text, how
it ended (the finish reason, an error's words, or stopped), and its telemetry counted as
the side-by-side page's (Usage: "Side by side").
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chatlab.arena.side_by_side import (
    Answer,
    Column,
    SideBySide,
    request_messages,
    with_answer,
    with_prompt,
    with_vote,
)
from chatlab.arena.votes import Verdict
from chatlab.deadline import Watch
from chatlab.errors import ChatError
from chatlab.messages import Status, finish_status
from chatlab.provider import Admit, BackgroundReply, ReplyStream, Start

__all__ = ["SOURCE", "ColumnReply", "LiveSession", "OnChange", "StartColumn"]

SOURCE = "arena"


class ColumnReply:
    """Column ``column``'s answer to prompt ``turn``, streamed on a thread of its own."""

    def __init__(
        self,
        column: int,
        turn: int,
        start: Start,
        *,
        admit: Admit | None = None,
        on_settled: Callable[[ColumnReply], None] | None = None,
    ) -> None:
        self.column = column
        self._on_settled = on_settled
        self.turn = turn
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._settled: Answer | None = None
        self._stopped = threading.Event()
        self._done = threading.Event()
        self.version = 0
        self._worker = BackgroundReply(start, admit=admit)
        self._thread = threading.Thread(target=self._read, name="chatlab-column", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def answer(self) -> Answer:
        """What has arrived (streaming), or the settled answer once it ended."""
        with self._lock:
            if self._settled is not None:
                return self._settled
            return Answer("".join(self._parts), Status.STREAMING)

    def stop(self) -> None:
        """Close this column's connection; what arrived is kept. Safe from any thread."""
        self._stopped.set()
        self._worker.close()

    def wait(self, timeout: float) -> bool:
        """Wait until the answer is settled (or ``timeout`` s); True if it is."""
        return self._done.wait(timeout)

    def _read(self) -> None:
        error: ChatError | None = None
        try:
            for delta in self._worker.deltas():
                if delta:
                    with self._lock:
                        self._parts.append(delta)
                        self.version += 1
        except ChatError as err:
            error = err
        finally:
            self._worker.close()
            self._settle(error)

    def _settle(self, error: ChatError | None) -> None:
        outcome = self._worker.outcome().counted_as(SOURCE)
        if error is not None:
            status = Status.FAILED
        elif self._stopped.is_set() and outcome.finish_reason is None:
            status = Status.STOPPED
        else:
            status = finish_status(outcome.finish_reason)
        with self._lock:
            self._settled = Answer(
                "".join(self._parts),
                status,
                outcome.stats,
                str(error) if error is not None else "",
            )
            self.version += 1
        if self._on_settled is not None:
            self._on_settled(self)  # before ``done``: a waiter then finds it in the session
        self._done.set()


# Sends one column's request to its server (closing the watch cuts it): the caller picks
# the client for ``Column.base_url`` and calls ``chatlab.provider.start_reply``.
StartColumn = Callable[[Column, list[dict[str, str]], Watch], ReplyStream]
# Called with the session after each change (a prompt sent, an answer settled, a vote), on
# the thread that made it, one call at a time and in order: the caller stores it.
OnChange = Callable[[SideBySide], None]


class LiveSession:
    """A side-by-side session and the answers streaming into it; safe from any thread.

    The page calls ``send``, ``redo``, ``stop`` and ``vote`` and reads ``session`` (the
    stored answers with the streaming ones laid over them) and ``version`` (which moves
    whenever anything shown changes). Answers are settled into the session on their own
    threads, so a tab closed mid-turn still gets its answers stored.
    """

    def __init__(
        self,
        session: SideBySide,
        start: StartColumn,
        *,
        admit: Admit | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self._session = session
        self._start = start
        self._admit = admit
        self._on_change = on_change
        self._lock = threading.Lock()
        self._notify_lock = threading.Lock()
        self._replies: dict[int, ColumnReply] = {}
        self._changes = 0

    @property
    def id(self) -> str:
        return self._session.id

    @property
    def session(self) -> SideBySide:
        """The session as it stands, streaming answers included."""
        with self._lock:
            current, replies = self._session, list(self._replies.values())
        for reply in replies:
            if not reply.done:
                current = with_answer(current, reply.column, reply.turn, reply.answer())
        return current

    @property
    def version(self) -> tuple[int, ...]:
        """Moves whenever anything shown changes (a delta, a settled answer, a vote)."""
        with self._lock:
            return (self._changes, *(r.version for r in self._replies.values()))

    def streaming(self, column: int | None = None) -> bool:
        """Whether column ``column`` (None: any) is still answering."""
        with self._lock:
            replies = [r for c, r in self._replies.items() if column is None or c == column]
        return any(not r.done for r in replies)

    def send(self, prompt: str) -> None:
        """Send ``prompt`` to every column, each with its own history."""
        with self._lock:
            if any(not r.done for r in self._replies.values()):
                raise RuntimeError("a turn is still streaming")
            self._session = with_prompt(self._session, prompt)
            turn = len(self._session.prompts) - 1
            changed = self._touch()
        self._notify(changed)
        for column in range(len(changed.columns)):
            self._ask(column, turn)

    def redo(self, column: int) -> None:
        """Ask column ``column`` the last prompt again (Retry after a failure, Regenerate)."""
        with self._lock:
            if not self._session.prompts or self._streaming(column):
                return
            turn = len(self._session.prompts) - 1
            self._session = with_answer(self._session, column, turn, Answer())
            changed = self._touch()
        self._notify(changed)
        self._ask(column, turn)

    def stop(self, column: int | None = None) -> None:
        """Stop column ``column``'s answer (None: every column's); what arrived is kept."""
        with self._lock:
            replies = [r for c, r in self._replies.items() if column is None or c == column]
        for reply in replies:
            reply.stop()

    def vote(self, verdict: Verdict | None, vote_id: str = "") -> SideBySide:
        """Record the verdict (None: withdrawn) on the session; returns the session."""
        with self._lock:
            self._session = with_vote(self._session, verdict, vote_id)
            changed = self._touch()
        self._notify(changed)
        return changed

    def wait(self, timeout: float) -> bool:
        """Wait until no column is answering (or ``timeout`` s); True if none is."""
        with self._lock:
            replies = list(self._replies.values())
        return all(reply.wait(timeout) for reply in replies)

    def _streaming(self, column: int) -> bool:
        reply = self._replies.get(column)
        return reply is not None and not reply.done

    def _touch(self) -> SideBySide:
        self._changes += 1
        return self._session

    def _ask(self, column: int, turn: int) -> None:
        asked = self._session.columns[column]
        sent = request_messages(self._session, column, turn)
        reply = ColumnReply(
            column,
            turn,
            lambda watch: self._start(asked, sent, watch),
            admit=self._admit,
            on_settled=self._settled,
        )
        with self._lock:
            self._replies[column] = reply

    def _settled(self, reply: ColumnReply) -> None:
        with self._lock:
            self._session = with_answer(self._session, reply.column, reply.turn, reply.answer())
            changed = self._touch()
        self._notify(changed)

    def _notify(self, _changed: SideBySide) -> None:
        if self._on_change is None:
            return
        with self._notify_lock:  # one save at a time, each of the newest session
            with self._lock:
                latest = self._session
            self._on_change(latest)
