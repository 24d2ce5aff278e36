"""Structured output against a real server (llama.cpp's ``llama-server`` in mind): the
request as Chat Lab sends it, the reply checked as the page checks it. Written to be run
with ``make test-real``; never run in CI (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import openai
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.messages import ChatSettings
from chatlab.provider.client import make_client, start_reply
from chatlab.structured import EXAMPLES, ResponseFormat, check_reply
from tests.real.conftest import API_KEY, BASE_URL

# Room for a small schema's JSON; a CPU model writes a few tokens a second.
SETTINGS = ChatSettings(model="", temperature=0.0, max_tokens=200)
QUESTION = [{"role": "user", "content": "Review: 'The tea was lovely and cheap.' Rate it."}]


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key=API_KEY, base_url=BASE_URL, key_source="environment")
    with make_client(endpoint, Timeouts(connect=5.0, read=120.0)) as made:
        yield made


@pytest.mark.parametrize(
    "response_format",
    [ResponseFormat("json_schema", EXAMPLES["Sentiment"]), ResponseFormat("json_object")],
    ids=["json_schema", "json_object"],
)
def test_the_server_replies_with_json_in_the_format_asked(
    client: openai.OpenAI, model_id: str, response_format: ResponseFormat
) -> None:
    settings = replace(SETTINGS, model=model_id, response_format=response_format)
    stream, learnt = start_reply(client, settings, QUESTION)
    text = "".join(stream)
    refused = learnt.drops("response_format", {"type": response_format.type})
    assert not refused, "the server refused response_format"
    sent = stream.request or {}
    assert sent["response_format"]["type"] == response_format.type
    checked = check_reply(text, response_format, stream.finish_reason)
    assert checked.valid, f"{checked.summary}: {[str(v) for v in checked.violations]}\n{text}"


def test_a_reply_cut_at_max_tokens_is_incomplete_json(client: openai.OpenAI, model_id: str) -> None:
    asked = ResponseFormat("json_schema", EXAMPLES["Person"])
    settings = replace(SETTINGS, model=model_id, max_tokens=5, response_format=asked)
    stream, _ = start_reply(client, settings, [{"role": "user", "content": "Describe Ada."}])
    text = "".join(stream)
    assert stream.finish_reason == "length"
    assert check_reply(text, asked, stream.finish_reason).problem.startswith(
        "The JSON is incomplete"
    )
