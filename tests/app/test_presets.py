"""Presets in the sidebar: picking one sets the settings; saved ones last and stay their owner's."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.markdown import plain
from chatlab.messages import ChatSettings
from chatlab.presets import PRESETS_FORMAT, SHIPPED, from_settings, presets_document
from chatlab.storage import Store
from components import session
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, click, send, signed_in

PICK, NAME, IMPORT = "preset_pick", "preset_name", "preset_import"


@pytest.fixture
def store() -> Store:
    return Store.open(config.database_url())


def presets_offered(at: AppTest) -> list[str]:
    return list(at.selectbox(key=PICK).options)


def pick(at: AppTest, label: str, owner: str = "local") -> AppTest:
    """Choose the preset shown as ``label`` in the picker (its options are preset ids)."""
    box = at.selectbox(key=PICK)
    with Store.open(config.database_url()) as store:
        known = [preset.id for preset in (*store.list_presets(owner), *SHIPPED)]
    (wanted,) = [preset_id for preset_id in known if box.format_func(preset_id) == label]
    return box.set_value(wanted).run()


def opened(at: AppTest, menu: str) -> AppTest:
    """Open the popover ``menu``: its content is drawn only while it is open."""
    at.session_state[menu] = True
    return at.run()


def save_as(at: AppTest, name: str) -> AppTest:
    opened(at, session.PRESET_SAVE_MENU)
    at.text_input(key=NAME).input(name).run()
    return click(at, "Save preset")


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


def test_picking_a_preset_sets_the_settings_and_the_next_request_carries_them(
    app: AppTest, fake: FakeOpenAI
) -> None:
    app.slider(key="temperature").set_value(0.3).run()
    pick(app, "Creative writer")
    assert not app.exception
    assert app.slider(key="temperature").value == 1.1
    assert app.slider(key="presence_penalty").value == 0.5
    assert str(app.text_area(key="system_prompt").value).startswith("You are an imaginative")
    assert at_placeholder(app)  # ready to pick again
    send(app, "Write about the sea")
    body = fake.last_chat_body
    assert body is not None
    assert body["temperature"] == 1.1
    assert body["presence_penalty"] == 0.5
    assert body["max_tokens"] == 2048
    assert body["messages"][0]["content"].startswith("You are an imaginative writer.")
    assert body["model"] == config.default_model({})  # a preset leaves the model alone


def at_placeholder(at: AppTest) -> bool:
    return at.selectbox(key=PICK).value is None


def test_a_saved_preset_is_listed_survives_a_restart_and_applies(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    at.slider(key="temperature").set_value(0.15).run()
    at.text_area(key="system_prompt").input("Answer like a pirate.").run()
    save_as(at, "**Pirate**")
    assert plain("Preset saved: **Pirate**") in toasts(at)  # a name is shown literally
    assert "**Pirate**" in presets_offered(at)
    assert at.text_input(key=NAME).value in (None, "")

    st.cache_resource.clear()  # a restart: a fresh store
    again = make_app().run()
    assert "**Pirate**" in presets_offered(again)
    pick(again, "**Pirate**")
    assert again.slider(key="temperature").value == 0.15
    send(again, "Ahoy?")
    body = fake.last_chat_body
    assert body is not None
    assert body["temperature"] == 0.15
    assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}


def test_a_blank_name_is_refused(app: AppTest, store: Store) -> None:
    save_as(app, "   ")
    assert any("name is blank" in text for text in toasts(app))
    assert store.list_presets("local") == []


def test_deleting_a_preset_removes_it(app: AppTest, store: Store) -> None:
    saved = store.save_preset("local", from_settings("", "Doomed", ChatSettings(model="")))
    app.run()
    assert "Doomed" in presets_offered(app)
    opened(app, session.PRESET_MANAGE_MENU)
    app.button(key=f"preset-delete-{saved.id}").click().run()
    assert "Doomed" not in presets_offered(app)
    assert store.list_presets("local") == []


def test_an_import_adds_presets_and_a_bad_file_writes_nothing(app: AppTest, store: Store) -> None:
    good = presets_document([from_settings("", "Imported", ChatSettings(model="", seed=5))])
    bad = {**good, "presets": [*good["presets"], {"name": "x", "settings": {"seed": "five"}}]}
    opened(app, session.PRESET_MANAGE_MENU)
    app.file_uploader(key=IMPORT).set_value(
        ("bad.json", json.dumps(bad).encode(), "application/json")
    ).run()
    assert not app.exception
    assert any("Import failed" in text and "presets\\[1\\]" in text for text in toasts(app))
    assert store.list_presets("local") == []
    app.file_uploader(key=IMPORT).set_value(
        ("good.json", json.dumps(good).encode(), "application/json")
    ).run()
    assert "Imported" in presets_offered(app)
    assert good["format"] == PRESETS_FORMAT


def test_each_user_sees_only_their_own_presets(make_app: AppFactory, fake: FakeOpenAI) -> None:
    def as_user(name: str) -> AppTest:
        return signed_in(make_app, name).run()

    alice = as_user("alice")
    save_as(alice, "Alice's secret")
    assert "Alice's secret" in presets_offered(as_user("alice"))
    bob = as_user("bob")
    assert "Alice's secret" not in presets_offered(bob)
    assert "Creative writer" in presets_offered(bob)


def test_the_sidebars_popovers_draw_their_forms_only_once_opened(app: AppTest) -> None:
    """A fresh browser waits for the code of every kind of widget on its first page
    (a file uploader's among them): what sits in a closed popover is not drawn."""
    app.run()
    assert [u.key for u in app.file_uploader] == []
    assert NAME not in [t.key for t in app.text_input]
    opened(app, session.PRESET_SAVE_MENU)
    assert NAME in [t.key for t in app.text_input]
    opened(app, session.PRESET_MANAGE_MENU)
    opened(app, session.IMPORT_MENU)
    assert sorted(str(u.key) for u in app.file_uploader) == sorted([IMPORT, session.IMPORT_INPUT])
