"""A conversation as a Markdown document, for download.

Rendering belongs to the feature that shows it, not to the store: ``Store.load_path``
returns the title and the current path as plain data, and this module writes them out.
It reads nothing and stores nothing, so the same function serves any source of messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from chatlab.markdown import plain
from chatlab.messages import ChatMessage, Status
from chatlab.transfer import DEFAULT_TITLE, clean_text

__all__ = ["markdown_document"]

_STATUS_NOTES = {
    Status.STREAMING: "unfinished",
    Status.STOPPED: "stopped before the end",
    Status.LENGTH: "cut off at the token limit",
    Status.CONTENT_FILTER: "stopped by the content filter",
    Status.FAILED: "interrupted by an error",
}
_BACKTICK_RUN = re.compile("`+")


def markdown_document(title: str, path: Sequence[ChatMessage]) -> str:
    """A conversation's current path as a Markdown document.

    Every message body sits in a code fence longer than any backtick run inside it, so
    no text can fake a heading, render HTML or fetch an image; names are escaped.
    """
    now = datetime.now(UTC)
    lines = [
        f"# {plain(title, DEFAULT_TITLE)}",
        "",
        f"*Exported from Chat Lab, {now:%Y-%m-%d %H:%M} UTC*",
    ]
    for message in path:
        heading = message.role.capitalize()
        if message.stats is not None:
            heading += f" · {plain(message.stats.model)}"
        if message.content or not message.tool_calls:
            lines += ["", f"## {heading}", "", *_fenced(message.content)]
        else:
            lines += ["", f"## {heading}"]
        for call in message.tool_calls:  # each call, then its result
            lines += ["", f"**Tool call: {plain(call.name)}**", "", *_fenced(call.arguments)]
            if call.result is not None:
                lines += ["", "*Result:*", "", *_fenced(call.result)]
        note = _STATUS_NOTES.get(message.status)
        if note:
            lines += ["", f"*({note})*"]
        if message.attachments:
            names = ", ".join(plain(a.name) for a in message.attachments)
            lines += ["", f"*(attached: {names})*"]
        if message.notices:
            lines += ["", *(_quoted(notice) for notice in message.notices)]
    return "\n".join(lines) + "\n"


def _fenced(text: str) -> list[str]:
    if not text:
        return ["*(empty)*"]
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, clean_text(text).replace("\r", "\n"), fence]


def _quoted(notice: str) -> str:
    return "> " + plain(notice).replace("\n", "\n> ")
