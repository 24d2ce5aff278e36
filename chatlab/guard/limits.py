"""How fast a visitor may spend, and how many requests a process holds open: one gate for all.

Every request to a model (a chat reply, each cell of a Compare run, and any later request
path such as an LLM judge) passes ``Gate.request`` first, through ``admit``: it is counted
against its owner's rate, then takes one of the process's in-flight slots, held until
the reply has ended however it ends.

The rate is a sliding log per owner (the times of the last minute's requests): exact, so
a visitor gets at most N requests in any 60 s, and the wait is known (when the oldest
ages out), which is what the message tells them. A chat request over the rate fails at
once with a ``ChatError`` saying when to retry; a Compare run paces itself instead, each
cell waiting for its turn (a Stop, or the session's end, cuts the wait short).

The in-flight bound is process-wide: a request beyond it waits for a slot, and fails
clearly after ``SLOT_WAIT`` seconds. Both parts are thread-safe (a sweep sends from a
pool of threads) and take their clock as an argument, so tests need no sleeps.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache

from chatlab import config
from chatlab.errors import ChatError, Kind
from chatlab.provider import stopped_early

Clock = Callable[[], float]
# What a request path holds while its request is out: entered on the worker thread, given
# the event that cancels the request (a Stop, the session's end), so a wait ends with it.
Admit = Callable[[threading.Event], AbstractContextManager[None]]
WINDOW = 60.0  # seconds the rate counts over
SLOT_WAIT = 30.0  # seconds a request waits for an in-flight slot before failing
POLL = 0.25  # seconds between looks at the cancel event while waiting for a slot
PRUNE_AT = 1024  # owners remembered before the idle ones are forgotten


class RateLimiter:
    """At most ``per_minute`` requests in any ``WINDOW`` seconds per owner (0: no limit)."""

    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, owner: str) -> float:
        """Count one request of ``owner`` if the rate allows it (0.0), else the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            if len(self._sent) >= PRUNE_AT:
                self._forget_idle(now)
            sent = self._sent.setdefault(owner, deque())
            while sent and sent[0] <= now - WINDOW:
                sent.popleft()
            if len(sent) < self.per_minute:
                sent.append(now)
                return 0.0
            return sent[0] + WINDOW - now

    def _forget_idle(self, now: float) -> None:
        for owner in [o for o, sent in self._sent.items() if not sent or sent[-1] <= now - WINDOW]:
            del self._sent[owner]


class InFlight:
    """A bound on requests open at once (0: none); a waiter wakes when a slot frees."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.open = 0
        self.waiting = 0  # requests waiting for a slot now
        self._free = threading.Condition()

    def acquire(self, timeout: float, cancelled: threading.Event) -> bool:
        """Take a slot within ``timeout`` s; False if none freed in time, or ``cancelled``."""
        deadline = time.monotonic() + timeout
        with self._free:
            self.waiting += 1
            try:
                while self.bound > 0 and self.open >= self.bound:
                    left = deadline - time.monotonic()
                    if left <= 0 or cancelled.is_set():
                        return False
                    self._free.wait(min(left, POLL))
            finally:
                self.waiting -= 1
            if cancelled.is_set():
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._free:
            self.open -= 1
            self._free.notify()


class Gate:
    """The rate per owner and the in-flight bound, applied to one request at a time."""

    def __init__(self, rate: RateLimiter, in_flight: InFlight, *, slot_wait: float = SLOT_WAIT):
        self.rate = rate
        self.in_flight = in_flight
        self.slot_wait = slot_wait

    @contextmanager
    def request(self, owner: str, *, pace: bool, cancelled: threading.Event) -> Iterator[None]:
        """Hold a request's place: counted against ``owner``'s rate, one slot while it runs.

        Over the rate, ``pace`` waits for the owner's turn, else it raises a ``ChatError``
        saying when to retry. ``cancelled`` ends any wait (raising ``stopped_early``).
        """
        self._take_rate(owner, pace=pace, cancelled=cancelled)
        if not self.in_flight.acquire(self.slot_wait, cancelled):
            raise stopped_early() if cancelled.is_set() else busy(self.in_flight.bound)
        try:
            yield
        finally:
            self.in_flight.release()

    def _take_rate(self, owner: str, *, pace: bool, cancelled: threading.Event) -> None:
        while (wait := self.rate.take(owner)) > 0:
            if not pace:
                raise rate_limited(self.rate.per_minute, wait)
            if cancelled.wait(wait):
                raise stopped_early()


def rate_limited(per_minute: int, wait: float) -> ChatError:
    """Over the visitor's rate: what happened and when to retry."""
    seconds = max(1, math.ceil(wait))
    return ChatError(
        Kind.RATE_LIMIT,
        f"You have sent {per_minute} requests in the last minute, Chat Lab's limit per "
        "person (CHATLAB_RATE_LIMIT); nothing was sent.",
        f"Retry in {seconds} s. A Compare run in progress counts too.",
        retry_after=float(seconds),
    )


def busy(bound: int) -> ChatError:
    """No in-flight slot freed in time: the process is at its bound."""
    return ChatError(
        Kind.RATE_LIMIT,
        f"Chat Lab is busy: {bound} requests are already open across everyone using it "
        "(CHATLAB_MAX_IN_FLIGHT); nothing was sent.",
        "Retry in a minute.",
        retry_after=60.0,
    )


@cache
def _gate(per_minute: int, bound: int) -> Gate:
    return Gate(RateLimiter(per_minute), InFlight(bound))


def gate() -> Gate:
    """The process's gate, as configured (one per configuration, made on first use)."""
    return _gate(config.rate_limit(), config.max_in_flight())


def admit(owner: str, *, pace: bool = False) -> Admit:
    """What a request path holds around each request of ``owner`` (see ``Gate.request``)."""
    chosen = gate()

    def hold(cancelled: threading.Event) -> AbstractContextManager[None]:
        return chosen.request(owner, pace=pace, cancelled=cancelled)

    return hold
