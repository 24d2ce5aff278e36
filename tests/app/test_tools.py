"""Tools on the chat page under AppTest: a tool defined in the sidebar is offered, the
reply's call shows as a card, is answered, and the next request carries the result."""

from __future__ import annotations

import json

import streamlit as st
from streamlit.testing.v1 import AppTest

from chatlab.markdown import plain
from testing.fake_openai import FakeOpenAI, FakeToolCall, Reply, tool_reply
from tests.app.conftest import AppFactory, chat_state, click, flushed, send, signed_in

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def define(at: AppTest, name: str, schema: object, canned: str = "") -> AppTest:
    at.text_input(key="tool_name").input(name)
    at.text_area(key="tool_parameters").input(json.dumps(schema))
    at.text_area(key="tool_canned").input(canned)
    (save,) = [b for b in at.button if b.label == "Save tool"]
    save.click().run()
    return at


def test_a_tool_call_is_answered_and_the_next_request_carries_the_result(
    app: AppTest, fake: FakeOpenAI
) -> None:
    define(app, "get_weather", SCHEMA, canned='{"temp": 21}')
    app.selectbox(key="tool_choice").set_value("tool:get_weather").run()
    fake.enqueue(
        tool_reply(
            FakeToolCall("get_weather", '{"city": "Oslo"}', id="call_a", split=3),
            FakeToolCall("get_weather", '{"town": 5}', id="call_b", split=2),
        ),
        Reply(text="Oslo is 21 degrees."),
    )
    send(app, "Weather in Oslo?")
    assert not app.exception
    first = fake.last_chat_body
    assert first is not None
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    codes = [c.value for c in app.code]
    assert '{\n  "city": "Oslo"\n}' in codes
    captions = " ".join(c.value for c in app.caption)
    assert plain("$: 'city' is a required property") in captions  # call_b, without a city
    boxes = [a for a in app.text_area if str(a.key).startswith("tool_result-")]
    assert [box.value for box in boxes] == ['{"temp": 21}', '{"temp": 21}']
    boxes[1].input("unknown town")
    click(app, "Send results")
    assert not app.exception
    body = fake.last_chat_body
    assert body is not None
    assert body["messages"][-3:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"town": 5}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "unknown town"},
    ]
    assert "Oslo is 21 degrees." in [m.value for m in app.markdown]
    path = chat_state(app).conversation.path()
    assert [c.result for c in path[1].tool_calls] == ['{"temp": 21}', "unknown town"]
    assert not [a for a in app.text_area if str(a.key).startswith("tool_result-")]
    assert flushed(app)


def test_a_bad_schema_is_refused_and_nothing_is_offered(app: AppTest, fake: FakeOpenAI) -> None:
    define(app, "broken", {"type": "object", "properties": {"a": {"type": "strung"}}})
    assert any("not a valid JSON Schema" in t.value for t in app.toast)
    assert chat_state(app).tools in (None, ())
    send(app, "hi")
    body = fake.last_chat_body
    assert body is not None and "tools" not in body


def test_an_unknown_tool_and_bad_json_are_said_on_the_card(app: AppTest, fake: FakeOpenAI) -> None:
    define(app, "get_weather", SCHEMA)
    fake.enqueue(
        tool_reply(
            FakeToolCall("launch_rockets", "{}"),
            FakeToolCall("get_weather", '{"city": "Os'),
            text="Let me check.",
        )
    )
    send(app, "Weather?")
    captions = " ".join(c.value for c in app.caption)
    assert plain("No tool named 'launch_rockets' is defined.") in captions
    assert plain("The arguments are not valid JSON") in captions
    assert "Let me check." in [m.value for m in app.markdown]
    assert '{"city": "Os' in [c.value for c in app.code]


