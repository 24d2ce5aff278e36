"""The spending limits: a sliding-window rate per owner and a bound on requests in flight,
with an injected clock (no sleeps), under threads, and through a background reply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.guard.limits import WINDOW, Gate, InFlight, RateLimiter, admit, gate
from chatlab.provider.background import BackgroundReply
from chatlab.provider.stream import ReplyStream


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits(threading.Event):
    """A cancel event whose waits pass on the fake clock instead of the real one."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout or 0.0)
        self.clock.now += timeout or 0.0
        return self.is_set()


def test_the_rate_admits_n_a_minute_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    rate = RateLimiter(3, clock=clock)
    for _ in range(3):  # at 0, 10 and 20 s
        assert rate.take("ann") == 0.0
        clock.now += 10
    assert rate.take("ann") == pytest.approx(WINDOW - 30)  # at 30 s: until the first ages out
    clock.now += WINDOW - 30
    assert rate.take("ann") == 0.0  # at 60 s
    assert rate.take("ann") == pytest.approx(10)  # the second ages out at 70 s


def test_each_owner_has_a_rate_of_their_own() -> None:
    clock = FakeClock()
    rate = RateLimiter(1, clock=clock)
    assert rate.take("ann") == 0.0
    assert rate.take("ann") > 0
    assert rate.take("bob") == 0.0


def test_a_refused_request_is_not_counted() -> None:
    clock = FakeClock()
    rate = RateLimiter(2, clock=clock)
    rate.take("ann"), rate.take("ann")
    for _ in range(5):
        clock.now += 1
        assert rate.take("ann") > 0
    clock.now = 1000.0 + WINDOW
    assert [rate.take("ann"), rate.take("ann")] == [0.0, 0.0]


def test_zero_turns_the_rate_off() -> None:
    rate = RateLimiter(0, clock=FakeClock())
    assert all(rate.take("ann") == 0.0 for _ in range(1000))


def test_idle_owners_are_forgotten() -> None:
    clock = FakeClock()
    rate = RateLimiter(1, clock=clock)
    for n in range(2000):
        rate.take(f"visitor {n}")
    clock.now += WINDOW + 1
    rate.take("late")
    assert len(rate._sent) < 1100


def test_the_rate_holds_under_threads() -> None:
    rate = RateLimiter(50, clock=FakeClock())
    admitted: list[float] = []
    lock = threading.Lock()

    def send() -> None:
        for _ in range(20):
            wait = rate.take("ann")
            with lock:
                admitted.append(wait)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(0.0) == 50


def test_over_the_rate_a_chat_request_fails_saying_when_to_retry() -> None:
    clock = FakeClock()
    limits = Gate(RateLimiter(2, clock=clock), InFlight(0))
    cancel = threading.Event()
    for _ in range(2):
        with limits.request("ann", pace=False, cancelled=cancel):
            pass
    clock.now += 15
    err = _refused(limits, "ann")
    assert err.kind == Kind.RATE_LIMIT and err.retryable
    assert err.retry_after == 45.0
    assert "2 requests in the last minute" in err.message
    assert "CHATLAB_RATE_LIMIT" in err.message
    assert "Retry in 45 s" in err.action


def test_over_the_rate_a_sweep_cell_waits_for_its_turn() -> None:
    clock = FakeClock()
    limits = Gate(RateLimiter(1, clock=clock), InFlight(0))
    waits = Waits(clock)
    with limits.request("ann", pace=True, cancelled=waits):
        pass
    with limits.request("ann", pace=True, cancelled=waits):
        pass
    assert waits.waited == [pytest.approx(WINDOW)]


def test_a_cancelled_wait_for_the_rate_sends_nothing() -> None:
    clock = FakeClock()
    limits = Gate(RateLimiter(1, clock=clock), InFlight(0))
    waits = Waits(clock)
    with limits.request("ann", pace=True, cancelled=waits):
        pass
    waits.set()
    with pytest.raises(ChatError) as caught, limits.request("ann", pace=True, cancelled=waits):
        pytest.fail("admitted after a cancel")
    assert caught.value.kind == Kind.STOPPED


