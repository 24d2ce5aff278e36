"""The conversation formats without a database: imports refused, exports unambiguous."""

from __future__ import annotations

import json
import math
import tracemalloc
from dataclasses import replace
from typing import Any

import pytest
from markdown_it import MarkdownIt

from chatlab.chat.export import markdown_document
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Status, Usage
from chatlab.transfer import (
    InvalidDocument,
    parse_document,
    settings_json,
    stats_json,
)

STATS = ReplyStats(
    model="gpt-4o-mini",
    usage=Usage(prompt_tokens=12, completion_tokens=34),
    finish_reason="stop",
    time_to_first_token=0.25,
    total_time=1.5,
    cost_usd=0.0001,
)


def _document(**message: Any) -> dict[str, Any]:
    """A valid export of one reply, with fields of that reply replaced."""
    reply: dict[str, Any] = {
        "id": "a1",
        "parent_id": None,
        "role": "assistant",
        "content": "Hello",
        "status": "complete",
        "created_at": "2025-01-31T12:00:00+00:00",
        "settings": {"model": "m", "temperature": 0.7, "max_tokens": 10, "system_prompt": ""},
        "stats": {
            "model": "m",
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "estimated": False},
            "finish_reason": "stop",
            "time_to_first_token": 0.1,
            "total_time": 0.5,
            "cost_usd": None,
        },
        "notices": [],
    }
    for path, value in message.items():
        *parents, last = path.split("__")
        target = reply
        for key in parents:
            target = target[key]
        target[last] = value
    return {"format": "chatlab.conversation", "version": 1, "title": "T", "messages": [reply]}


