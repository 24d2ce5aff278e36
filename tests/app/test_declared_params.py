"""One declaration per parameter drives everything: a field declared on ``ChatSettings``
gets its sidebar control, reaches the request, is checked on import and can be swept; and
the seed's one range is the same in the sidebar, on import and in Compare."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from streamlit.testing.v1 import AppTest

from chatlab import messages, params, transfer
from chatlab.grid import Grid, GridError, cells, parse_values, sweepable
from chatlab.messages import ChatSettings
from chatlab.params import Param, declaration, declared
from chatlab.transfer import InvalidDocument, parse_document, settings_from, settings_json
from components import session
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, click, send

MIN_P_HELP = "Keep only tokens at least p times as likely as the likeliest one."


@dataclass(frozen=True)
class WithMinP(ChatSettings):
    """The app's settings and one parameter more, declared the way every one is."""

    min_p: Annotated[
        float | None,
        Param("Min p", MIN_P_HELP, "slider", low=0.0, high=0.5, step=0.05, shown_unset=0.0),
    ] = None


@pytest.fixture
def min_p_declared(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``ChatSettings`` with ``min_p`` declared, wherever settings are made."""
    for module in (messages, session, transfer):
        monkeypatch.setattr(module, "ChatSettings", WithMinP)
    monkeypatch.setattr(params, "_declared_on", [WithMinP])
    assert "min_p" in [found.name for found in declared()]
    yield


def _export(**settings: Any) -> str:
    reply = {
        "id": "a1",
        "role": "assistant",
        "content": "Hello",
        "settings": {"model": "m", "temperature": 0.7, "max_tokens": 10, "system_prompt": ""},
    }
    reply["settings"].update(settings)  # type: ignore[attr-defined]
    return json.dumps({"format": "chatlab.conversation", "version": 1, "messages": [reply]})


@pytest.mark.usefixtures("min_p_declared")
def test_a_declared_parameter_is_drawn_sent_checked_and_swept(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    app = make_app().run()
    slider = app.slider(key="min_p")  # under Advanced, as declared
    assert (slider.label, slider.min, slider.max, slider.step) == ("Min p", 0.0, 0.5, 0.05)
    assert slider.help == MIN_P_HELP and slider.value == 0.0

    send(app, "left alone")
    assert "min_p" not in (fake.last_chat_body or {})  # 0: not set, not sent
    app.slider(key="min_p").set_value(0.15).run()
    send(app, "hello")
    assert (fake.last_chat_body or {})["min_p"] == 0.15

    ((message, _),) = parse_document(_export(min_p=0.25)).messages
    assert isinstance(message.settings, WithMinP) and message.settings.min_p == 0.25
    with pytest.raises(InvalidDocument) as refused:
        parse_document(_export(min_p=0.6))
    assert "settings.min_p must be a number from 0 to 0.5 or null" in refused.value.problem

    assert "min_p" in sweepable()
    with pytest.raises(GridError, match=re.escape("Use values from 0 to 0.5.")):
        parse_values("min_p", "0.6")
    grid = Grid(WithMinP("m"), axes=(("min_p", parse_values("min_p", "0.1, 0.2")),), samples=1)
    assert [cell.settings.min_p for cell in cells(grid)] == [0.1, 0.2]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("min_p_declared")
def test_a_declared_parameter_is_an_axis_of_the_compare_page(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run().switch_page("pages/compare.py").run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("")
    at.text_input(key="compare_values_min_p").set_value("0.1, 0.3")
    at.number_input(key="compare_samples").set_value(1)
    at = click(at, "Run")
    assert not at.exception
    assert sorted(r.body["min_p"] for r in fake.chat_requests) == [0.1, 0.3]


SEED = declaration("seed").param
SEED_LOW, SEED_HIGH = int(SEED.low or 0), int(SEED.high or 0)


def test_the_seed_has_one_range_in_the_sidebar_on_import_and_in_compare(app: AppTest) -> None:
    field = app.number_input(key=session.SEED)
    assert (field.min, field.max) == (SEED_LOW, SEED_HIGH) == (0, 2**32 - 2)

    for edge in (SEED_LOW, SEED_HIGH):
        ((message, _),) = parse_document(_export(seed=edge)).messages
        assert message.settings is not None and message.settings.seed == edge
        assert parse_values("seed", str(edge)) == (edge,)
    words = f"from {SEED_LOW} to {SEED_HIGH:,}"
    refused = re.escape(f"settings.seed must be a whole number {words}")
    for outside in (SEED_LOW - 1, SEED_HIGH + 1):
        with pytest.raises(InvalidDocument, match=refused):
            parse_document(_export(seed=outside))
        with pytest.raises(GridError, match=re.escape(f"Use values {words}.")):
            parse_values("seed", str(outside))
    too_big = settings_json(ChatSettings("m", seed=SEED_HIGH + 1))
    assert too_big is None  # never stored what an import would refuse
    assert settings_from(settings_json(ChatSettings("m", seed=SEED_HIGH))).seed == SEED_HIGH
