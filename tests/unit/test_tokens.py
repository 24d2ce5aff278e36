import pytest

from chatlab.tokens import (
    DEFAULT_MAX_OUTPUT,
    ModelInfo,
    estimate_prompt_tokens,
    estimate_tokens,
    families,
    max_output_tokens,
    model_info,
    read_families,
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
    [
        ("gpt-4o-mini-2024-07-18", 16_384),  # a dated snapshot finds its family
        ("gpt-4o", 16_384),
        ("gpt-5-pro-2025-10-06", 272_000),  # the longest prefix wins over "gpt-5"
        ("gpt-5.2", 128_000),  # a point release finds its family
        ("openai/o3-pro", 100_000),  # a gateway's "vendor/model" id
        ("GPT-4.1-mini", 32_768),
        ("llama3:8b", DEFAULT_MAX_OUTPUT),
        ("", DEFAULT_MAX_OUTPUT),
    ],
)
def test_the_max_tokens_slider_reaches_the_models_output_limit(model: str, max_out: int) -> None:
    assert max_output_tokens(model) == max_out


def test_an_unknown_model_has_no_context_window() -> None:
    assert model_info("my-local-model") == ModelInfo(None, None)
    assert model_info("openrouter/gpt-4o").context_window == 128_000


def test_every_shipped_model_family_has_sane_limits() -> None:
    known = families()
    assert len(known) >= 15
    for prefix, info in known.items():
        assert prefix == prefix.strip().lower() and "/" not in prefix, prefix
        assert info.context_window is not None and info.max_output is not None, prefix
        assert 1_000 <= info.max_output <= info.context_window <= 10_000_000, prefix


def test_the_facts_file_is_read_whole() -> None:
    text = """
    [families]
    "tiny" = { context_window = 2_048, max_output = 512 }
    """
    assert read_families(text) == {"tiny": ModelInfo(2_048, 512)}


def test_plain_text_is_counted_by_words_not_characters() -> None:
    # Measured against llama.cpp (Gemma 3): "hello " x 5,000 as the only message, under
    # the default system prompt, is a 5,016-token request; four characters a token said
    # 7,516, half again too many.
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hello " * 5000},
    ]
    assert abs(estimate_prompt_tokens(messages) - 5016) <= 5016 * 0.05
    assert estimate_tokens("The quick brown fox jumps over the lazy dog.") == 10  # cl100k: 10


def test_long_runs_of_letters_and_digits_count_by_length() -> None:
    assert estimate_tokens("x" * 400) == 100
    assert estimate_tokens("1234567") == 3  # digits go in groups of up to three