def test_tools_and_answered_calls_come_back_after_a_reload(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    define(at, "get_weather", SCHEMA, canned="sunny")
    fake.enqueue(
        tool_reply(FakeToolCall("get_weather", '{"city": "Oslo"}', id="call_a")),
        Reply(text="It is sunny."),
    )
    send(at, "Weather in Oslo?")
    click(at, "Send results")
    conversation = at.query_params["c"]
    st.cache_resource.clear()  # and a restart: a fresh store and clients
    again = make_app()
    again.query_params["c"] = conversation
    again.run()
    assert not again.exception
    assert [e.label for e in again.expander if e.label.startswith("Tools")] == ["Tools (1)"]
    codes = [c.value for c in again.code]
    assert '{\n  "city": "Oslo"\n}' in codes and "sunny" in codes  # the card and its result
    assert not [a for a in again.text_area if str(a.key).startswith("tool_result-")]
    send(again, "And tomorrow?")
    body = fake.last_chat_body
    assert body is not None
    assert [m["role"] for m in body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_a", "content": "sunny"}
    assert body["tools"][0]["function"]["name"] == "get_weather"


def test_a_flood_of_calls_and_huge_arguments_keep_the_text_and_say_what_was_cut(
    app: AppTest, fake: FakeOpenAI
) -> None:
    define(app, "f", {"type": "object"})
    calls = [FakeToolCall("f", '{"n": 1}', split=50) for _ in range(300)]
    calls[0] = FakeToolCall("f", '{"x": "' + "z" * 150_000 + '"}', split=5_000)
    fake.enqueue(tool_reply(*calls, text="Here goes."))
    send(app, "Go wild.")
    assert not app.exception
    assert "Here goes." in [m.value for m in app.markdown]
    (reply,) = [m for m in chat_state(app).conversation.path() if m.role == "assistant"]
    assert len(reply.tool_calls) == 64 and len(reply.tool_calls[0].arguments) == 100_000
    captions = " ".join(c.value for c in app.caption)
    assert plain("the first 64 are kept, 236 more were left out") in captions
    assert plain("1 tool call(s) had arguments over 100,000 characters") in captions
    assert plain("The arguments are not valid JSON") in captions  # the cut one
    assert "The first 20,000 of 100,000 characters are shown." in captions
    assert len([a for a in app.text_area if str(a.key).startswith("tool_result-")]) == 64


def test_a_tool_is_edited_in_the_form_and_deleted(app: AppTest, fake: FakeOpenAI) -> None:
    define(app, "get_weather", SCHEMA, canned="sunny")
    (edit,) = [b for b in app.button if b.key == "tool-edit-get_weather"]
    edit.click().run()
    assert app.text_input(key="tool_name").value == "get_weather"
    assert json.loads(app.text_area(key="tool_parameters").value or "") == SCHEMA
    app.text_area(key="tool_canned").input("rain")
    (save,) = [b for b in app.button if b.label == "Save tool"]
    save.click().run()
    (tool,) = chat_state(app).tools or ()
    assert tool.canned_result == "rain"  # replaced under its name, not added
    (delete,) = [b for b in app.button if b.key == "tool-delete-get_weather"]
    delete.click().run()
    assert chat_state(app).tools == ()
    send(app, "hi")
    body = fake.last_chat_body
    assert body is not None and "tools" not in body and "tool_choice" not in body


def test_each_user_has_their_own_tools(make_app: AppFactory, fake: FakeOpenAI) -> None:
    alice = signed_in(make_app, "alice").run()
    define(alice, "alices_tool", SCHEMA)
    assert [t.name for t in chat_state(alice).tools or ()] == ["alices_tool"]
    bob = signed_in(make_app, "bob").run()
    assert chat_state(bob).tools == ()
    assert [e.label for e in bob.expander if e.label.startswith("Tools")] == ["Tools (0)"]
    again = signed_in(make_app, "alice").run()  # a new session of hers: read from the store
    assert [t.name for t in chat_state(again).tools or ()] == ["alices_tool"]


def test_a_reply_of_calls_alone_can_be_regenerated(app: AppTest, fake: FakeOpenAI) -> None:
    define(app, "get_weather", SCHEMA)
    fake.enqueue(tool_reply(FakeToolCall("get_weather", '{"city": "Oslo"}')), Reply(text="Hi."))
    send(app, "Weather?")
    (regenerate,) = [b for b in app.button if str(b.key).startswith("regenerate-")]
    regenerate.click().run()
    assert flushed(app)
    path = chat_state(app).conversation.path()
    assert [(m.role, m.content) for m in path] == [("user", "Weather?"), ("assistant", "Hi.")]
    assert len(chat_state(app).conversation.siblings(path[-1])) == 2  # the calls stay, < 1/2 >
