import pytest

from chatlab.tokens import (
    DEFAULT_MAX_OUTPUT,
    cost_usd,
    estimate_prompt_tokens,
    estimate_tokens,
    max_output_tokens,
    model_info,
)


def test_estimate_is_about_four_ascii_chars_per_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("x" * 400) == 100


def test_cjk_counts_about_a_token_per_character() -> None:
    assert 9 <= estimate_tokens("안녕하세요반갑습니다") <= 12


def test_prompt_estimate_adds_per_message_framing() -> None:
    messages = [{"role": "user", "content": "x" * 40}]
    assert estimate_prompt_tokens(messages) == 10 + 3 + 3


@pytest.mark.parametrize(
    ("model", "max_out"),
    [("gpt-4o-mini-2024-07-18", 16_384), ("gpt-4o", 16_384), ("llama3:8b", DEFAULT_MAX_OUTPUT)],
)
def test_longest_prefix_finds_the_family(model: str, max_out: int) -> None:
    assert max_output_tokens(model) == max_out


def test_cost_uses_list_prices_and_is_none_for_unknown_models() -> None:
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("my-local-model", 10, 10) is None
    assert model_info("openrouter/gpt-4o").context_window == 128_000
