"""Tools: definitions checked as schemas, calls assembled from deltas split anywhere (also
over real HTTP from the fake server), arguments checked, and the request that answers them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from chatlab.chat import markdown_document, turns
from chatlab.config import Endpoint, Timeouts
from chatlab.conversation import Conversation
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, ChatSettings, Status
from chatlab.provider import python_snippet
from chatlab.provider.client import Quirks, make_client, request_options, start_reply
from chatlab.provider.tool_calls import ToolCallAssembler
from chatlab.storage import Store
from chatlab.tokens import estimate_prompt_tokens
from chatlab.tools import (
    Tool,
    ToolCall,
    ToolChoice,
    ToolError,
    ToolSet,
    check_arguments,
    make_tool,
    tool_calls_from,
    tool_calls_json,
    tool_from,
    tool_json,
)
from chatlab.transfer import EXPORT_FORMAT, EXPORT_VERSION, InvalidDocument, parse_document
from testing.fake_openai import FakeOpenAI, FakeToolCall, tool_call_chunks, tool_reply

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    },
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = make_tool("get_weather", "The forecast.", json.dumps(WEATHER_SCHEMA), '{"temp": 21}')
TOOLS = ToolSet((WEATHER,))
SETTINGS = ChatSettings(model="gpt-4o-mini", max_tokens=50, system_prompt="Be brief.")


# -- definitions -----------------------------------------------------------------------------


def test_a_tool_is_sent_as_a_function_with_its_schema() -> None:
    assert WEATHER.spec() == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": WEATHER_SCHEMA,
            "description": "The forecast.",
        },
    }


@pytest.mark.parametrize(
    ("name", "parameters", "said"),
    [
        ("get weather", "{}", "its name"),
        ("", "{}", "its name"),
        ("x" * 65, "{}", "its name"),
        ("ok", "{not json", "not JSON"),
        ("ok", "[1, 2]", "JSON Schema object"),
        ("ok", '{"type": "string"}', "describe an object"),
        ("ok", '{"type": "object", "properties": {"a": {"type": "strung"}}}', "$.properties"),
        ("ok", '{"type": "object", "required": "city"}', "not a valid JSON Schema"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_problem(
    name: str, parameters: str, said: str
) -> None:
    with pytest.raises(ToolError) as caught:
        make_tool(name, "", parameters)
    assert said in caught.value.problem


def test_blank_parameters_mean_an_object_with_no_properties() -> None:
    assert make_tool("now", "", "  ").parameters == {"type": "object", "properties": {}}


def test_tool_choice_as_the_request_carries_it() -> None:
    assert ToolSet().request_fields() == {}  # no tools: neither field is sent
    assert TOOLS.request_fields()["tool_choice"] == "auto"
    required = ToolSet((WEATHER,), ToolChoice("required")).request_fields()
    assert required["tool_choice"] == "required"
    named = ToolSet((WEATHER,), ToolChoice("named", "get_weather")).request_fields()
    assert named["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    gone = ToolSet((WEATHER,), ToolChoice("named", "deleted")).request_fields()
    assert gone["tool_choice"] == "auto"


def test_a_tool_round_trips_through_json_and_is_checked_again() -> None:
    assert tool_from(json.loads(json.dumps(tool_json(WEATHER)))) == WEATHER
    with pytest.raises(ToolError):
        tool_from({"name": "bad name", "parameters": {}})
    with pytest.raises(ToolError):
        tool_from(["not", "a", "tool"])


# -- arguments checked -----------------------------------------------------------------------


def test_good_arguments_are_pretty_printed() -> None:
    check = check_arguments(ToolCall("c", "get_weather", '{"city":"Oslo"}'), TOOLS)
    assert check.ok
    assert check.pretty == '{\n  "city": "Oslo"\n}'


def test_violations_name_their_json_paths() -> None:
    arguments = '{"days": [1, 0, "x"], "wind": true}'
    check = check_arguments(ToolCall("c", "get_weather", arguments), TOOLS)
    joined = "\n".join(check.problems)
    assert "$: 'city' is a required property" in joined
    assert "$.days[1]: 0 is less than the minimum of 1" in joined
    assert "$.days[2]: 'x' is not of type 'integer'" in joined
    assert "Additional properties are not allowed ('wind'" in joined


def test_arguments_that_are_not_json_are_kept_as_received() -> None:
    check = check_arguments(ToolCall("c", "get_weather", '{"city": "Os'), TOOLS)
    assert check.pretty == '{"city": "Os'
    assert check.problems[0].startswith("The arguments are not valid JSON")


def test_an_unknown_tool_is_said() -> None:
    check = check_arguments(ToolCall("c", "launch_rockets", "{}"), TOOLS)
    assert check.problems == ("No tool named 'launch_rockets' is defined.",)


# -- assembled from deltas -------------------------------------------------------------------

ARGUMENTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    arguments=st.lists(ARGUMENTS, min_size=1, max_size=4),
    splits=st.lists(st.integers(min_value=1, max_value=9), min_size=4, max_size=4),
    interleave=st.booleans(),
)
def test_calls_are_assembled_by_index_however_the_arguments_are_split(
    arguments: list[str], splits: list[int], interleave: bool
) -> None:
    calls = [FakeToolCall(f"tool_{i}", text, split=splits[i]) for i, text in enumerate(arguments)]
    assembler = ToolCallAssembler()
    for deltas in tool_call_chunks(calls, interleave=interleave):
        assembler.feed(json.loads(json.dumps(deltas)))  # as the wire carries them
    assert assembler.calls() == tuple(
        ToolCall(f"call_{i}", f"tool_{i}", text) for i, text in enumerate(arguments)
    )
    assert assembler.notices() == ()


def test_every_split_point_of_one_call_gives_the_same_call() -> None:
    text = '{"city": "Zürich", "days": [1, 2]}'
    for cut in range(len(text) + 1):
        call = FakeToolCall("get_weather", text, pieces=[text[:cut], text[cut:]])
        assembler = ToolCallAssembler()
        for deltas in tool_call_chunks([call], interleave=False):
            assembler.feed(deltas)
        assert assembler.calls() == (ToolCall("call_0", "get_weather", text),)


def test_thousands_of_calls_keep_the_first_ones_and_say_so() -> None:
    assembler = ToolCallAssembler(max_calls=64)
    calls = [FakeToolCall("f", "{}") for _ in range(5_000)]
    for deltas in tool_call_chunks(calls, interleave=False):
        assembler.feed(deltas)
    assert assembler.count == 64
    assert "4936 more were left out" in assembler.notices()[0]


def test_huge_arguments_are_cut_at_the_bound_and_said() -> None:
    assembler = ToolCallAssembler(max_argument_chars=1_000)
    for deltas in tool_call_chunks([FakeToolCall("f", "x" * 50_000, split=333)], interleave=False):
        assembler.feed(deltas)
    assert len(assembler.calls()[0].arguments) == 1_000
    assert "over 1,000 characters" in assembler.notices()[0]


@pytest.mark.parametrize(
    "junk",
    [None, "calls", [None], [{"index": -1}], [{"index": 10**9}], [{"function": 3}], [{"id": 5}]],
)
def test_junk_deltas_are_ignored(junk: object) -> None:
    assembler = ToolCallAssembler()
    assembler.feed(junk)
    assert all(call.name == "" and call.arguments == "" for call in assembler.calls())


# -- over real HTTP --------------------------------------------------------------------------


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, Timeouts(connect=5.0, read=5.0)) as made:
        yield made


def test_the_fake_streams_tool_calls_in_the_wire_format(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(
        tool_reply(
            FakeToolCall("get_weather", '{"city": "Oslo"}', id="call_a", split=4),
            FakeToolCall("get_weather", '{"city": "Rome"}', id="call_b", split=5),
            text="Checking.",
        )
    )
    body = {"tools": [WEATHER.spec()], "tool_choice": "auto"}
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "hi"}], extra_body=body)
    assert "".join(stream) == "Checking."
    outcome = stream.outcome()
    assert outcome.finish_reason == "tool_calls"
    assert outcome.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city": "Oslo"}'),
        ToolCall("call_b", "get_weather", '{"city": "Rome"}'),
    )
    sent = fake.last_chat_body
    assert sent is not None and sent["tools"] == [WEATHER.spec()]
    events = [data for _, data in fake.chat_requests[-1].sent]
    chunks = [json.loads(data) for data in events[:-1]]
    for chunk in chunks:  # each one as openai-python's own type reads it, checked
        ChatCompletionChunk.model_validate(chunk, strict=True)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    first = next(d["tool_calls"][0] for d in deltas if "tool_calls" in d)
    assert first == {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    pieces = [d["tool_calls"][0] for d in deltas if "tool_calls" in d][1:]
    assert pieces[0] == {"index": 0, "function": {"arguments": '{"ci'}}
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls"
    calls = sum("tool_calls" in d for d in deltas)
    content = sum(bool(d.get("content")) for d in deltas)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == calls + content  # one token a delta
    assert events[-1] == "[DONE]"


def test_a_reply_of_calls_alone_is_not_an_empty_reply(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(tool_reply(FakeToolCall("get_weather", "{}")))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "hi"}])
    assert "".join(stream) == ""  # no ChatError: the calls are the answer
    assert stream.outcome().tool_calls == (ToolCall("call_0", "get_weather", "{}"),)


def test_a_non_streamed_reply_brings_its_calls_too(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(tool_reply(FakeToolCall("get_weather", '{"city":"Oslo"}'), fault="json"))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "hi"}])
    "".join(stream)
    assert stream.outcome().tool_calls == (ToolCall("call_0", "get_weather", '{"city":"Oslo"}'),)


def test_a_flood_of_calls_keeps_the_text_and_the_first_calls(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    calls = [FakeToolCall("f", '{"n": 1}', split=100) for _ in range(2_000)]
    fake.enqueue(tool_reply(*calls, text="Here goes."))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "hi"}])
    assert "".join(stream) == "Here goes."
    outcome = stream.outcome()
    assert len(outcome.tool_calls) == 64
    assert any("1936 more were left out" in notice for notice in outcome.notices)


# -- the conversation goes on ----------------------------------------------------------------


def _called(conversation: Conversation, *calls: ToolCall) -> ChatMessage:
    plan = turns.plan_send(conversation, "Weather in Oslo and Rome?", SETTINGS)
    assert plan is not None
    turns.begin(conversation, plan)
    assert turns.settle(
        conversation,
        plan,
        "",
        finish_reason="tool_calls",
        failed=False,
        stats=None,
        tool_calls=calls,
    )
    return plan.reply


def test_results_are_sent_after_the_calls_in_order() -> None:
    conversation = Conversation()
    a, b = ToolCall("call_a", "get_weather", '{"city":"Oslo"}'), ToolCall("call_b", "x", "{")
    reply = _called(conversation, a, b)
    assert reply.status == Status.COMPLETE and reply.tool_calls == (a, b)
    plan = turns.plan_tool_results(conversation, reply.id, ["21 C", "no such tool"], SETTINGS)
    assert plan is not None
    assert plan.request[1:] == [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [a.wire(), b.wire()]},
        {"role": "tool", "tool_call_id": "call_a", "content": "21 C"},
        {"role": "tool", "tool_call_id": "call_b", "content": "no such tool"},
    ]
    assert reply.tool_calls[0].result is None  # planning changes nothing
    turns.begin(conversation, plan)
    assert [c.result for c in reply.tool_calls] == ["21 C", "no such tool"]
    assert plan.reply.parent_id == reply.id
    turns.settle(conversation, plan, "Oslo 21 C.", finish_reason="stop", failed=False, stats=None)
    follow = turns.plan_send(conversation, "And tomorrow?", SETTINGS)
    assert follow is not None
    assert [m["role"] for m in follow.request] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
    ]


def test_retry_after_the_results_asks_again_with_them() -> None:
    conversation = Conversation()
    reply = _called(conversation, ToolCall("call_a", "get_weather", "{}"))
    plan = turns.plan_tool_results(conversation, reply.id, ["sunny"], SETTINGS)
    assert plan is not None
    turns.begin(conversation, plan)
    turns.settle(conversation, plan, "Sunny.", finish_reason="stop", failed=False, stats=None)
    again = turns.plan_regenerate(conversation, plan.reply.id, SETTINGS)
    assert again is not None and again.request[-1]["role"] == "tool"


def test_unanswered_calls_are_not_sent() -> None:
    conversation = Conversation()
    _called(conversation, ToolCall("call_a", "get_weather", "{}"))
    plan = turns.plan_send(conversation, "Never mind.", SETTINGS)
    assert plan is not None
    assert plan.request[1:] == [{"role": "user", "content": "Never mind."}]


def test_results_must_match_the_calls() -> None:
    conversation = Conversation()
    reply = _called(conversation, ToolCall("call_a", "get_weather", "{}"))
    assert turns.plan_tool_results(conversation, reply.id, [], SETTINGS) is None
    assert turns.plan_tool_results(conversation, "nope", ["x"], SETTINGS) is None


def test_calls_round_trip_through_json_within_bounds() -> None:
    calls = (ToolCall("a", "f", "{}", "ok"), ToolCall("b", "g", "[", None))
    assert tool_calls_from(json.loads(json.dumps(tool_calls_json(calls)))) == calls
    assert tool_calls_json(()) is None
    assert tool_calls_from([{"id": 1}, "x", {"id": "c", "name": "f", "arguments": "{}"}]) == (
        ToolCall("c", "f", "{}"),
    )
    assert len(tool_calls_from([{"id": "c", "name": "f", "arguments": ""}] * 1000)) == 64


def test_calls_and_results_count_in_the_context_estimate() -> None:
    bare: list[dict[str, Any]] = [{"role": "assistant", "content": None}]
    call = ToolCall("call_a", "get_weather", json.dumps({"city": "Oslo " * 200}), "sunny " * 100)
    with_call: list[dict[str, Any]] = [
        {"role": "assistant", "content": None, "tool_calls": [call.wire()]},
        {"role": "tool", "tool_call_id": "call_a", "content": call.result},
    ]
    assert estimate_prompt_tokens(with_call) > estimate_prompt_tokens(bare) + 250


# -- stored, exported, imported --------------------------------------------------------------


def test_calls_are_stored_exported_and_imported_whole(tmp_path: Path) -> None:
    calls = (
        ToolCall("call_a", "get_weather", '{"city": "Oslo"}', "21 C"),
        ToolCall("call_b", "launch_rockets", "{not json", None),
    )
    with Store.open(f"sqlite:///{tmp_path / 'tools.db'}") as store:
        conversation_id = store.create_conversation("alice")
        question = ChatMessage("user", "Weather?")
        reply = ChatMessage("assistant", "Checking.", parent_id=question.id, tool_calls=calls)
        for message in (question, reply):
            store.save_message("alice", conversation_id, message)
        loaded = store.load_messages("alice", conversation_id)
        assert loaded is not None and loaded[-1].tool_calls == calls
        exported = store.export_json("alice", conversation_id)
        assert exported is not None
        assert exported["messages"][-1]["tool_calls"] == tool_calls_json(calls)
        assert "tool_calls" not in exported["messages"][0]  # a message with none says nothing
        copied = store.import_json("alice", json.loads(json.dumps(exported)))
        reloaded = store.load_messages("alice", copied)
    assert reloaded is not None and reloaded[-1].tool_calls == calls


@pytest.mark.parametrize(
    ("tool_calls", "said"),
    [
        ("calls", "tool_calls must be a list"),
        ([{"id": "a", "name": "f"}], "tool_calls[0].arguments must be"),
        ([{"id": "a", "name": "f", "arguments": "{}", "result": 5}], "tool_calls[0].result"),
        ([{"id": "a", "name": "f", "arguments": "x" * 100_001}], "longer than a tool call"),
        ([{"id": "a", "name": "f", "arguments": "{}"}] * 65, "at most 64 calls"),
    ],
)
def test_an_import_with_bad_calls_is_refused_naming_the_field(
    tool_calls: object, said: str
) -> None:
    document = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "title": "t",
        "messages": [{"id": "m1", "role": "assistant", "content": "", "tool_calls": tool_calls}],
    }
    with pytest.raises(InvalidDocument) as caught:
        parse_document(document)
    assert said in caught.value.problem


def test_tools_are_kept_per_owner(tmp_path: Path) -> None:
    other = make_tool("now", "", "")
    with Store.open(f"sqlite:///{tmp_path / 'tools.db'}") as store:
        store.save_tool("alice", WEATHER)
        store.save_tool("alice", other)
        store.save_tool("bob", other)
        changed = make_tool("get_weather", "Changed.", "{}")
        store.save_tool("alice", changed)  # same name: replaced
        assert store.list_tools("alice") == [changed, other]
        assert store.delete_tool("alice", "now") and not store.delete_tool("alice", "now")
        assert store.list_tools("alice") == [changed]
        assert store.list_tools("bob") == [other]
        for n in range(127):
            store.save_tool("carol", make_tool(f"t{n}", "", ""))
        store.save_tool("carol", make_tool("t128", "", ""))
        with pytest.raises(ToolError):
            store.save_tool("carol", make_tool("t129", "", ""))


# -- as Python ---------------------------------------------------------------------------------


def test_the_snippet_sends_the_tools_and_results_and_prints_the_calls(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    conversation = Conversation()
    reply = _called(conversation, ToolCall("call_a", "get_weather", '{"city": "Oslo"}'))
    plan = turns.plan_tool_results(conversation, reply.id, ['{"temp": 21} "quoted"'], SETTINGS)
    assert plan is not None
    fields = ToolSet((WEATHER,), ToolChoice("required")).request_fields()
    body = request_options(SETTINGS, plan.request, Quirks(), fields)
    fake.enqueue(
        tool_reply(FakeToolCall("get_weather", '{"city": "Rome"}', split=3), text="Also Rome.")
    )
    script = tmp_path / "snippet.py"
    script.write_text(python_snippet(body, fake.base_url), encoding="utf-8")
    env = {**os.environ, "OPENAI_API_KEY": "sk-dummy", "PYTHONIOENCODING": "utf-8"}
    ran = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert fake.last_chat_body == body
    assert ran.stdout == 'Also Rome.\n[tool call 0: get_weather] {"city": "Rome"}\n'


def test_the_markdown_export_shows_each_call_and_its_result() -> None:
    call = ToolCall("call_a", "get_*weather*", '{"city": "```Oslo"}', "sunny")
    document = markdown_document("t", [ChatMessage("assistant", "", tool_calls=(call,))])
    assert plain("get_*weather*") in document
    assert '````\n{"city": "```Oslo"}\n````' in document
    assert "*Result:*\n\n```\nsunny\n```" in document


def test_all_calls_together_are_bounded_too() -> None:
    assembler = ToolCallAssembler(max_argument_chars=1_000, max_total_chars=2_500)
    calls = [FakeToolCall("f", "y" * 1_000, split=300) for _ in range(4)]
    for deltas in tool_call_chunks(calls, interleave=True):
        assembler.feed(deltas)
    assert [len(c.arguments) for c in assembler.calls()] == [700, 600, 600, 600]
    assert assembler.characters == 2_500
    assert "over 2,500 characters in all" in assembler.notices()[-1]


def test_a_schema_referring_elsewhere_is_refused_and_never_fetched(fake: FakeOpenAI) -> None:
    remote = {"type": "object", "properties": {"a": {"$ref": f"{fake.base_url}/schema.json"}}}
    with pytest.raises(ToolError) as caught:
        make_tool("f", "", json.dumps(remote))
    assert "refers outside itself" in caught.value.problem
    tool = Tool("f", "", remote)  # as if stored by an older version, or by hand
    check = check_arguments(ToolCall("c", "f", '{"a": 1}'), ToolSet((tool,)))
    assert check.problems[0].startswith("The tool's schema could not be applied")
    assert fake.requests == []  # nothing fetched


def test_references_within_the_schema_still_apply() -> None:
    schema = {
        "type": "object",
        "$defs": {"city": {"type": "string", "minLength": 2}},
        "properties": {"city": {"$ref": "#/$defs/city"}},
    }
    tool = make_tool("f", "", json.dumps(schema))
    check = check_arguments(ToolCall("c", "f", '{"city": "X"}'), ToolSet((tool,)))
    assert check.problems == ("$.city: 'X' is too short",)


def test_the_tools_count_in_the_prompt_estimate() -> None:
    assert ToolSet().prompt_tokens() == 0
    assert TOOLS.prompt_tokens() > 20


def test_a_damaged_calls_column_opens_the_message_as_failed_with_a_notice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tools.db'}"
    with Store.open(url) as store:
        conversation_id = store.create_conversation("alice")
        reply = ChatMessage("assistant", "Kept text.", tool_calls=(ToolCall("a", "f", "{}"),))
        store.save_message("alice", conversation_id, reply)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE messages SET tool_calls = :bad"), {"bad": '[{"id": 5}]'})
    engine.dispose()
    with Store.open(url) as store:
        loaded = store.load_messages("alice", conversation_id)
    assert loaded is not None
    (message,) = loaded
    assert message.content == "Kept text." and message.status == Status.FAILED
    assert message.tool_calls == ()
    assert "tool_calls[0].id must be" in message.notices[-1]
