"""A spec run from the command line opens in the Compare page: listed among the stored
runs, with its prompt variants, its checks on each card and its Scores tab."""

from __future__ import annotations

import io
from pathlib import Path

from chatlab.compare.command import main
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory

COMPARE_PAGE = "pages/compare.py"
SPEC = """\
prompts:
  - "Say {{word}}"
  - "Shout {{word}}"
tests:
  - {word: hola}
  - {word: adios}
samples: 1
assert:
  - {type: contains, value: "Say", ignore_case: false}
threshold: 0.4
"""


def test_a_spec_run_from_the_command_line_opens_in_the_compare_page(
    make_app: AppFactory, fake: FakeOpenAI, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    # The fake echoes each prompt: prompt A's replies contain "Say", prompt B's do not.
    assert main([str(spec)], out=out, err=err) == 0, err.getvalue()
    assert "Overall pass rate 50% reaches the threshold 40%." in out.getvalue()

    at = make_app().run().switch_page(COMPARE_PAGE).run()
    (listed,) = [b for b in at.button if (b.key or "").startswith("compare_open_")]
    assert "Say \\{\\{word\\}\\}" in listed.label and "4 requests" in listed.label  # escaped
    at = listed.click().run()
    assert not at.exception
    assert [tab.label for tab in at.tabs][:2] == ["Cards", "Scores"]
    page_text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert "prompt A · row 1" in page_text and "prompt B · row 2" in page_text
    assert "✓" in page_text  # prompt A's cards passed
    assert "does not contain" in page_text  # prompt B's failed check, with why
