"""A reply's request as pretty JSON, and as the same call written with the ``openai`` SDK.

The snippet is a whole program a person can paste and run: every value in it is a Python
literal written by ``pprint`` (``repr`` underneath), which reads back as exactly the
value it was made from, whatever the text holds (quotes, backslashes, newlines, triple
quotes, any script). Body fields the SDK has a keyword for become keyword arguments;
anything else goes through the SDK's ``extra_body``, so the program sends the same body.
The key is never in it: the SDK reads ``OPENAI_API_KEY`` from the environment.
"""

from __future__ import annotations

import inspect
import json
import keyword
import pprint
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

OPENAI_HOST = "api.openai.com"
WIDTH = 88
# The SDK's own options look like keywords but never reach the body.
_SDK_OPTIONS = frozenset({"self", "extra_headers", "extra_query", "extra_body", "timeout"})


@cache
def _body_keywords() -> frozenset[str]:
    """The keywords ``create`` takes for the body (the SDK loads here, not on import)."""
    from openai.resources.chat.completions import Completions

    return frozenset(inspect.signature(Completions.create).parameters) - _SDK_OPTIONS


_STREAM_PRINT = """for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
"""
_COMPLETION_PRINT = "print(completion.choices[0].message.content)\n"
# With tools, the calls are printed too: each call's name, then its arguments as they come.
_TOOLS_STREAM_PRINT = """for chunk in stream:
    if not chunk.choices:
        continue
    delta = chunk.choices[0].delta
    if delta.content:
        print(delta.content, end="", flush=True)
    for call in delta.tool_calls or []:
        if call.function and call.function.name:
            print(f"\\n[tool call {call.index}: {call.function.name}] ", end="")
        if call.function and call.function.arguments:
            print(call.function.arguments, end="", flush=True)
print()
"""
_TOOLS_COMPLETION_PRINT = """message = completion.choices[0].message
print(message.content or "")
for call in message.tool_calls or []:
    print(f"[tool call: {call.function.name}] {call.function.arguments}")
"""


def request_json(body: Mapping[str, Any]) -> str:
    """The body as sent, indented for reading (text shown as itself, not escaped)."""
    return json.dumps(body, indent=2, ensure_ascii=False)


def python_snippet(body: Mapping[str, Any], base_url: str | None) -> str:
    """A short program that makes the same request with the ``openai`` SDK and prints the reply."""
    streamed = body.get("stream") is True
    name = "stream" if streamed else "completion"
    known = {key: value for key, value in body.items() if _is_keyword(key)}
    extra = {key: value for key, value in body.items() if not _is_keyword(key)}
    if extra:
        known["extra_body"] = extra
    arguments = "".join(_argument(key, value) for key, value in known.items())
    if "tools" in body:  # a request offering tools (chatlab.tools): its calls printed too
        printing = _TOOLS_STREAM_PRINT if streamed else _TOOLS_COMPLETION_PRINT
    else:
        printing = _STREAM_PRINT if streamed else _COMPLETION_PRINT
    return (
        "from openai import OpenAI\n\n"
        f"{_client_line(base_url)}\n\n"
        f"{name} = client.chat.completions.create(\n{arguments})\n"
        f"{printing}"
    )


def _is_keyword(key: str) -> bool:
    return key in _body_keywords() and key.isidentifier() and not keyword.iskeyword(key)


def _argument(key: str, value: object) -> str:
    flat = pprint.pformat(value, width=sys.maxsize, sort_dicts=False)
    if len(key) + len(flat) + 6 <= WIDTH:
        return f"    {key}={flat},\n"
    if isinstance(value, list):  # messages: one per line, as the SDK's own examples write them
        items = "".join(f"        {_literal(item, 8)},\n" for item in value)
        return f"    {key}=[\n{items}    ],\n"
    return f"    {key}={_literal(value, len(key) + 5)},\n"


def _literal(value: object, column: int) -> str:
    """``value`` as a Python literal that starts at ``column``, wrapped to fit the width."""
    # repr never writes a raw newline inside a literal: every line break here is between
    # tokens, so indenting the lines after the first cannot change a value.
    written = pprint.pformat(value, width=max(WIDTH - column, 20), sort_dicts=False)
    return written.replace("\n", "\n" + " " * column)


def _client_line(base_url: str | None) -> str:
    shown = public_url(base_url)
    if shown is None:
        return "client = OpenAI()  # the key comes from OPENAI_API_KEY in the environment"
    return (
        "# The key comes from OPENAI_API_KEY in the environment (any value if the server\n"
        "# needs none).\n"
        f"client = OpenAI(base_url={shown!r})"
    )


def public_url(base_url: str | None) -> str | None:
    """The base URL without credentials, query or fragment; None for api.openai.com."""
    if not base_url:
        return None
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if host == OPENAI_HOST:
        return None
    # A URL may carry a secret (user:password@, ?key=): only scheme, host, port, path go.
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # not a number: a URL no request could have gone to
        port = None
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