def test_in_flight_requests_are_bounded_and_the_next_fails_clearly() -> None:
    limits = Gate(RateLimiter(0), InFlight(2), slot_wait=0.0)
    cancel = threading.Event()
    with (
        limits.request("ann", pace=False, cancelled=cancel),
        limits.request("bob", pace=False, cancelled=cancel),
    ):
        err = _refused(limits, "cy")
        assert limits.in_flight.open == 2
    assert limits.in_flight.open == 0
    assert "2 requests are already open" in err.message
    assert "CHATLAB_MAX_IN_FLIGHT" in err.message


def _refused(limits: Gate, owner: str) -> ChatError:
    """The error a request of ``owner`` gets instead of being admitted."""
    try:
        with limits.request(owner, pace=False, cancelled=threading.Event()):
            pass
    except ChatError as err:
        return err
    raise AssertionError("admitted")


def test_a_request_beyond_the_bound_waits_for_a_slot() -> None:
    limits = Gate(RateLimiter(0), InFlight(1), slot_wait=60.0)
    cancel = threading.Event()
    entered = threading.Event()
    first = limits.request("ann", pace=False, cancelled=cancel)
    first.__enter__()

    def second() -> None:
        with limits.request("bob", pace=False, cancelled=cancel):
            entered.set()

    waiter = threading.Thread(target=second)
    waiter.start()
    assert _until(lambda: limits.in_flight.waiting == 1)
    assert not entered.is_set() and limits.in_flight.open == 1
    first.__exit__(None, None, None)
    assert entered.wait(10)
    waiter.join(10)
    assert limits.in_flight.open == 0


def test_a_stop_ends_the_wait_for_a_slot() -> None:
    limits = Gate(RateLimiter(0), InFlight(1), slot_wait=600.0)
    held, cancel = threading.Event(), threading.Event()
    failed: list[ChatError] = []

    def second() -> None:
        try:
            with limits.request("bob", pace=False, cancelled=cancel):
                pytest.fail("admitted while the slot was held")
        except ChatError as err:
            failed.append(err)

    with limits.request("ann", pace=False, cancelled=held):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert _until(lambda: limits.in_flight.waiting == 1)
        cancel.set()
        waiter.join(30)
    assert [err.kind for err in failed] == [Kind.STOPPED]


def _until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait on state (polled), not on time: True once ``check()`` holds."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        done.wait(0.01)
    return True


def test_a_slot_is_freed_when_the_request_fails() -> None:
    limits = Gate(RateLimiter(0), InFlight(1), slot_wait=0.0)
    cancel = threading.Event()
    with pytest.raises(RuntimeError), limits.request("ann", pace=False, cancelled=cancel):
        raise RuntimeError("the server hung up")
    assert limits.in_flight.open == 0


def test_the_process_gate_follows_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "7")
    monkeypatch.setenv("CHATLAB_MAX_IN_FLIGHT", "3")
    assert (gate().rate.per_minute, gate().in_flight.bound) == (7, 3)
    assert gate() is gate()


class _NeverSent:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, watch: Watch) -> ReplyStream:
        self.calls += 1
        raise AssertionError("sent despite the limit")


def test_a_background_reply_over_the_rate_sends_nothing_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "1")
    monkeypatch.setenv("CHATLAB_MAX_IN_FLIGHT", "5")
    owner = "test_a_background_reply_over_the_rate"
    gate().rate.take(owner)  # the one request of this minute
    start = _NeverSent()
    worker = BackgroundReply(start, admit=admit(owner))
    with pytest.raises(ChatError) as caught:
        list(_deltas(worker))
    assert caught.value.kind == Kind.RATE_LIMIT
    assert start.calls == 0


def _deltas(worker: BackgroundReply) -> Iterator[str]:
    for delta in worker.deltas(poll=0.05):
        if delta:
            yield delta
