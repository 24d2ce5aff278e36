"""Capacity: what llama.cpp says it can run at once, the concurrency that fits, and a sweep
that meets a full shared cache anyway (the fake's llama.cpp mode, over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from chatlab.compare.sweep import Sweep
from chatlab.config import Endpoint, Timeouts
from chatlab.deadline import Watch
from chatlab.grid import Cell, Grid, State, new_run
from chatlab.messages import ChatSettings
from chatlab.provider.capacity import Capacity, fitting_concurrency, read_props, server_capacity
from chatlab.provider.client import make_client, start_reply
from chatlab.provider.stream import ReplyStream
from testing.fake_openai import Dialect, FakeOpenAI, Reply

MESSAGES = [{"role": "user", "content": "Tell me a story."}]


def llamacpp(fake: FakeOpenAI, window: int, slots: int = 4) -> None:
    fake.dialect = Dialect(
        name="llamacpp", context_window=window, total_slots=slots, shared_cache=True
    )


def test_props_give_slots_and_the_tokens_they_share(fake: FakeOpenAI) -> None:
    llamacpp(fake, window=4096)
    assert server_capacity(fake.base_url) == Capacity(slots=4, shared_tokens=4096)


def test_a_server_without_props_states_no_capacity(fake: FakeOpenAI) -> None:
    assert server_capacity(fake.base_url) is None  # OpenAI's dialect: a 404


@pytest.mark.parametrize("props", [None, [], {"total_slots": "4"}, {"total_slots": 0}, {}])
def test_props_that_are_not_llamacpps_are_ignored(props: object) -> None:
    assert read_props(props) is None


def test_the_default_sweep_on_llamacpps_defaults_runs_three_at_once() -> None:
    # -c 4096, 4 slots sharing it, a short prompt, max tokens 1024: 4 x 1,049 > 4,096.
    capacity = Capacity(slots=4, shared_tokens=4096)
    assert fitting_concurrency(4, capacity, prompt_tokens=25, max_tokens=1024) == 3
    assert fitting_concurrency(4, capacity, prompt_tokens=25, max_tokens=64) == 4
    assert fitting_concurrency(8, Capacity(slots=2), prompt_tokens=25, max_tokens=64) == 2
    assert fitting_concurrency(4, capacity, prompt_tokens=5000, max_tokens=1024) == 1
    assert fitting_concurrency(6, None, prompt_tokens=25, max_tokens=1024) == 6


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key=None, base_url=fake.base_url, key_source="none")
    with make_client(endpoint, Timeouts(connect=2.0, read=10.0)) as made:
        yield made


def test_cells_that_overflow_the_shared_cache_are_retried_fewer_at_once_and_all_complete(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    llamacpp(fake, window=260)
    fake.enqueue(*[Reply(text=" ".join(["word"] * 80), chunk_delay=0.005)] * 16)
    cache = fake.shared_cache()
    assert cache is not None
    cache.together = 4  # the four first requests meet: the overflow is a state, not a race
    grid = Grid(ChatSettings(model="m", max_tokens=100), samples=4)

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        return start_reply(client, cell.settings, list(MESSAGES), watch=watch)[0]

    sweep = Sweep(new_run(grid, "Tell me a story.", MESSAGES), start, concurrency=4)
    assert sweep.wait(30)
    results = sweep.results()
    assert [r.state for r in results] == [State.DONE] * 4, [r.error for r in results]
    assert cache.overflows >= 1  # four at once did not fit
    retried = [r for r in results if r.attempts > 1]
    assert retried and all(r.note and "ran out of room" in r.note for r in retried)
    assert sweep.concurrency < 4
