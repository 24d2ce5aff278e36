"""A Compare run's budget: max tokens within each model's limit, the estimate (at most,
priced at list prices, unknown said), the refusals, the settings, and one sweep per session."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from chatlab import config
from chatlab.compare.budget import Budget, Estimate, estimate, money, refusal, within_limits
from chatlab.compare.slot import SweepSlot
from chatlab.compare.sweep import Sweep
from chatlab.compare.variables import render
from chatlab.config import OPENAI_BASE_URL
from chatlab.deadline import Watch
from chatlab.grid import (
    Grid,
    GridError,
    PromptVariant,
    Run,
    State,
    cells,
    new_run,
    parse_values,
    sweepable,
)
from chatlab.messages import ChatSettings
from chatlab.params import max_tokens_limit
from chatlab.provider.stream import ReplyStream
from chatlab.tokens import estimate_prompt_tokens, price_usd

MESSAGES = [{"role": "user", "content": "Name a colour."}]


def run_of(models: tuple[str, ...], max_tokens: tuple[int, ...], samples: int = 1) -> Run:
    base = ChatSettings(model=models[0])
    grid = Grid(base, axes=(("max_tokens", max_tokens),), models=models, samples=samples)
    return new_run(grid, "Name a colour.", MESSAGES)


def openai_price(model: str, tokens_in: int, tokens_out: int) -> float | None:
    url = OPENAI_BASE_URL
    return price_usd(model, base_url=url, prompt_tokens=tokens_in, completion_tokens=tokens_out)


# -- bounds ---------------------------------------------------------------------------------


def test_typed_values_are_held_to_the_sidebars_bounds() -> None:
    with pytest.raises(GridError) as caught:
        parse_values("max_tokens", "1000000000")
    assert "Use values from 1 to 272,000" in str(caught.value)
    numbers = [found for found in sweepable().values() if found.kind in (int, float)]
    assert len(numbers) == 7
    for found in numbers:
        with pytest.raises(GridError):
            parse_values(found.name, str((found.param.high or 0) + 1))
    assert parse_values("top_logprobs", "20") == (20,)


def test_max_tokens_limit_is_the_models_longest_reply_within_its_window() -> None:
    assert max_tokens_limit("gpt-4o-mini") == 16_384
    assert max_tokens_limit("gpt-4o-mini", 8_000) == 8_000
    assert max_tokens_limit("some-local-model") == 4_096
    assert max_tokens_limit("some-local-model", 32_768) == 4_096


def test_max_tokens_above_a_models_limit_are_sent_as_that_limit() -> None:
    run = run_of(("gpt-4o-mini", "gpt-3.5-turbo"), (1000, 20_000, 200_000))
    bounded = within_limits(run, max_tokens_limit)
    sent = [(r.cell.settings.model, r.cell.settings.max_tokens) for r in bounded.results]
    assert sent == [
        ("gpt-4o-mini", 1000),
        ("gpt-4o-mini", 16_384),
        ("gpt-3.5-turbo", 1000),
        ("gpt-3.5-turbo", 4_096),
    ]
    assert bounded.results[1].cell.setting == "max_tokens=16384 · gpt-4o-mini"


# -- the estimate -----------------------------------------------------------------------------


def test_the_estimate_prices_every_request_at_its_max_tokens() -> None:
    run = run_of(("gpt-4o",), (1000, 2000), samples=3)
    found = estimate([r.cell for r in run.results], MESSAGES, openai_price)
    assert found.requests == 6
    assert found.input_tokens > 0
    assert found.output_tokens == 3 * 1000 + 3 * 2000
    # gpt-4o: $2.50 in, $10 out per million tokens.
    expected = 6 * found.input_tokens * 2.5e-6 + 9000 * 10e-6
    assert found.cost_usd == pytest.approx(expected)
    assert found.unpriced == ()


def test_an_unknown_price_is_said_never_taken_as_zero() -> None:
    run = run_of(("gpt-4o-mini", "my-local-llama"), (100,))
    found = estimate([r.cell for r in run.results], MESSAGES, openai_price)
    assert found.unpriced == ("my-local-llama",)
    assert found.cost_usd is not None and found.cost_usd > 0  # gpt-4o-mini's part
    assert "cost unknown for my-local-llama" in found.summary
    local = run_of(("my-local-llama",), (100,))
    local = run_of(("my-local-llama",), (100,))
    alone = estimate([r.cell for r in local.results], [], openai_price)
    assert alone.cost_usd is None and "$" not in alone.summary


def test_each_cells_own_messages_are_estimated_apart() -> None:
    grid = Grid(
        ChatSettings(model="gpt-4o", max_tokens=100),
        samples=2,
        variants=(PromptVariant("{{word}}"),),
        columns=("word",),
        rows=(("short",), ("a much longer row " * 50,)),
    )

    def compose(variant: PromptVariant, row: Mapping[str, str]) -> list[dict[str, Any]]:
        return [{"role": "user", "content": render(variant.user, row)}]

    found = estimate(cells(grid, compose), [], openai_price)
    longest = estimate_prompt_tokens(compose(PromptVariant("{{word}}"), grid.row_values(2)))
    assert found.requests == 4 and found.input_tokens == longest


def test_money_keeps_small_amounts_readable() -> None:
    assert money(5) == "$5.00"
    assert money(1234.5) == "$1,234.50"
    assert money(0.0012) == "$0.0012"


# -- refusals -------------------------------------------------------------------------------

BUDGET = Budget(max_requests=10, max_cost_usd=1.0)


def test_a_run_within_budget_is_not_refused() -> None:
    assert refusal(Estimate(10, 100, 1000, 0.99), BUDGET, {"m": 128_000}) is None


def test_too_many_requests_are_refused_with_the_figures_and_what_to_change() -> None:
    refused = refusal(Estimate(11, 100, 1000, None), BUDGET, {})
    assert refused is not None and not refused.retryable
    assert "11 requests" in refused.message and "at most 10" in refused.message
    assert "CHATLAB_MAX_RUN_REQUESTS" in str(refused)
    assert "fewer values, models or samples" in refused.action


def test_too_costly_a_run_is_refused_with_the_figures() -> None:
    refused = refusal(Estimate(6, 100, 60_000, 5.25), BUDGET, {})
    assert refused is not None
    assert "up to $5.25" in refused.message and "at most $1.00" in refused.message
    assert "CHATLAB_MAX_RUN_COST" in str(refused)
    assert "Lower max tokens" in refused.action


def test_an_unpriced_run_counts_against_requests_only() -> None:
    assert refusal(Estimate(10, 100, 10**6, None, ("llama",)), BUDGET, {}) is None


def test_zero_turns_each_limit_off() -> None:
    assert refusal(Estimate(10**4, 100, 10**8, 10**6), Budget(0, 0), {}) is None


def test_a_prompt_longer_than_a_models_window_is_refused() -> None:
    refused = refusal(Estimate(2, 130_000, 200, 0.1), BUDGET, {"gpt-4o": 128_000, "x": None})
    assert refused is not None
    assert "130,000 tokens" in refused.message and "gpt-4o's context window of 128,000" in (
        refused.message
    )
    assert refusal(Estimate(2, 130_000, 200, 0.1), BUDGET, {"unknown": None}) is None


# -- settings -------------------------------------------------------------------------------


def test_the_limits_have_defaults_for_one_person() -> None:
    assert config.rate_limit({}) == 60
    assert config.max_in_flight({}) == 64
    assert config.max_run_requests({}) == 300
    assert config.max_run_cost({}) == 5.0


@pytest.mark.parametrize(
    ("raw", "rate", "cost"),
    [("0", 0, 0.0), ("120", 120, 120.0), ("1_000", 1000, 1000.0), ("", 60, 5.0)],
)
def test_the_limits_read_whole_numbers(raw: str, rate: int, cost: float) -> None:
    env = {"CHATLAB_RATE_LIMIT": raw, "CHATLAB_MAX_RUN_COST": raw}
    assert config.rate_limit(env) == rate
    assert config.max_run_cost(env) == cost
    assert config.max_run_cost({"CHATLAB_MAX_RUN_COST": "$2.50"}) == 2.5
    with pytest.raises(config.ConfigError, match="CHATLAB_MAX_RUN_COST='-1'"):
        config.max_run_cost({"CHATLAB_MAX_RUN_COST": "-1"})  # never the default in its place


# -- one sweep per session --------------------------------------------------------------------


class Held:
    """Replies that wait until released; counts what was sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.release = threading.Event()

    def __call__(self, cell: object, watch: Watch) -> ReplyStream:
        self.sent += 1
        self.release.wait(30)
        return ReplyStream(_Chunks(), model="m", prompt_tokens=1, started=0.0)