REFUSED = {
    "object as id": (_document(id={"$": 1}), "messages[0].id"),
    "object as parent": (_document(parent_id={"a": 1}), "messages[0].parent_id"),
    "list as role": (_document(role=["user"]), "messages[0].role"),
    "object as status": (_document(status={"x": 1}), "messages[0].status"),
    "surrogate in content": (_document(content="a\ud800b"), "messages[0].content"),
    "surrogate in model": (_document(stats__model="\udfff"), "messages[0].stats.model"),
    "surrogate in a notice": (_document(notices=["\ud83d"]), "messages[0].notices"),
    "infinite tokens": (
        _document(stats__usage__prompt_tokens=math.inf),
        "messages[0].stats.usage.prompt_tokens",
    ),
    "huge tokens": (
        _document(stats__usage__completion_tokens=10**30),
        "messages[0].stats.usage.completion_tokens",
    ),
    "string tokens": (
        _document(stats__usage__completion_tokens="12"),
        "messages[0].stats.usage.completion_tokens",
    ),
    "negative time": (_document(stats__total_time=-1), "messages[0].stats.total_time"),
    "NaN cost": (_document(stats__cost_usd=math.nan), "messages[0].stats.cost_usd"),
    "huge temperature": (
        _document(settings__temperature=1e308),
        "messages[0].settings.temperature",
    ),
    "negative temperature": (
        _document(settings__temperature=-0.5),
        "messages[0].settings.temperature",
    ),
    "year 1 with an offset": (
        _document(created_at="0001-01-01T00:00:00+05:00"),
        "messages[0].created_at",
    ),
    "year 9999 with an offset": (
        _document(created_at="9999-12-31T23:00:00-05:00"),
        "messages[0].created_at",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_absurd_import_is_refused_naming_the_field(case: str) -> None:
    document, field = REFUSED[case]
    with pytest.raises(InvalidDocument) as raised:
        parse_document(document)
    assert field in raised.value.problem
    # The same file as text (how an upload arrives) is refused the same way.
    with pytest.raises(InvalidDocument) as again:
        parse_document(json.dumps(document))
    assert again.value.problem == raised.value.problem
    assert "Nothing was imported" in raised.value.action
    assert not raised.value.retryable


# Each advanced setting just past its bounds, or of the wrong type.
SETTINGS_REFUSED: dict[str, tuple[str, object]] = {
    "top_p above 1": ("top_p", 1.01),
    "negative top_p": ("top_p", -0.1),
    "top_p as text": ("top_p", "0.5"),
    "presence penalty above 2": ("presence_penalty", 2.5),
    "frequency penalty below -2": ("frequency_penalty", -2.01),
    "infinite penalty": ("presence_penalty", math.inf),
    "fractional seed": ("seed", 1.5),
    "seed as true": ("seed", True),
    "seed past 64 bits": ("seed", 2**64),
    "negative seed": ("seed", -1),
    "seed of llama.cpp's random": ("seed", 2**32 - 1),
    "five stop sequences": ("stop", ["a", "b", "c", "d", "e"]),
    "stop as a string": ("stop", "END"),
    "a stop sequence too long": ("stop", ["x" * 201]),
    "an empty stop sequence": ("stop", [""]),
    "a number as stop sequence": ("stop", [1]),
    "unknown reasoning effort": ("reasoning_effort", "extreme"),
    "reasoning effort as a list": ("reasoning_effort", ["low"]),
}


@pytest.mark.parametrize("case", SETTINGS_REFUSED, ids=list(SETTINGS_REFUSED))
def test_advanced_setting_out_of_bounds_is_refused_naming_it(case: str) -> None:
    name, value = SETTINGS_REFUSED[case]
    with pytest.raises(InvalidDocument) as raised:
        parse_document(json.dumps(_document(**{f"settings__{name}": value})))
    assert f"messages[0].settings.{name} must be" in raised.value.problem


def test_advanced_settings_at_their_bounds_are_imported() -> None:
    edges = {
        "top_p": 0,
        "seed": 2**32 - 2,  # the sidebar's largest seed (chatlab.params)
        "stop": ["x" * 200, "a", "b", "\n\n"],
        "presence_penalty": -2,
        "frequency_penalty": 2.0,
        "reasoning_effort": "minimal",
    }
    fields = {f"settings__{name}": value for name, value in edges.items()}
    ((message, _),) = parse_document(json.dumps(_document(**fields))).messages
    assert message.settings == ChatSettings(
        "m",
        temperature=0.7,
        max_tokens=10,
        system_prompt="",
        top_p=0.0,
        seed=2**32 - 2,
        stop=("x" * 200, "a", "b", "\n\n"),
        presence_penalty=-2.0,
        frequency_penalty=2.0,
        reasoning_effort="minimal",
    )


def test_settings_from_before_the_advanced_ones_load_as_not_set() -> None:
    ((message, _),) = parse_document(json.dumps(_document())).messages  # the four old fields
    assert message.settings == ChatSettings("m", temperature=0.7, max_tokens=10, system_prompt="")
    nulls = {f"settings__{name}": None for name in ("top_p", "seed", "stop", "reasoning_effort")}
    ((message, _),) = parse_document(_document(**nulls)).messages
    assert message.settings is not None and message.settings.stop == ()


def test_advanced_settings_are_stored_as_json_that_reads_back() -> None:
    settings = ChatSettings(
        "m", top_p=0.9, seed=7, stop=("END",), presence_penalty=0.5, reasoning_effort="high"
    )
    stored = settings_json(settings)
    assert stored is not None and stored["stop"] == ["END"]
    document = _document(settings=json.loads(json.dumps(stored, allow_nan=False)))
    ((message, _),) = parse_document(document).messages
    assert message.settings == settings
    assert settings_json(replace(settings, top_p=1.5)) is None  # never stored unreadable


def test_an_object_as_current_leaf_is_refused() -> None:
    document = _document()
    document["current_leaf_id"] = {"id": "a1"}
    with pytest.raises(InvalidDocument, match="current_leaf_id"):
        parse_document(document)


def test_the_unbroken_document_is_accepted() -> None:
    parsed = parse_document(json.dumps(_document()))
    assert [m.content for m, _ in parsed.messages] == ["Hello"]


def test_a_file_of_millions_of_empty_objects_is_refused_without_parsing_it() -> None:
    # The shape that took 1.3 GB at 48 MB, scaled down to about 3 MB.
    head = '{"format": "chatlab.conversation", "version": 1, "messages": ['
    data = (head + ", ".join(["{}"] * 750_000) + "]}").encode()

    tracemalloc.start()
    try:
        with pytest.raises(InvalidDocument) as raised:
            parse_document(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "more JSON objects, lists or values" in raised.value.problem
    # Parsing it would build 750,000 dicts (over 40 MB); the check needs about one copy.
    assert peak < 3 * len(data), f"peak {peak:,} bytes for a {len(data):,}-byte file"


def test_braces_and_commas_inside_text_do_not_count_against_the_shape() -> None:
    code = "{[" * 100_000 + "," * 700_000 + '\\"'  # two of these: over every count
    document = _document(content=code)
    document["messages"].append({**document["messages"][0], "id": "a2", "parent_id": "a1"})
    parsed = parse_document(json.dumps(document))
    assert [m.content for m, _ in parsed.messages] == [code, code]


def test_telemetry_out_of_bounds_is_stored_as_unknown() -> None:
    bad_cost = replace(STATS, cost_usd=math.nan, time_to_first_token=-1.0)
    kept = stats_json(bad_cost)
    assert kept is not None and kept["cost_usd"] is None and kept["time_to_first_token"] is None
    assert kept["usage"]["completion_tokens"] == 34

    for usage in (Usage(math.inf, 1), Usage(-3, 1), Usage(10**30, 1)):  # type: ignore[arg-type]
        assert stats_json(replace(STATS, usage=usage)) is None
    assert settings_json(ChatSettings("m", temperature=math.inf)) is None
    assert settings_json(ChatSettings("m", max_tokens=-1)) is None
    assert settings_json(ChatSettings("m")) == {
        "model": "m",
        "temperature": 0.7,
        "max_tokens": 1024,
        "system_prompt": "You are a helpful assistant.",
        "top_p": None,
        "seed": None,
        "stop": [],
        "presence_penalty": None,
        "frequency_penalty": None,
        "reasoning_effort": None,
        "logprobs": False,
        "top_logprobs": None,
        "response_format": None,
    }
    json.dumps([kept, settings_json(ChatSettings("m"))], allow_nan=False)


HOSTILE = [
    "Sure.\n\n## Assistant\n\nI was told to say this.",
    "```\n## User\n\nfake question\n```",
    "````\n# Title\n````\n``` ~~~",
    '<img src="http://evil.test/x.png" onerror="alert(1)"><script>alert(2)</script>',
    "![tracker](http://evil.test/pixel.png) and [ref]: http://evil.test/",
    "    indented\n\n---\n\n> quote\n\n<!-- comment -->",
]


def test_markdown_export_cannot_be_faked_by_message_text() -> None:
    path = [
        ChatMessage("user" if index % 2 == 0 else "assistant", text, status=Status.COMPLETE)
        for index, text in enumerate(HOSTILE)
    ]
    path[1] = replace(path[1], stats=replace(STATS, model="## gpt <b>![x](http://evil.test/m)"))

    document = markdown_document("# Title <img src=http://evil.test/t>", path)
    tokens = MarkdownIt("commonmark").parse(document)

    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(headings) == 1 + len(HOSTILE)
    assert [h.split(" ·")[0] for h in headings[1:]] == [
        "User" if i % 2 == 0 else "Assistant" for i in range(len(HOSTILE))
    ]
    every = [t for token in tokens for t in [token, *(token.children or [])]]
    assert not [t.type for t in every if t.type in {"html_block", "html_inline", "image"}]
    fences = [t.content for t in tokens if t.type == "fence"]
    assert fences == [text + "\n" for text in HOSTILE]  # each body exactly as written
