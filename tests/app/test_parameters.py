"""The Advanced settings: each reaches the request only when set; a rejected one is learnt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chatlab import controls
from chatlab.markdown import plain
from chatlab.provider.client import optional_params_labels, param_ignored
from components import session
from components.session import ConnectionState
from components.sidebar import NO_EFFECT
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import held, send, shown

Control = Callable[[AppTest], object]


def _set_top_p(at: AppTest) -> None:
    at.checkbox(key=session.TOP_P_SET).check().run()  # the slider is off until then
    at.slider(key=session.TOP_P).set_value(0.3)


# How a person sets each advanced control, and what the request then carries.
CONTROLS: dict[str, tuple[Control, Any]] = {
    "top_p": (_set_top_p, 0.3),
    "seed": (lambda at: at.number_input(key=session.SEED).set_value(42), 42),
    "stop": (
        lambda at: at.text_area(key=session.STOP).input("END\n\n###\n"),
        ["END", "###"],
    ),
    "presence_penalty": (
        lambda at: at.slider(key=session.PRESENCE_PENALTY).set_value(0.6),
        0.6,
    ),
    "frequency_penalty": (
        lambda at: at.slider(key=session.FREQUENCY_PENALTY).set_value(-1.0),
        -1.0,
    ),
    "reasoning_effort": (
        lambda at: at.selectbox(key=session.REASONING_EFFORT).select("low"),
        "low",
    ),
    "response_format": (
        lambda at: at.selectbox(key=session.RESPONSE_FORMAT).select("json_object"),
        {"type": "json_object"},
    ),
}


def _sent(fake: FakeOpenAI) -> dict[str, Any]:
    body = fake.last_chat_body
    assert body is not None
    return body


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_every_optional_param_has_a_control() -> None:
    assert CONTROLS.keys() == optional_params_labels().keys()


def test_every_setting_a_message_names_is_a_control_with_that_label(app: AppTest) -> None:
    """Notices and errors name settings by ``chatlab.controls``; the sidebar shows them."""
    widgets = [app.slider, app.number_input, app.text_area, app.selectbox, app.text_input]
    labels = {w.label for kind in widgets for w in kind}
    named = {controls.TEMPERATURE, controls.MAX_TOKENS, controls.API_KEY, controls.BASE_URL}
    assert named | set(optional_params_labels().values()) <= labels


def test_advanced_controls_left_alone_send_nothing(app: AppTest, fake: FakeOpenAI) -> None:
    send(app, "hello")
    assert not optional_params_labels().keys() & _sent(fake).keys()
    assert (_sent(fake)["temperature"], _sent(fake)["max_tokens"]) == (0.7, 1024)


@pytest.mark.parametrize("name", CONTROLS)
def test_an_advanced_control_sends_exactly_its_param(
    app: AppTest, fake: FakeOpenAI, name: str
) -> None:
    set_control, expected = CONTROLS[name]
    set_control(app)
    app.run()
    send(app, "hello")
    body = _sent(fake)
    assert optional_params_labels().keys() & body.keys() == {name}
    assert body[name] == expected
    if name == "response_format":  # a JSON reply, shown indented (test_structured_output.py)
        assert app.code[-1].value == '{\n  "echo": "hello"\n}'
    else:
        assert shown(app)[-1] == ("assistant", "Echo: hello")


def test_top_p_slider_is_off_until_set_and_off_again_when_unset(
    app: AppTest, fake: FakeOpenAI
) -> None:
    assert app.slider(key=session.TOP_P).disabled
    app.checkbox(key=session.TOP_P_SET).check().run()
    assert not app.slider(key=session.TOP_P).disabled
    assert app.slider(key=session.TOP_P).value == 1.0  # starts at the API's default
    app.slider(key=session.TOP_P).set_value(0.2).run()
    send(app, "one")
    assert _sent(fake)["top_p"] == 0.2
    app.checkbox(key=session.TOP_P_SET).uncheck().run()
    assert app.slider(key=session.TOP_P).disabled
    send(app, "two")
    assert "top_p" not in _sent(fake)


def test_blank_seed_and_zero_penalty_are_not_set(app: AppTest, fake: FakeOpenAI) -> None:
    app.number_input(key=session.SEED).set_value(7).run()
    app.slider(key=session.PRESENCE_PENALTY).set_value(0.5).run()
    send(app, "one")
    assert (_sent(fake)["seed"], _sent(fake)["presence_penalty"]) == (7, 0.5)
    app.number_input(key=session.SEED).set_value(None).run()
    app.slider(key=session.PRESENCE_PENALTY).set_value(0.0).run()
    send(app, "two")
    assert not {"seed", "presence_penalty"} & _sent(fake).keys()


def test_more_than_four_stop_lines_send_the_first_four_and_say_so(
    app: AppTest, fake: FakeOpenAI
) -> None:
    app.text_area(key=session.STOP).input("a\nb\nc\nd\ne").run()
    assert "Only the first 4 lines are sent" in _captions(app)
    send(app, "hello")
    assert _sent(fake)["stop"] == ["a", "b", "c", "d"]


def test_rejected_param_is_dropped_retried_and_remembered(app: AppTest, fake: FakeOpenAI) -> None:
    fake.reject_params = {"seed"}
    app.number_input(key=session.SEED).set_value(42).run()
    app.slider(key=session.FREQUENCY_PENALTY).set_value(0.4).run()
    send(app, "first")
    first, retried = [r.body for r in fake.chat_requests]
    assert first["seed"] == 42 and "seed" not in retried
    assert retried["frequency_penalty"] == 0.4  # only the rejected one is dropped
    assert shown(app)[-1] == ("assistant", "Echo: first")
    assert plain(param_ignored("seed")) in _captions(app)  # under the reply
    app.run()  # the sidebar was drawn before the reply; it says so from the next run on
    assert _captions(app).count(NO_EFFECT) == 1  # under the Seed control only
    assert held(app, ConnectionState).quirks[app.session_state[session.MODEL]].dropped == {"seed"}

    send(app, "second")
    assert len(fake.chat_requests) == 3  # the model's quirk is known: no rejection
    assert "seed" not in _sent(fake) and _sent(fake)["frequency_penalty"] == 0.4
    assert _captions(app).count(plain(param_ignored("seed"))) == 2  # one per reply


def test_a_reasoning_model_rejecting_several_params_notes_each(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.reject_params = {"top_p", "presence_penalty"}
    app.checkbox(key=session.TOP_P_SET).check().run()
    app.slider(key=session.PRESENCE_PENALTY).set_value(1.0).run()
    fake.enqueue(Reply(text="done"))
    send(app, "think")
    assert shown(app)[-1] == ("assistant", "done")
    assert not {"top_p", "presence_penalty"} & _sent(fake).keys()
    for name in ("top_p", "presence_penalty"):
        assert plain(param_ignored(name)) in _captions(app)