class _Chunks:
    def __iter__(self) -> Iterator[dict[str, object]]:
        yield {"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]}

    def close(self) -> None:
        pass


def test_a_session_runs_one_sweep_at_a_time() -> None:
    slot, held = SweepSlot(), Held()
    first = slot.start(lambda: Sweep(run_of(("m",), (10,), samples=2), held, concurrency=1))
    assert first is not None and slot.running() is first
    assert slot.start(lambda: pytest.fail("a second sweep started")) is None
    held.release.set()
    assert first.wait(30)
    assert slot.running() is None
    assert slot.start(lambda: Sweep(run_of(("m",), (10,)), held)) is not None


def test_the_sessions_end_stops_its_sweep_and_starts_none() -> None:
    slot, held = SweepSlot(), Held()
    sweep = slot.start(lambda: Sweep(run_of(("m",), (10,), samples=5), held, concurrency=1))
    assert sweep is not None
    slot.end()
    held.release.set()
    assert sweep.wait(30)
    assert held.sent <= 1  # at most the one already out; the waiting four never went
    assert {r.state for r in sweep.results()[1:]} == {State.STOPPED}
    assert slot.start(lambda: pytest.fail("started after the session ended")) is None


def test_a_session_that_reconnects_may_run_sweeps_again() -> None:
    slot, held = SweepSlot(), Held()
    slot.end()
    slot.reopen()
    held.release.set()
    sweep = slot.start(lambda: Sweep(run_of(("m",), (10,)), held))
    assert sweep is not None and sweep.wait(30)
