"""Structured output: a schema checked before sending (with where), a reply checked after
(violations by JSON path, incomplete or not JSON), the request body for each format, and
the learnt fallback when a server refuses ``response_format`` (the fake, over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import openai
import pytest

from chatlab import transfer
from chatlab.config import Endpoint, Timeouts
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Usage
from chatlab.params import from_widgets, schema_key, widget_values
from chatlab.provider.client import (
    Quirks,
    make_client,
    param_ignored,
    request_options,
    start_reply,
)
from chatlab.provider.snippet import python_snippet
from chatlab.storage.rows import message_json
from chatlab.structured import (
    DEFAULT_SCHEMA,
    EXAMPLES,
    MAX_SCHEMA_CHARS,
    MAX_VIOLATIONS,
    ResponseFormat,
    SchemaProblem,
    Violation,
    check_reply,
    check_schema,
    schema_problem,
)
from chatlab.transfer import (
    EXPORT_FORMAT,
    MAX_IMPORT_MESSAGES,
    InvalidDocument,
    settings_from,
    settings_json,
)
from testing.fake_openai import FakeOpenAI, Reply, StructuredOutput, sample_from_schema

PRICES = json.dumps(
    {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
                    "required": ["name", "price"],
                },
            }
        },
        "required": ["items"],
    }
)
SCHEMA = ResponseFormat("json_schema", PRICES)
OBJECT = ResponseFormat("json_object")
SETTINGS = ChatSettings(model="gpt-4o-mini", max_tokens=50)
MESSAGES = [{"role": "user", "content": "list prices"}]
STATS = ReplyStats("m", Usage(3, 4), "stop", 0.1, 0.2)


# -- the schema, checked before sending ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("", "", "it is empty"),
        ('{"type": "object",', "", "it is not JSON (Expecting property name"),
        ("[1, 2]", "$", "a JSON Schema is an object"),
        ('{"type": "nmber"}', "$.type", "'nmber' is not valid under any of the given schemas"),
        (
            '{"properties": {"price": {"type": "number", "minimum": "0"}}}',
            "$.properties.price.minimum",
            "'0' is not of type 'number'",
        ),
        (
            '{"properties": {"a": {"$ref": "https://example.com/s.json"}}}',
            "$.properties.a.$ref",
            "only references inside the schema",
        ),
        ("x" * (MAX_SCHEMA_CHARS + 1), "", "at most 20,000"),
        (
            '{"properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}',
            "$.properties.code.pattern",
            "repeats a group that itself repeats",
        ),
        (
            '{"patternProperties": {"' + "x" * 501 + '": {}}}',
            "$.patternProperties." + "x" * 501,
            "a regex of 501 characters; at most 500",
        ),
    ],
)
def test_a_bad_schema_is_refused_saying_what_and_where(text: str, where: str, words: str) -> None:
    with pytest.raises(SchemaProblem) as caught:
        check_schema(text)
    assert caught.value.where == where
    assert words in caught.value.message
    if where:
        assert f"at {where}:" in caught.value.message
    assert schema_problem(ResponseFormat("json_schema", text)) is not None


def test_good_schemas_pass_and_only_json_schema_has_one_to_check() -> None:
    for text in EXAMPLES.values():
        assert isinstance(check_schema(text), dict)
    assert schema_problem(SCHEMA) is None
    assert schema_problem(None) is None
    assert schema_problem(ResponseFormat("json_object")) is None
    assert schema_problem(ResponseFormat("json_schema", "{")) is not None


# -- a reply, checked after ---------------------------------------------------------------


def test_violations_are_listed_with_their_json_paths() -> None:
    reply = '{"items": [{"name": "tea", "price": 2}, {"name": "jam"}, {"name": 5, "price": "x"}]}'
    checked = check_reply(reply, SCHEMA, "stop")
    assert not checked.valid and not checked.problem
    assert [str(v) for v in checked.violations] == [
        "$.items[1]: 'price' is a required property",
        "$.items[2].name: 5 is not of type 'string'",
        "$.items[2].price: 'x' is not of type 'number'",
    ]
    assert checked.summary == "Valid JSON, but it does not match the schema: 3 violations"
    assert json.loads(checked.pretty) == json.loads(reply)
    assert checked.pretty.startswith('{\n  "items": [')


def test_a_matching_reply_is_valid_and_pretty_printed() -> None:
    checked = check_reply('{"items":[{"name":"tea","price":2.5}]}', SCHEMA)
    assert checked.valid and checked.violations == ()
    assert checked.summary == "Valid JSON that matches the schema."
    assert '"price": 2.5' in checked.pretty


def test_a_reply_cut_at_max_tokens_is_incomplete_json() -> None:
    checked = check_reply('{"items": [{"name": "te', SCHEMA, "length")
    assert not checked.valid and checked.pretty == ""
    assert checked.problem.startswith("The JSON is incomplete: the reply was cut off")
    assert "finish_reason length" in checked.problem


def test_a_reply_that_is_not_json_says_so() -> None:
    found = check_reply("Sure! Here are the prices.", SCHEMA, "stop")
    assert found.problem == "The reply is not JSON (Expecting value, line 1 column 1)."
    fenced = check_reply('```json\n{"items": []}\n```', SCHEMA, "stop")
    assert fenced.problem.startswith("The reply is not JSON")
    assert check_reply("", OBJECT).problem == "The reply is not JSON: it is empty."


def test_a_json_object_reply_must_be_an_object() -> None:
    assert check_reply('{"a": 1}', OBJECT).summary == "Valid JSON."
    not_object = check_reply("[1]", OBJECT)
    assert not_object.violations == (Violation("$", "is not an object"),)
    assert not_object.summary == "Valid JSON, but not an object."


def test_violations_come_in_document_order() -> None:
    listed = ResponseFormat("json_schema", '{"items": {"type": "number"}}')
    reply = json.dumps(["x"] * 12)
    paths = [v.path for v in check_reply(reply, listed).violations]
    assert paths == [f"$[{i}]" for i in range(12)]  # $[2] before $[10]


def test_many_violations_are_capped_and_counted() -> None:
    many = json.dumps({"items": [{"name": 1, "price": "x"}] * 40})
    checked = check_reply(many, SCHEMA)
    assert len(checked.violations) == MAX_VIOLATIONS and checked.more == 80 - MAX_VIOLATIONS
    assert checked.summary.endswith("80 violations")


# -- the request -----------------------------------------------------------------------------


def test_the_request_body_for_each_format() -> None:
    def sent(response_format: ResponseFormat | None) -> object:
        body = request_options(replace(SETTINGS, response_format=response_format), [], Quirks())
        return body.get("response_format", "absent")

    assert sent(None) == "absent"
    assert sent(OBJECT) == {"type": "json_object"}
    titled = ResponseFormat("json_schema", DEFAULT_SCHEMA)
    assert sent(titled) == {
        "type": "json_schema",
        "json_schema": {
            "name": "shopping_list",  # the schema's title
            "schema": json.loads(DEFAULT_SCHEMA),
            "strict": True,
        },
    }
    untitled = sent(SCHEMA)
    assert isinstance(untitled, dict) and untitled["json_schema"]["name"] == "reply"
    dropped = request_options(
        replace(SETTINGS, response_format=OBJECT),
        [],
        Quirks(dropped=frozenset({"response_format"})),
    )
    assert "response_format" not in dropped


def test_the_snippet_passes_the_response_format() -> None:
    body = request_options(replace(SETTINGS, response_format=OBJECT), MESSAGES, Quirks())
    snippet = python_snippet(body, None)
    assert "response_format={'type': 'json_object'}," in snippet
    compile(snippet, "snippet", "exec")


def test_the_sidebar_controls_read_back_as_the_format() -> None:
    for response_format in (None, OBJECT, SCHEMA):
        shown = widget_values(ChatSettings("m", response_format=response_format))
        assert from_widgets(shown)["response_format"] == response_format
    shown = widget_values(ChatSettings("m"))
    assert (shown["response_format"], shown[schema_key("response_format")]) == (
        "text",
        DEFAULT_SCHEMA,
    )
    assert from_widgets({**shown, "response_format": "json_schema"})["response_format"] == (
        ResponseFormat("json_schema", DEFAULT_SCHEMA)
    )


def test_the_format_is_stored_and_imported_through_its_declaration() -> None:
    settings = ChatSettings("m", response_format=SCHEMA)
    stored = settings_json(settings)
    assert stored is not None
    assert stored["response_format"] == {"type": "json_schema", "schema": PRICES}
    assert settings_from(json.loads(json.dumps(stored))) == settings
    assert settings_from(
        {**stored, "response_format": {"type": "json_object"}}
    ).response_format == (OBJECT)
    for bad in ({"type": "xml"}, "json_object", {"type": "json_schema", "schema": {"a": 1}}):
        with pytest.raises(InvalidDocument, match=r"settings\.response_format must be an object"):
            settings_from({**stored, "response_format": bad})


# -- the fake server and the fallback, over HTTP ---------------------------------------------


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, Timeouts(connect=1.0, read=1.0)) as made:
        yield made


def test_the_fake_replies_with_json_that_matches_the_schema(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    for text in EXAMPLES.values():
        asked = ResponseFormat("json_schema", text)
        stream, _ = start_reply(client, replace(SETTINGS, response_format=asked), MESSAGES)
        checked = check_reply("".join(stream), asked, stream.finish_reason)
        assert checked.valid, checked
    stream, _ = start_reply(client, replace(SETTINGS, response_format=OBJECT), MESSAGES)
    assert json.loads("".join(stream)) == {"echo": "list prices"}
    stream, _ = start_reply(client, SETTINGS, MESSAGES)
    assert "".join(stream) == "Echo: list prices"  # no format: the echo


def test_the_fake_can_reply_off_schema(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.structured = StructuredOutput(reply={"items": [{"name": "tea", "price": "x"}]})
    stream, _ = start_reply(client, replace(SETTINGS, response_format=SCHEMA), MESSAGES)
    checked = check_reply("".join(stream), SCHEMA)
    assert [str(v) for v in checked.violations] == ["$.items[0].price: 'x' is not of type 'number'"]


def test_sample_from_schema_follows_refs_enums_and_bounds() -> None:
    schema = {
        "$defs": {"level": {"type": "integer", "minimum": 3, "maximum": 5}},
        "type": "object",
        "properties": {
            "mood": {"enum": ["calm", "busy"]},
            "level": {"$ref": "#/$defs/level"},
            "share": {"type": "number", "maximum": 0.5},
            "tags": {"type": "array", "items": {"type": "string"}},
            "maybe": {"type": ["null", "boolean"]},
        },
    }
    assert sample_from_schema(schema) == {
        "mood": "calm",
        "level": 3,
        "share": 0.5,
        "tags": ["text"],
        "maybe": True,
    }


@pytest.mark.parametrize(
    ("refuse", "response_format"),
    [("openai", OBJECT), ("lmstudio", OBJECT), ("llamacpp", SCHEMA), ("openai", SCHEMA)],
)
def test_a_refused_format_is_dropped_for_the_model_and_the_reply_says_so(
    fake: FakeOpenAI, client: openai.OpenAI, refuse: str, response_format: ResponseFormat
) -> None:
    fake.structured = StructuredOutput(refuse=refuse)
    fake.enqueue(Reply(text="plain words"))
    settings = replace(SETTINGS, response_format=response_format)
    stream, learnt = start_reply(client, settings, MESSAGES)
    assert "".join(stream) == "plain words"
    first, retried = [r.body for r in fake.chat_requests]
    assert first["response_format"]["type"] == response_format.type
    assert "response_format" not in retried
    assert learnt == Quirks(dropped=frozenset({f"response_format:{response_format.type}"}))
    assert stream.notices == (param_ignored("response_format"),)
    assert "Response format setting has no effect" in stream.notices[0]
    fake.enqueue(Reply(text="again"))
    start_reply(client, settings, MESSAGES, quirks=learnt)
    assert len(fake.chat_requests) == 3  # learnt: right the first time


def test_a_type_refused_leaves_the_other_type_sent(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.structured = StructuredOutput(refuse="lmstudio")  # json_object refused, as LM Studio
    _, learnt = start_reply(client, replace(SETTINGS, response_format=OBJECT), MESSAGES)
    assert learnt.drops("response_format", {"type": "json_object"})
    stream, again = start_reply(
        client, replace(SETTINGS, response_format=SCHEMA), MESSAGES, quirks=learnt
    )
    assert check_reply("".join(stream), SCHEMA).valid and stream.notices == ()
    assert fake.last_chat_body is not None
    assert fake.last_chat_body["response_format"]["type"] == "json_schema"
    assert again == learnt and len(fake.chat_requests) == 3  # refused, retried, then taken


def test_a_refusal_of_another_type_is_not_learnt(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.structured = StructuredOutput(refuse="lmstudio")  # refuses json_object only
    stream, learnt = start_reply(client, replace(SETTINGS, response_format=SCHEMA), MESSAGES)
    assert check_reply("".join(stream), SCHEMA).valid
    assert learnt == Quirks() and len(fake.chat_requests) == 1


def test_a_schema_error_from_the_server_is_shown_not_learnt(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    message = (
        "Invalid schema for response_format 'reply': In context=(), 'additionalProperties' "
        "is required to be supplied and to be false."
    )
    error = {"message": message, "type": "invalid_request_error", "param": "response_format"}
    fake.enqueue(Reply(status=400, error={**error, "code": None}))
    with pytest.raises(Exception, match="additionalProperties"):
        start_reply(client, replace(SETTINGS, response_format=SCHEMA), MESSAGES)
    assert len(fake.chat_requests) == 1


def test_an_export_of_the_most_messages_with_a_format_each_still_imports() -> None:
    """The import's shape limit counts the response format's object (its schema is text),
    with the requests kept as ``fit_requests`` keeps them (their whole allowance here)."""
    settings = ChatSettings("m", stop=("END",), response_format=SCHEMA)
    reply = ChatMessage("assistant", '{"items": []}', settings=settings, stats=STATS)
    reply.notices = ("a notice",)
    reply.request = {"messages": [{"role": "user", "content": "x"}] * 23}  # 25 containers
    one = message_json(reply, datetime(2026, 1, 1, tzinfo=UTC))
    messages = [{**one, "id": f"m{i}", "parent_id": None} for i in range(MAX_IMPORT_MESSAGES)]
    transfer.fit_requests(messages)
    assert all(message["request"] is not None for message in messages)
    text = json.dumps({"format": EXPORT_FORMAT, "version": 1, "messages": messages})
    transfer._check_shape(text)  # raises InvalidDocument when it would be refused
