"""The sampling check in the app: its table under "Check this server", and its note under
each sidebar control the server ignored."""

from __future__ import annotations

import re
from typing import Any

from streamlit.testing.v1 import AppTest

from chatlab.provider import SAMPLING_REQUESTS
from components.sampling_check import BUTTON
from testing.fake_openai import Dialect, FakeOpenAI, Sampler
from tests.app.conftest import AppFactory, click


def unescaped(value: str) -> str:
    """Text drawn through ``chatlab.markdown.plain``, as the reader sees it."""
    return re.sub(r"\\(.)", r"\1", value)


def verdicts(at: AppTest) -> dict[str, str]:
    """Each row of the sampling check's table: its question and verdict."""
    (table,) = [m.value for m in at.markdown if m.value.startswith("Sampling check, ")]
    rows = [line for line in table.splitlines() if line.startswith("- ")]
    found = {}
    for line in rows:
        name, rest = line.split("**")[1:3]
        found[unescaped(name)] = rest.removeprefix(": ").split(" — ")[0]
    return found


def flat(node: Any) -> list[Any]:
    """Every element under ``node``, in the order drawn."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node]
    return [leaf for key in sorted(children) for leaf in flat(children[key])]


def notes(at: AppTest) -> list[str]:
    return [unescaped(c.value) for c in at.caption if "in the sampling check" in c.value]


def test_a_server_that_ignores_seed_is_said_to_under_the_seed_control(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.sampler = Sampler(ignores=frozenset({"seed"}))
    at = make_app().run()
    said = [c.value for c in at.caption if f"sends {SAMPLING_REQUESTS} tiny requests" in c.value]
    assert said, "the button says beforehand what it will send"
    assert not notes(at)
    fake.clear()
    at = click(at, BUTTON)
    assert not at.exception
    assert len(fake.chat_requests) == SAMPLING_REQUESTS
    rows = verdicts(at)
    assert rows["The same seed repeats (temperature 1)"] == "ignored"
    assert rows["Temperature 0 repeats itself"] == "honoured"
    (note,) = notes(at)
    assert re.fullmatch(
        r":orange\[This server ignored seed in the sampling check \(\d+ \w+ \d{4}\)\.\]", note
    )
    drawn = flat(at.sidebar)
    seed = next(i for i, e in enumerate(drawn) if getattr(e, "label", None) == "Seed")
    assert unescaped(str(getattr(drawn[seed + 1], "value", ""))) == note  # right under it
    at = at.run()
    assert notes(at) == [note]  # kept in the session: still there on the next run


def test_a_server_that_honours_everything_gets_every_row_honoured(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.sampler = Sampler()
    fake.dialect = Dialect(name="llamacpp")  # it continues a final assistant message
    fake.models = ["gpt-4o-mini"]
    at = click(make_app().run(), BUTTON)
    assert not at.exception
    rows = verdicts(at)
    assert len(rows) == 10
    assert set(rows.values()) == {"honoured"}, rows
    assert not notes(at)
