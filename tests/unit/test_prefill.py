"""Which servers a fork (a final assistant message, continued) is sent to, and with what."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.messages import ChatSettings
from chatlab.provider import fork_refusal, make_client, prefix_fields, server_kind, start_reply
from testing.fake_openai import CONTINUATION, Dialect, FakeOpenAI, dialect_model_entry

VLLM_FLAGS = {"continue_final_message": True, "add_generation_prompt": False}
FORK = [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi,"}]


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, Timeouts(connect=1.0, read=1.0)) as made:
        yield made


@pytest.mark.parametrize(
    ("owned_by", "allowed"),
    [
        ("llamacpp", True),
        ("vllm", True),
        ("library", True),  # Ollama
        ("organization_owner", False),  # LM Studio
        ("openai", False),
    ],
)
def test_a_fork_is_offered_on_llamacpp_vllm_and_ollama(owned_by: str, allowed: bool) -> None:
    refusal = fork_refusal(server_kind([{"owned_by": owned_by}]))
    assert (refusal is None) == allowed
    if not allowed:
        assert refusal  # the reason the disabled control shows


def test_lm_studio_is_refused_as_undocumented() -> None:
    assert "not documented by LM Studio" in (fork_refusal("LM Studio") or "")


@pytest.mark.parametrize(
    ("dialect", "flags", "continued"),
    [
        ("vllm", VLLM_FLAGS, True),
        ("llamacpp", {}, True),
        ("ollama", {}, True),
        ("lmstudio", {}, False),
        ("openai", {}, False),
    ],
)
def test_only_a_fork_to_vllm_carries_its_flags(
    fake: FakeOpenAI,
    client: openai.OpenAI,
    dialect: str,
    flags: dict[str, bool],
    continued: bool,
) -> None:
    fake.dialect = Dialect(name=dialect)
    kind = server_kind([dialect_model_entry(fake.dialect, "m")])
    extra = prefix_fields(kind)
    assert extra == flags

    stream, _ = start_reply(client, ChatSettings(model="m"), FORK, extra_body=extra)
    text = "".join(stream)

    body = fake.last_chat_body or {}
    assert {name: body[name] for name in VLLM_FLAGS if name in body} == flags
    assert stream.request == body  # what the Request view shows is what was sent
    assert (text == CONTINUATION) == continued


def test_without_its_flags_vllm_answers_a_fork_anew(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.dialect = Dialect(name="vllm")
    stream, _ = start_reply(client, ChatSettings(model="m"), FORK)
    assert "".join(stream) == "Echo: Say hi"
