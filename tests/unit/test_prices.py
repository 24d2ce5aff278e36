"""What a reply cost: genai-prices' list prices by endpoint, or the server's own figure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from chatlab.config import OPENAI_BASE_URL, Endpoint, Timeouts
from chatlab.messages import ChatSettings, ReplyStats, Usage
from chatlab.provider.client import make_client, start_reply
from chatlab.provider.stream import ReplyStream
from chatlab.tokens import price_usd
from components.reply_text import telemetry_line
from testing.fake_openai import FakeOpenAI, Reply
from tests.conftest import ROOT

OPENAI = OPENAI_BASE_URL + "/"
MILLION = 1_000_000


def per_million(model: str, base_url: str | None = OPENAI) -> tuple[float | None, float | None]:
    """The model's input and output price per million tokens at ``base_url``."""
    inputs = price_usd(model, base_url=base_url, prompt_tokens=MILLION, completion_tokens=0)
    outputs = price_usd(model, base_url=base_url, prompt_tokens=0, completion_tokens=MILLION)
    return inputs, outputs


# OpenAI's list prices (USD per million tokens): the old prefix table priced gpt-5-pro,
# o1-pro and o3-pro as gpt-5, o1 and o3, and gpt-5.2 at gpt-5's rates.
@pytest.mark.parametrize(
    ("model", "prices"),
    [
        ("gpt-4o-mini", (0.15, 0.60)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("gpt-5", (1.25, 10.00)),
        ("gpt-5-pro", (15.00, 120.00)),
        ("o1-pro", (150.00, 600.00)),
        ("o3-pro", (20.00, 80.00)),
        ("gpt-5.2", (1.75, 14.00)),
    ],
)
def test_openai_models_cost_their_list_price(model: str, prices: tuple[float, float]) -> None:
    assert per_million(model) == pytest.approx(prices)


def test_cached_input_tokens_cost_the_cached_rate() -> None:
    # gpt-4o-mini: $0.15 per million input tokens, half that when read from the cache.
    cost = price_usd(
        "gpt-4o-mini",
        base_url=OPENAI,
        prompt_tokens=MILLION,
        cached_tokens=MILLION // 2,
        completion_tokens=0,
    )
    assert cost == pytest.approx(0.075 + 0.0375)


def test_the_endpoint_picks_the_providers_price() -> None:
    assert per_million("openai/gpt-4o-mini", "https://openrouter.ai/api/v1") == pytest.approx(
        (0.15, 0.60)
    )
    groq = per_million("llama-3.3-70b-versatile", "https://api.groq.com/openai/v1")
    assert groq[0] is not None and groq[1] is not None and 0 < groq[0] < groq[1]


@pytest.mark.parametrize(
    ("model", "base_url"),
    [
        ("my-finetune-7b", OPENAI),  # a model the table does not know
        ("gpt-4o-mini", "http://127.0.0.1:8080/v1"),  # a local server's model is free to run
        ("gpt-4o-mini", "http://localhost:11434/v1"),
        ("gpt-4o-mini", "https://llm.example.internal/v1"),  # a gateway nobody prices
        ("gpt-4o-mini", None),
        ("gpt-4o-mini", ""),
    ],
)
def test_no_known_price_is_none_never_a_guess(model: str, base_url: str | None) -> None:
    assert price_usd(model, base_url=base_url, prompt_tokens=100, completion_tokens=100) is None


def test_impossible_counts_give_no_price() -> None:
    cost = price_usd(
        "gpt-4o-mini", base_url=OPENAI, prompt_tokens=10, cached_tokens=20, completion_tokens=1
    )
    assert cost is None


def test_prices_are_looked_up_offline_with_no_updater_running() -> None:
    # genai-prices can download fresh prices (UpdatePrices, opt-in). Record every socket
    # operation and thread of a fresh interpreter that prices a reply: there must be none.
    script = """
import sys, threading
events = []
sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
from chatlab.tokens import price_usd
from chatlab.config import OPENAI_BASE_URL
cost = price_usd("gpt-4o", base_url=OPENAI_BASE_URL, prompt_tokens=5,
                 completion_tokens=5)
assert cost is not None and cost > 0, cost
assert threading.active_count() == 1, threading.enumerate()
assert not events, events
print("offline")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "offline", done.stderr


# -- the stream: the server's figure first, then the table --------------------------------


class Chunks:
    """The SDK stream as ReplyStream reads it: chunks as the JSON the server sent."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        yield from self.chunks

    def close(self) -> None:
        pass


def streamed(usage: dict[str, Any], base_url: str | None = OPENAI) -> ReplyStream:
    """A finished two-word gpt-4o-mini reply that ended with ``usage``."""
    chunks: list[dict[str, Any]] = [
        {"model": "gpt-4o-mini", "choices": [{"delta": {"content": "Hi "}}]},
        {"choices": [{"delta": {"content": "there"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": usage},
    ]
    stream = ReplyStream(
        Chunks(chunks), model="gpt-4o-mini", prompt_tokens=9, started=0.0, base_url=base_url
    )
    assert "".join(stream) == "Hi there"
    return stream


COUNTS = {"prompt_tokens": MILLION, "completion_tokens": MILLION}


def test_a_reply_costs_its_usage_at_the_endpoints_prices() -> None:
    assert streamed(COUNTS).stats().cost_usd == pytest.approx(0.75)


def test_cached_tokens_in_the_usage_chunk_lower_the_cost() -> None:
    usage = {**COUNTS, "prompt_tokens_details": {"cached_tokens": MILLION}}
    assert streamed(usage).stats().cost_usd == pytest.approx(0.075 + 0.60)


@pytest.mark.parametrize("cached", [MILLION + 1, -1, 1.5, "1000", float("nan"), None])
def test_implausible_cached_counts_are_ignored(cached: object) -> None:
    usage = {**COUNTS, "prompt_tokens_details": {"cached_tokens": cached}}
    assert streamed(usage).stats().cost_usd == pytest.approx(0.75)


def test_the_servers_own_cost_wins_over_the_table() -> None:
    stats = streamed({**COUNTS, "cost": 0.000123}).stats()
    assert stats.cost_usd == 0.000123
    assert streamed({**COUNTS, "cost": 0}).stats().cost_usd == 0.0  # a free model is free


@pytest.mark.parametrize("cost", [-0.5, 1e9, float("inf"), float("nan"), "0.01", True, None])
def test_an_absurd_server_cost_is_ignored(cost: object) -> None:
    assert streamed({**COUNTS, "cost": cost}).stats().cost_usd == pytest.approx(0.75)


def test_a_local_server_has_no_price_unless_it_reports_one() -> None:
    local = "http://127.0.0.1:8080/v1"
    assert streamed(COUNTS, base_url=local).stats().cost_usd is None
    assert streamed({**COUNTS, "cost": 0.25}, base_url=local).stats().cost_usd == 0.25


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, Timeouts(connect=2.0, read=5.0)) as made:
        yield made


def _stats(client: openai.OpenAI) -> ReplyStats:
    settings = ChatSettings(model="gpt-4o-mini")
    stream, _ = start_reply(client, settings, [{"role": "user", "content": "hello"}])
    "".join(stream)
    return stream.stats()


def test_a_gateways_cost_arrives_through_the_real_client(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    # OpenRouter's usage chunk, as its usage-accounting docs show it.
    usage = (
        '{"prompt_tokens":194,"completion_tokens":2,"total_tokens":196,"cost":0.00095,'
        '"cost_details":{"upstream_inference_cost":null},'
        '"prompt_tokens_details":{"cached_tokens":0}}'
    )
    fake.enqueue(Reply(text="a b", usage_json=usage))
    assert _stats(client).cost_usd == 0.00095


def test_the_fake_local_server_gets_no_price(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="a b", prompt_tokens=11, completion_tokens=2))
    assert _stats(client).cost_usd is None


# -- what the telemetry line says ---------------------------------------------------------


def stats(cost: float | None, *, estimated: bool = False) -> ReplyStats:
    return ReplyStats(
        model="gpt-4o-mini",
        usage=Usage(120, 310, estimated=estimated),
        finish_reason="stop",
        time_to_first_token=0.4,
        total_time=2.0,
        cost_usd=cost,
    )


# The line is Markdown: "\$" shows as "$" ("$...$" would be LaTeX).
def test_telemetry_shows_the_cost_to_the_millionth_of_a_dollar() -> None:
    line = telemetry_line(stats(0.000123))
    assert " · \\$0.000123 · " in line and "≈" not in line


def test_telemetry_marks_a_cost_from_estimated_tokens() -> None:
    assert " · ≈ \\$0.000123 · " in telemetry_line(stats(0.000123, estimated=True))


def test_telemetry_says_cost_unknown_rather_than_a_figure() -> None:
    line = telemetry_line(stats(None))
    assert " · cost unknown · " in line and "$" not in line


def test_telemetry_shows_a_free_reply_as_zero() -> None:
    assert " · \\$0.000000 · " in telemetry_line(stats(0.0))
