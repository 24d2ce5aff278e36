"""The sidebar's collapsed sections draw their widgets only once opened, and lose nothing.

Advanced, Tools and This conversation start collapsed. Their widgets are drawn only while
they are open (``components.popover.section_when_open``): drawn on every run, they cost
the server most of a full run's work after every reply, open or not. What is set in them
stays set, and is sent, while they are shut.
"""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from components import session
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, chat_state, send

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def shut(make_app: AppFactory) -> AppTest:
    """A new session as a person first sees it: every collapsed section shut."""
    at = make_app()
    for key in (session.ADVANCED_SECTION, session.TOOLS_SECTION, session.CONVERSATION_SECTION):
        del at.session_state[key]  # the fixture opens them (tests/app/conftest.py)
    return at.run()


def toggle(at: AppTest, key: str, opened: bool) -> AppTest:
    """Open or shut a section, as a click on its title does (a rerun)."""
    at.session_state[key] = opened
    return at.run()


def keys(at: AppTest) -> set[str]:
    widgets = [at.slider, at.number_input, at.text_area, at.text_input, at.selectbox, at.toggle]
    return {str(w.key) for kind in widgets for w in kind}


def test_shut_sections_draw_their_titles_and_none_of_their_widgets(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = shut(make_app)
    send(at, "hello")
    titles = [e.label for e in at.sidebar.expander]
    assert {"Advanced", "Tools (0)", "This conversation"} <= set(titles)
    inside = {session.SEED, session.TOP_P, session.STOP, session.TOOL_CHOICE, "tool_name"}
    assert not inside & keys(at)
    assert not [w for w in at.text_input if str(w.key).startswith(session.TITLE_INPUT)]

    toggle(at, session.ADVANCED_SECTION, True)
    assert {session.SEED, session.TOP_P, session.STOP} <= keys(at)
    toggle(at, session.CONVERSATION_SECTION, True)
    assert [w for w in at.text_input if str(w.key).startswith(session.TITLE_INPUT)]
    assert not at.exception


def test_a_setting_changed_then_shut_away_is_kept_shown_and_sent(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = toggle(shut(make_app), session.ADVANCED_SECTION, True)
    at.number_input(key=session.SEED).set_value(42).run()
    at.text_area(key=session.STOP).input("END").run()
    toggle(at, session.ADVANCED_SECTION, False)
    assert session.SEED not in keys(at)
    send(at, "hello")
    body = fake.last_chat_body
    assert body is not None and (body["seed"], body["stop"]) == (42, ["END"])
    at.run()  # a full run more (a reply's redraw), still shut: nothing is dropped
    toggle(at, session.ADVANCED_SECTION, True)
    assert at.number_input(key=session.SEED).value == 42
    assert at.text_area(key=session.STOP).value == "END"


def test_a_half_typed_tool_outlives_its_section_being_shut(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = toggle(shut(make_app), session.TOOLS_SECTION, True)
    at.text_input(key="tool_name").input("get_weather")
    at.text_area(key="tool_parameters").input(json.dumps(SCHEMA)).run()
    toggle(at, session.TOOLS_SECTION, False)
    toggle(at, session.TOOLS_SECTION, True)
    assert at.text_input(key="tool_name").value == "get_weather"
    assert json.loads(at.text_area(key="tool_parameters").value or "") == SCHEMA


def test_saving_a_tool_changes_the_count_and_the_section_stays_open(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = toggle(shut(make_app), session.TOOLS_SECTION, True)
    at.text_input(key="tool_name").input("get_weather")
    at.text_area(key="tool_parameters").input(json.dumps(SCHEMA))
    (save,) = [b for b in at.button if b.label == "Save tool"]
    save.click().run()
    assert [t.name for t in chat_state(at).tools or ()] == ["get_weather"]
    assert "Tools (1)" in [e.label for e in at.sidebar.expander]
    assert "tool_name" in keys(at)  # a new title is a new expander: it opened as left
    at.run()
    assert "tool_name" in keys(at)
    send(at, "Weather?")
    body = fake.last_chat_body
    assert body is not None and body["tools"][0]["function"]["name"] == "get_weather"
    assert not at.exception
