"""A reply requested and read on a worker thread, so the page never blocks on the network.

Streamlit stops a script (the Stop button, a closed tab, a newer run) only at its next
element update. A page that blocks in a network read cannot be stopped: a server that
trickles keep-alive bytes, or is slow to send its headers, would hold it for as long
as it likes. Here the request and the stream run on a worker thread and the page waits
on a queue: ``deltas`` yields an empty string every ``poll`` seconds while nothing
arrives, the page redraws on it, and so Stop takes effect within ``poll``. ``close``
(called when the page is stopped) closes the connection so the server stops too.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from chatlab.deadline import Watch
from chatlab.errors import ChatError
from chatlab.provider.server_errors import to_chat_error
from chatlab.provider.stream import NOTHING, Outcome, ReplyStream

Start = Callable[[Watch], ReplyStream]  # sends the request; closing the watch cuts it
# Held around the whole request on the worker (``chatlab.guard.limits.admit``); the event is set
# on ``close`` so a wait for admission ends with it.
Admit = Callable[[threading.Event], AbstractContextManager[None]]
_END = object()


class BackgroundReply:
    """Starts ``start()`` on a worker thread and hands over its text deltas."""

    def __init__(self, start: Start, *, admit: Admit | None = None) -> None:
        self._start = start
        self._admit = admit or (lambda _closed: contextlib.nullcontext())
        self._watch = Watch()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._claimed = False
        self._answered = threading.Event()  # the server's headers are in, or it failed
        self.stream: ReplyStream | None = None
        self.error: ChatError | None = None
        self._thread = threading.Thread(target=self._run, name="chatlab-reply", daemon=True)
        self._thread.start()

    def deltas(self, poll: float = 0.1) -> Iterator[str]:
        """The reply's text as it comes; ``""`` every ``poll`` s of silence; raises its error."""
        while True:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                yield ""
                continue
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def outcome(self) -> Outcome:
        """What the reply came to (``NOTHING`` if no stream ever opened)."""
        stream = self.stream
        return stream.outcome() if stream is not None else NOTHING

    def close(self) -> None:
        """Stop reading and close the connection; safe from any thread, more than once."""
        with self._lock:
            self._closed.set()
            stream = self.stream
        self._watch.close()  # a request still waiting for the server's headers
        if stream is not None:
            stream.close()

    def wait_answered(self, timeout: float) -> bool:
        """Wait until the server has answered the request (or it failed); True if it did.

        A caller with other Python work to do waits here first, so that work does not
        hold the GIL while the worker is getting the request out.
        """
        return self._answered.wait(timeout)

    def claim(self) -> bool:
        """True for the first caller only: the one who draws and settles this reply.

        The page that sent the request claims it when it starts drawing; a newer run
        that finds it unclaimed (its run was interrupted before drawing) claims it to
        settle what arrived. Safe from any thread.
        """
        with self._lock:
            first, self._claimed = not self._claimed, True
        return first

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def join(self, timeout: float) -> bool:
        """Wait for the worker to finish; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            with self._admit(self._closed):
                self._read()
        except ChatError as err:
            self.error = None if self._closed.is_set() else err
        except Exception as exc:  # anything else is a bug in a lower layer: explain it
            self.error = None if self._closed.is_set() else to_chat_error(exc)
        finally:
            self._answered.set()
            self._queue.put(_END)

    def _read(self) -> None:
        """Send the request and queue the reply's deltas until it ends or is closed."""
        if self._closed.is_set():
            return  # closed while waiting for admission: send nothing
        stream = self._start(self._watch)
        with self._lock:
            self.stream = stream
            closed = self._closed.is_set()
        self._answered.set()
        if closed:  # stopped while waiting for the server: hang up at once
            stream.close()
            return
        for delta in stream:
            if self._closed.is_set():
                return
            self._queue.put(delta)
