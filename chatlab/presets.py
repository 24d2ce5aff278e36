"""Presets: a named system prompt and settings, picked from the sidebar.

A preset holds everything a ``ChatSettings`` does except the model: people switch
between "code reviewer" and "translator" on whatever model they are using, and a
preset made on one server should work on another. So a preset's settings carry an
empty model, and applying one keeps the model already chosen (``applied``).

Shipped presets live here, in code, and are never stored; a user's own are stored per
owner (``chatlab.storage.presets``). A presets file (export/import) is checked whole
before anything is written, with the same field rules as a conversation import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from chatlab.errors import ChatLabError
from chatlab.messages import ChatSettings
from chatlab.transfer import InvalidDocument, clean_text, settings_from, settings_json

PRESETS_FORMAT = "chatlab.presets"
PRESETS_VERSION = 1
MAX_NAME_LENGTH = 100
MAX_PRESETS_IMPORT = 500
MAX_PRESETS_BYTES = 5_000_000  # 500 presets with long system prompts fit well within it
SHIPPED_PREFIX = "shipped:"


class PresetError(ChatLabError):
    """A preset that cannot be saved: a blank or long name, settings out of bounds."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"This preset cannot be saved: {problem}.",
            f"Give it a name of one line, at most {MAX_NAME_LENGTH} characters.",
            retryable=False,
        )
        self.problem = problem


@dataclass(frozen=True)
class Preset:
    """A named system prompt and settings; ``settings.model`` is always empty."""

    id: str
    name: str
    settings: ChatSettings

    @property
    def shipped(self) -> bool:
        """True for the presets that come with Chat Lab (they cannot be deleted)."""
        return self.id.startswith(SHIPPED_PREFIX)


def preset_name(text: str) -> str:
    """A name fit to store: one line, valid Unicode; ``PresetError`` if blank or too long."""
    name = clean_text(" ".join(text.split()))
    if not name:
        raise PresetError("its name is blank")
    if len(name) > MAX_NAME_LENGTH:
        raise PresetError(f"its name is longer than {MAX_NAME_LENGTH} characters")
    return name


def from_settings(preset_id: str, name: str, settings: ChatSettings) -> Preset:
    """A preset of ``settings`` without their model; ``PresetError`` if it cannot be stored."""
    preset = Preset(preset_id, preset_name(name), replace(settings, model=""))
    if settings_json(preset.settings) is None:  # never store what cannot be read back
        raise PresetError("a setting is out of bounds (a system prompt over 1,000,000 characters?)")
    return preset


def applied(preset: Preset, current: ChatSettings) -> ChatSettings:
    """The settings after picking ``preset``: the preset's, on the current model."""
    return replace(preset.settings, model=current.model)


def _shipped(key: str, name: str, prompt: str, **knobs: Any) -> Preset:
    settings = ChatSettings(model="", system_prompt=prompt, **knobs)
    return Preset(SHIPPED_PREFIX + key, name, settings)


SHIPPED: tuple[Preset, ...] = (
    _shipped(
        "concise",
        "Concise assistant",
        "You are a helpful assistant. Answer in as few words as the question allows: "
        "no preamble, no recap, no offers of further help.",
        temperature=0.5,
        max_tokens=512,
    ),
    _shipped(
        "precise",
        "Precise facts",
        "You answer factual questions accurately. If you are not sure, say so rather "
        "than guess. Give numbers with their units and name the source of a figure "
        "when you know it.",
        temperature=0.2,
    ),
    _shipped(
        "reviewer",
        "Code reviewer",
        "You are a senior software engineer reviewing code. Point out bugs first, then "
        "security problems, then readability. Quote the lines you mean, explain why each "
        "matters, and suggest a fix as code. Say plainly when the code is fine.",
        temperature=0.3,
        max_tokens=2048,
    ),
    _shipped(
        "translator",
        "Translator",
        "You are a translator. Translate what the user writes into English; if it is "
        "already English, into French. Keep the meaning, tone and formatting; reply with "
        "the translation only. The user may name another target language.",
        temperature=0.3,
        max_tokens=2048,
    ),
    _shipped(
        "creative",
        "Creative writer",
        "You are an imaginative writer. Write vivid, original prose and verse with "
        "concrete detail and surprising turns; avoid clichés.",
        temperature=1.1,
        max_tokens=2048,
        presence_penalty=0.5,
    ),
)


# -- presets files ----------------------------------------------------------------------


def preset_json(preset: Preset) -> dict[str, Any]:
    """One preset as stored and exported: its name and settings without the model."""
    settings = settings_json(preset.settings) or {}
    return {"name": preset.name, "settings": {k: v for k, v in settings.items() if k != "model"}}


def presets_document(presets: list[Preset]) -> dict[str, Any]:
    """A presets file: the user's own presets, JSON-ready."""
    return {
        "format": PRESETS_FORMAT,
        "version": PRESETS_VERSION,
        "presets": [preset_json(preset) for preset in presets if not preset.shipped],
    }


def preset_from(data: object, preset_id: str, where: str = "preset") -> Preset:
    """A preset from its JSON form; ``InvalidDocument`` names the first bad field."""
    if not isinstance(data, dict):
        raise InvalidDocument(f"{where} must be a JSON object")
    name = data.get("name")
    if not isinstance(name, str):
        raise InvalidDocument(f"{where}.name must be a string")
    try:
        checked = preset_name(name)
    except PresetError as exc:
        raise InvalidDocument(f"{where}.name: {exc.problem}") from exc
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise InvalidDocument(f"{where}.settings must be a JSON object")
    # The model is never part of a preset: whatever a file says there is ignored.
    return Preset(preset_id, checked, settings_from({**settings, "model": ""}, f"{where}.settings"))


def parse_presets(data: object) -> list[Preset]:
    """Check a whole presets file (parsed, or its text/bytes); ``InvalidDocument`` if wrong.

    Ids are left empty: the store gives imported presets their own. A name repeated in
    the file keeps its last settings, as saving twice under one name does.
    """
    doc = _decoded(data)
    if not isinstance(doc, dict) or doc.get("format") != PRESETS_FORMAT:
        raise InvalidDocument(
            f'it is not a Chat Lab presets file ("format" is not "{PRESETS_FORMAT}")'
        )
    if doc.get("version") != PRESETS_VERSION:
        raise InvalidDocument(f'"version" must be {PRESETS_VERSION}')
    raw = doc.get("presets")
    if not isinstance(raw, list) or len(raw) > MAX_PRESETS_IMPORT:
        raise InvalidDocument(f'"presets" must be a list of at most {MAX_PRESETS_IMPORT} presets')
    parsed = [preset_from(item, "", f"presets[{i}]") for i, item in enumerate(raw)]
    return list({preset.name: preset for preset in parsed}.values())


def _decoded(data: object) -> object:
    if not isinstance(data, str | bytes):
        return data
    if len(data) > MAX_PRESETS_BYTES:
        raise InvalidDocument(f"it is larger than {MAX_PRESETS_BYTES // 1_000_000} MB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidDocument(f"it is not valid JSON ({exc})") from exc
