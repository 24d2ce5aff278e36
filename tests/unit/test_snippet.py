"""The request viewer's texts: the JSON body, and a Python program that sends the same body."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatlab.config import OPENAI_BASE_URL
from chatlab.messages import ChatSettings
from chatlab.provider.client import Quirks, request_options
from chatlab.provider.snippet import public_url, python_snippet, request_json
from testing.fake_openai import FakeOpenAI, Reply
from tests.conftest import TEST_KEY

HOSTILE = (
    "He said \"hi\" and 'bye'\n\ttab \\ backslash \"\"\"triple\"\"\" '''too''' "
    "\x00 nul \u200b zero-width \u202e rtl 한국어 العربية 👩‍👩‍👧 {braces} %s {0}\r\n"
)


def _body(text: str = HOSTILE) -> dict[str, Any]:
    settings = ChatSettings(model="gpt-4o-mini", system_prompt=f"System: {text}")
    messages = [
        {"role": "system", "content": settings.system_prompt},
        {"role": "user", "content": text},
        {"role": "assistant", "content": f"Reply to {text}"},
        {"role": "user", "content": "and again " + text},
    ]
    return request_options(settings, messages, Quirks())


def _run(program: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The snippet as a person runs it: a file, the venv's python, a key in the environment."""
    script = tmp_path / "snippet.py"
    script.write_text(program, encoding="utf-8")
    env = {**os.environ, "OPENAI_API_KEY": "sk-dummy-from-env", "PYTHONIOENCODING": "utf-8"}
    env.pop("OPENAI_BASE_URL", None)
    return subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_the_snippet_sends_the_same_body_and_prints_the_reply(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    body = _body()
    fake.enqueue(Reply(text="Streamed back in words"))

    ran = _run(python_snippet(body, fake.base_url), tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert fake.last_chat_body == body
    assert ran.stdout == "Streamed back in words\n"
    (recorded,) = fake.chat_requests
    assert recorded.headers.get("authorization") == "Bearer sk-dummy-from-env"


def test_fields_the_sdk_has_no_keyword_for_are_still_sent(fake: FakeOpenAI, tmp_path: Path) -> None:
    body = {**_body("hi"), "top_k": 40, "min-p": 0.05, "class": "a Python keyword"}
    fake.enqueue(Reply(text="ok"))

    ran = _run(python_snippet(body, fake.base_url), tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert fake.last_chat_body == body


def test_a_request_that_did_not_stream_prints_the_whole_reply(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    fake.enqueue(Reply(text="All at once"))

    ran = _run(python_snippet(body, fake.base_url), tmp_path)

    assert ran.returncode == 0, ran.stderr
    assert fake.last_chat_body == body
    assert ran.stdout == "All at once\n"


def test_the_snippet_never_holds_a_key_or_a_secret_from_the_url() -> None:
    snippet = python_snippet(_body(), "https://user:s3cret@llm.example.com:8443/v1?api-key=abc#x")

    assert "OpenAI(base_url='https://llm.example.com:8443/v1')" in snippet
    for secret in ("s3cret", "user:", "api-key", "abc#x", TEST_KEY):
        assert secret not in snippet
    assert "OPENAI_API_KEY" in snippet


def test_openai_itself_needs_no_base_url() -> None:
    for url in (None, "", OPENAI_BASE_URL):
        snippet = python_snippet(_body("hi"), url)
        assert "client = OpenAI()" in snippet
        assert "base_url" not in snippet
    assert public_url("http://[::1]:8080/v1") == "http://[::1]:8080/v1"
    assert public_url("http://localhost:notaport/v1") == "http://localhost/v1"


def _sent_arguments(snippet: str) -> dict[str, Any]:
    """The keyword arguments of the snippet's ``create(...)`` call, read as Python reads them."""
    (call,) = [
        node
        for node in ast.walk(ast.parse(snippet))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create"
    ]
    arguments = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    return {**arguments.pop("extra_body", {}), **arguments}


texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300) | st.sampled_from(
    ['"""', "'''", "\\", "\\n", "'\"'", "\n\r\t\x0b\x0c\x1c\u2028", "}" * 40]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, extra_key=st.text(min_size=1, max_size=20))
@example(text=HOSTILE, extra_key="from")
@example(text="x " * 500 + "\n" * 50, extra_key="not an identifier")
def test_any_text_round_trips_through_the_snippet_and_the_json(text: str, extra_key: str) -> None:
    body = {**_body(text), extra_key: [text, {"nested": text}]}

    assert _sent_arguments(python_snippet(body, "http://127.0.0.1:9/v1")) == body
    assert json.loads(request_json(body)) == body
