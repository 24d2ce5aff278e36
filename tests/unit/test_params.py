"""The parameter declarations: the controls' values read back as the settings they show,
and the docs' table is the one the declarations make."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict

from chatlab.messages import ChatSettings
from chatlab.params import declared, from_widgets, markdown_table, widget_values
from tests.conftest import ROOT

SET = ChatSettings(
    "m",
    temperature=1.3,
    max_tokens=77,
    top_p=1.0,  # set to the API's default: still sent
    seed=0,
    stop=("END", "###"),
    presence_penalty=-0.5,
    frequency_penalty=1.5,
    reasoning_effort="low",
    logprobs=True,
    top_logprobs=0,
)


def _params(settings: ChatSettings) -> dict[str, object]:
    names = {found.name for found in declared()}
    return {name: value for name, value in asdict(settings).items() if name in names}


def test_the_controls_read_back_as_the_settings_they_show() -> None:
    for settings in (ChatSettings("m"), SET):
        assert from_widgets(widget_values(settings)) == _params(settings)


def test_controls_left_at_their_not_set_value_read_as_not_set() -> None:
    shown = widget_values(ChatSettings("m"))
    assert (shown["top_p_set"], shown["top_p"]) == (False, 1.0)
    assert (shown["presence_penalty"], shown["reasoning_effort"], shown["top_logprobs"]) == (
        0.0,
        "default",
        5,
    )
    assert from_widgets({**shown, "seed": None, "top_logprobs": 9}) == _params(ChatSettings("m"))
    on = from_widgets({**shown, "logprobs": True, "top_logprobs": None, "top_p": 0.2})
    assert (on["top_logprobs"], on["top_p"]) == (5, None)  # blank: its default; no switch


def test_the_docs_table_is_the_one_the_declarations_make() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "chatlab.doc_tables", "parameters"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert printed == markdown_table()
    assert printed.count("\n") == len(declared()) + 2
    assert printed in (ROOT / "docs" / "using.md").read_text(), "run the generator"
