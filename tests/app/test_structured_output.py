"""Structured output on the chat page: a JSON Schema chosen in the sidebar is sent, the
reply shown indented and checked (each violation listed with its path), a reply cut at max
tokens said to be incomplete; a bad schema is refused before anything is sent."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from chatlab.markdown import plain
from chatlab.structured import EXAMPLES
from components import session
from components.sidebar import NO_EFFECT
from testing.fake_openai import FakeOpenAI, Reply, StructuredOutput
from tests.app.conftest import AppFactory, click, send

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
    },
    indent=2,
)


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def _markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _choose_schema(at: AppTest, schema: str) -> None:
    at.selectbox(key=session.RESPONSE_FORMAT).select("json_schema").run()
    at.text_area(key=session.RESPONSE_SCHEMA).input(schema).run()


def test_a_json_schema_reply_is_shown_indented_and_its_violations_listed(
    app: AppTest, fake: FakeOpenAI
) -> None:
    _choose_schema(app, PRICES)
    assert "A valid JSON Schema." in _captions(app)
    fake.structured = StructuredOutput(reply={"items": [{"name": "tea", "price": "x"}, {}]})
    send(app, "list the prices")
    sent = fake.last_chat_body
    assert sent is not None
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": json.loads(PRICES), "strict": True},
    }
    for _ in range(2):  # as streamed, then as the history draws it on the next run
        assert '"price": "x"' not in _markdown(app)  # the streamed text, replaced
        assert app.code[-1].language == "json"
        assert app.code[-1].value.startswith('{\n  "items": [\n    {\n      "name": "tea"')
        summary = "Valid JSON, but it does not match the schema: 3 violations"
        assert plain(summary) in _captions(app)
        for violation in (
            "$.items[0].price: 'x' is not of type 'number'",
            "$.items[1]: 'name' is a required property",
            "$.items[1]: 'price' is a required property",
        ):
            assert plain(violation) in _markdown(app)
        app.run()


def test_a_matching_reply_is_said_to_match(app: AppTest, fake: FakeOpenAI) -> None:
    _choose_schema(app, EXAMPLES["Sentiment"])
    send(app, "I love it")
    assert json.loads(app.code[-1].value) == {"sentiment": "positive", "confidence": 1}
    assert "Valid JSON that matches the schema." in _captions(app)


def test_a_reply_cut_at_max_tokens_is_incomplete_json(app: AppTest, fake: FakeOpenAI) -> None:
    _choose_schema(app, PRICES)
    fake.enqueue(Reply(text='{"items": [{"name": "te', finish_reason="length"))
    send(app, "list the prices")
    incomplete = "The JSON is incomplete: the reply was cut off at its max tokens"
    assert plain(incomplete) in _captions(app)


def test_an_example_fills_the_editor(app: AppTest) -> None:
    app.selectbox(key=session.RESPONSE_FORMAT).select("json_schema").run()
    app.selectbox(key=session.RESPONSE_FORMAT_EXAMPLE).select("Person").run()
    assert app.text_area(key=session.RESPONSE_SCHEMA).value == EXAMPLES["Person"]


def test_a_bad_schema_is_refused_before_sending_with_words(app: AppTest, fake: FakeOpenAI) -> None:
    _choose_schema(app, '{"type": "object", "properties": {"price": {"type": "nmber"}}}')
    where = plain("The JSON Schema cannot be used at $.properties.price.type")
    assert where in _captions(app)  # said under the editor as it is typed
    send(app, "list the prices")
    assert fake.chat_requests == []
    refusal = " ".join(e.value for e in app.error)
    assert where in refusal and "Nothing was sent" in refusal
    assert app.code[-1].value == "list the prices"  # the message, given back to copy
    app.text_area(key=session.RESPONSE_SCHEMA).input("{not json").run()
    assert plain("it is not JSON (Expecting property name") in _captions(app)


def test_a_refused_format_is_learnt_and_the_reply_says_so(app: AppTest, fake: FakeOpenAI) -> None:
    fake.structured = StructuredOutput(refuse="lmstudio")
    app.selectbox(key=session.RESPONSE_FORMAT).select("json_object").run()
    send(app, "hello")
    first, retried = [r.body for r in fake.chat_requests]
    assert first["response_format"] == {"type": "json_object"} and "response_format" not in retried
    assert "the Response format setting has no effect" in _captions(app)
    assert app.code == [] or app.code[-1].language != "json"  # shown as the text it is
    app.run()  # the sidebar was drawn before the reply; it says so from the next run on
    assert NO_EFFECT in _captions(app)  # under the control, for JSON object
    _choose_schema(app, PRICES)  # LM Studio takes JSON Schema: still sent
    assert NO_EFFECT not in _captions(app)
    send(app, "prices")
    sent = fake.last_chat_body
    assert sent is not None and sent["response_format"]["type"] == "json_schema"
    assert len(fake.chat_requests) == 3
    assert "Valid JSON that matches the schema." in _captions(app)


def _open_compare(make_app: AppFactory) -> AppTest:
    at = make_app().run()
    return at.switch_page("pages/compare.py").run()


def _run(at: AppTest) -> AppTest:
    at.text_area(key="compare_prompt").set_value("Prices as JSON")
    at.text_input(key="compare_values_temperature").set_value("0, 1")
    at.number_input(key="compare_samples").set_value(1)
    return click(at, "Run")


def test_compare_cells_carry_the_format_and_each_reply_is_checked(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = _open_compare(make_app)
    _choose_schema(at, PRICES)
    fake.enqueue(Reply(text='{"items": []}'), Reply(text='{"items": [{"name": "tea"}]}'))
    at = _run(at)
    bodies = [r.body for r in fake.chat_requests]
    assert len(bodies) == 2
    for body in bodies:
        assert body["response_format"]["json_schema"]["schema"] == json.loads(PRICES)
    assert _captions(at).count("Valid JSON that matches the schema.") == 1
    assert plain("does not match the schema: 1 violation") in _captions(at)
    assert plain("$.items[0]: 'price' is a required property") in _markdown(at)
    shown = sorted(block.value for block in at.code)  # each reply's JSON, indented
    replies: list[dict[str, list[dict[str, str]]]] = [{"items": []}, {"items": [{"name": "tea"}]}]
    assert shown == sorted(json.dumps(reply, indent=2) for reply in replies)


def test_compare_with_a_bad_schema_sends_nothing(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = _open_compare(make_app)
    _choose_schema(at, '{"type": "objct"}')
    at = _run(at)
    assert fake.chat_requests == []
    refusal = " ".join(e.value for e in at.error)
    assert plain("The JSON Schema cannot be used at $.type") in refusal


def test_the_typed_schema_is_kept_while_text_is_chosen(app: AppTest, fake: FakeOpenAI) -> None:
    _choose_schema(app, '{"type": "array"}')
    app.selectbox(key=session.RESPONSE_FORMAT).select("text").run()
    send(app, "plain words, please")
    sent = fake.last_chat_body
    assert sent is not None and "response_format" not in sent
    assert app.code == []  # a text reply is drawn as text
    app.selectbox(key=session.RESPONSE_FORMAT).select("json_schema").run()
    assert app.text_area(key=session.RESPONSE_SCHEMA).value == '{"type": "array"}'
