"""Presets: shipped ones, names, files checked whole, and storage per owner on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from chatlab.messages import ChatSettings
from chatlab.presets import (
    MAX_NAME_LENGTH,
    SHIPPED,
    Preset,
    PresetError,
    applied,
    from_settings,
    parse_presets,
    presets_document,
)
from chatlab.storage import InvalidImport, Store
from chatlab.transfer import InvalidDocument

pytest_plugins = ["tests.postgres"]

ALICE, BOB = "alice", "bob"
SETTINGS = ChatSettings(
    model="gpt-4o-mini",
    temperature=0.4,
    max_tokens=300,
    system_prompt="Answer in haiku.",
    top_p=0.9,
    seed=7,
    stop=("END",),
    presence_penalty=0.5,
    reasoning_effort="low",
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def test_shipped_presets_include_the_usual_ones_and_are_valid() -> None:
    by_name = {preset.name: preset for preset in SHIPPED}
    assert {"Concise assistant", "Code reviewer", "Translator", "Creative writer"} <= set(by_name)
    assert by_name["Creative writer"].settings.temperature == 1.1
    assert by_name["Precise facts"].settings.temperature == 0.2
    assert all(preset.shipped and preset.settings.model == "" for preset in SHIPPED)
    assert parse_presets(json.dumps(presets_document(list(SHIPPED)))) == []  # never exported


def test_a_preset_leaves_the_model_alone() -> None:
    preset = from_settings("p1", "  Haiku \n poet ", SETTINGS)
    assert preset.name == "Haiku poet"
    assert preset.settings.model == ""
    now = ChatSettings(model="llama3", temperature=1.9)
    assert applied(preset, now) == ChatSettings(**{**vars(SETTINGS), "model": "llama3"})


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_NAME_LENGTH + 1)])
def test_blank_or_long_names_are_refused(name: str) -> None:
    with pytest.raises(PresetError, match="name"):
        from_settings("p1", name, SETTINGS)


def test_a_presets_file_round_trips_without_the_model() -> None:
    own = from_settings("p1", "Haiku", SETTINGS)
    document = presets_document([own, SHIPPED[0]])
    assert "model" not in document["presets"][0]["settings"]
    (back,) = parse_presets(json.dumps(document).encode())
    assert (back.name, back.settings) == (own.name, own.settings)


@pytest.mark.parametrize(
    ("document", "named"),
    [
        (b"not json", "not valid JSON"),
        ({"format": "chatlab.conversation", "version": 1, "presets": []}, "not a Chat Lab presets"),
        ({"format": "chatlab.presets", "version": 2, "presets": []}, '"version"'),
        ({"format": "chatlab.presets", "version": 1, "presets": {}}, '"presets"'),
        ({"format": "chatlab.presets", "version": 1, "presets": [[]]}, "presets[0]"),
        (
            {"format": "chatlab.presets", "version": 1, "presets": [{"name": "", "settings": {}}]},
            "presets[0].name",
        ),
        (
            {
                "format": "chatlab.presets",
                "version": 1,
                "presets": [
                    {
                        "name": "ok",
                        "settings": {"temperature": 0.5, "max_tokens": 9, "system_prompt": ""},
                    },
                    {
                        "name": "hot",
                        "settings": {"temperature": 9, "max_tokens": 9, "system_prompt": ""},
                    },
                ],
            },
            "presets[1].settings.temperature",
        ),
    ],
)
def test_a_bad_presets_file_names_what_is_wrong(document: object, named: str) -> None:
    with pytest.raises(InvalidDocument) as raised:
        parse_presets(document)
    assert named in raised.value.message


def test_saved_presets_are_listed_by_name_and_replace_one_of_the_same_name(store: Store) -> None:
    saved = store.save_preset(ALICE, from_settings("", "zebra", SETTINGS))
    store.save_preset(ALICE, from_settings("", "Apple", ChatSettings(model="")))
    again = store.save_preset(ALICE, from_settings("", "zebra", ChatSettings(model="", seed=3)))
    assert again.id == saved.id
    listed = store.list_presets(ALICE)
    assert [preset.name for preset in listed] == ["Apple", "zebra"]
    assert listed[1].settings == ChatSettings(model="", seed=3)


def test_presets_belong_to_their_owner(store: Store) -> None:
    mine = store.save_preset(ALICE, from_settings("", "Mine", SETTINGS))
    assert store.list_presets(BOB) == []
    assert not store.delete_preset(BOB, mine.id)
    assert not store.rename_preset(BOB, mine.id, "Stolen")
    store.save_preset(BOB, from_settings("", "Mine", ChatSettings(model="")))  # same name: fine
    assert store.list_presets(ALICE) == [mine]


def test_rename_and_delete(store: Store) -> None:
    first = store.save_preset(ALICE, from_settings("", "First", SETTINGS))
    store.save_preset(ALICE, from_settings("", "Second", SETTINGS))
    assert store.rename_preset(ALICE, first.id, "  Renamed ")
    with pytest.raises(PresetError, match="another"):
        store.rename_preset(ALICE, first.id, "Second")
    assert [p.name for p in store.list_presets(ALICE)] == ["Renamed", "Second"]
    assert store.delete_preset(ALICE, first.id)
    assert [p.name for p in store.list_presets(ALICE)] == ["Second"]


def test_an_import_writes_all_or_nothing(store: Store) -> None:
    own = [from_settings("", "One", SETTINGS), from_settings("", "Two", ChatSettings(model=""))]
    document = presets_document(own)
    document["presets"].append({"name": "Bad", "settings": {"temperature": "hot"}})
    with pytest.raises(InvalidImport, match=r"presets\[2\]"):
        store.import_presets(ALICE, json.dumps(document))
    assert store.list_presets(ALICE) == []
    document["presets"].pop()
    imported = store.import_presets(ALICE, json.dumps(document))
    assert [p.name for p in imported] == ["One", "Two"]
    assert store.list_presets(BOB) == []


def test_a_preset_damaged_by_hand_is_left_out(store: Store, database_url: str) -> None:
    store.save_preset(ALICE, from_settings("", "Good", SETTINGS))
    damaged = store.save_preset(ALICE, from_settings("", "Damaged", SETTINGS))
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE presets SET settings = :s WHERE id = :id"),
            {"s": json.dumps({"temperature": "very"}), "id": damaged.id},
        )
    engine.dispose()
    assert [p.name for p in store.list_presets(ALICE)] == ["Good"]


def test_preset_ids_say_whether_it_is_shipped() -> None:
    assert not Preset("abc", "x", ChatSettings(model="")).shipped
