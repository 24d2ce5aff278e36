"""Two outputs compared word by word: what both say, what only the first, what only the second.

A text is cut into tokens, each a word with the whitespace before it (``" red"``), and a
whitespace-only tail; so joining a side's segments gives that text back exactly, spaces
and line breaks included (``sides``). ``difflib.SequenceMatcher`` (``autojunk`` off: a
frequent word such as "the" still anchors a match) aligns the tokens; neighbouring
segments of one kind are merged.

The cost: the common head and tail are taken off first (linear), and only the changed
middle is aligned, which costs up to the product of both middles' token counts. A middle
longer than ``MAX_ALIGNED`` tokens on either side is said as one removal and one addition,
so two 200,000-character replies are compared in milliseconds, not minutes.

``diff_html`` is the one way a diff reaches the page as HTML: every piece of text (model
text, untrusted) goes through ``html.escape`` and loses the bidi controls that could flip
what follows it; the only markup is the ``<del>``/``<ins>``/``<div>`` written here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Literal, NamedTuple

from rapidfuzz.distance import Indel

__all__ = ["MAX_ALIGNED", "Segment", "changed_words", "diff_html", "diff_words", "sides"]

MAX_ALIGNED = 5_000  # tokens of a changed middle aligned word by word (see the docstring)
Kind = Literal["equal", "removed", "added"]
_TOKEN = re.compile(r"\s*\S+|\s+")
_WORD = re.compile(r"\S+")
# Bidi embeddings, overrides and isolates (as chatlab.markdown.plain drops them); NUL and
# lone surrogates cannot be sent to the browser.
_CLEAN = {
    **{c: None for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
    **{c: "\ufffd" for c in (0, *range(0xD800, 0xE000))},
}
_STYLES = {
    "equal": "",
    "removed": "background-color:rgba(255,75,75,0.25);text-decoration:line-through",
    "added": "background-color:rgba(33,195,84,0.25);text-decoration:none",
}
_TAGS = {"equal": "span", "removed": "del", "added": "ins"}
_BOX = "white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate;line-height:1.6"


class Segment(NamedTuple):
    """A run of text both outputs share (equal), or only the first (removed) or second (added).

    A named tuple, not a dataclass: a diff of two long replies makes thousands of them."""

    kind: Kind
    text: str


def tokens(text: str) -> list[str]:
    """``text`` as words, each with the whitespace before it; they join to ``text``."""
    return _TOKEN.findall(text)


def diff_words(old: str, new: str) -> list[Segment]:
    """The segments that turn ``old`` into ``new``, in reading order (module docstring)."""
    first, second = tokens(old), tokens(new)
    head = _common_head(first, second)
    tail = _common_head(first[head:][::-1], second[head:][::-1])
    middle_old = first[head : len(first) - tail]
    middle_new = second[head : len(second) - tail]
    found = [Segment("equal", "".join(first[:head]))]
    found += _aligned(middle_old, middle_new)
    found.append(Segment("equal", "".join(first[len(first) - tail :])))
    return _merged(found)


def _common_head(first: Sequence[str], second: Sequence[str]) -> int:
    count = 0
    for one, other in zip(first, second, strict=False):
        if one != other:
            break
        count += 1
    return count


def _aligned(old: list[str], new: list[str]) -> list[Segment]:
    if len(old) > MAX_ALIGNED or len(new) > MAX_ALIGNED:
        return [Segment("removed", "".join(old)), Segment("added", "".join(new))]
    found = []
    for op in Indel.opcodes(old, new):
        if op.tag == "equal":
            found.append(Segment("equal", "".join(old[op.src_start : op.src_end])))
        elif op.tag == "delete":
            found.append(Segment("removed", "".join(old[op.src_start : op.src_end])))
        else:  # insert: Indel neither replaces nor substitutes
            found.append(Segment("added", "".join(new[op.dest_start : op.dest_end])))
    return found


def _merged(segments: list[Segment]) -> list[Segment]:
    """Between two equal segments, one removed then one added; empty segments dropped."""
    merged: list[Segment] = []
    removed: list[str] = []
    added: list[str] = []
    for segment in [*segments, Segment("equal", "")]:
        if segment.kind == "removed":
            removed.append(segment.text)
        elif segment.kind == "added":
            added.append(segment.text)
        else:
            merged += [Segment("removed", "".join(removed)), Segment("added", "".join(added))]
            merged.append(segment)
            removed, added = [], []
    joined: list[Segment] = []
    for segment in merged:
        if not segment.text:
            continue
        if joined and joined[-1].kind == segment.kind:
            joined[-1] = Segment(segment.kind, joined[-1].text + segment.text)
        else:
            joined.append(segment)
    return joined


def sides(segments: Sequence[Segment]) -> tuple[list[Segment], list[Segment]]:
    """The first output's segments (equal and removed) and the second's (equal and added)."""
    return (
        [segment for segment in segments if segment.kind != "added"],
        [segment for segment in segments if segment.kind != "removed"],
    )


def changed_words(segments: Sequence[Segment]) -> tuple[int, int]:
    """How many words were removed and how many added."""
    removed = sum(len(_WORD.findall(s.text)) for s in segments if s.kind == "removed")
    added = sum(len(_WORD.findall(s.text)) for s in segments if s.kind == "added")
    return removed, added


def diff_html(segments: Sequence[Segment], empty: str = "(empty)") -> str:
    """One side's segments as HTML: every text escaped, removed in ``<del>``, added in
    ``<ins>``; ``empty`` (escaped too) in italics when the side has no text."""
    pieces = [_piece(segment) for segment in segments]
    if not pieces:
        pieces = [f"<em>{_escaped(empty)}</em>"]
    return f'<div dir="auto" style="{_BOX}">{"".join(pieces)}</div>'


def _piece(segment: Segment) -> str:
    """A segment's text in its tag; a changed one's leading spaces outside it (unmarked)."""
    tag, style = _TAGS[segment.kind], _STYLES[segment.kind]
    words = segment.text.lstrip()
    lead = segment.text[: len(segment.text) - len(words)] if words and style else ""
    styled = f' style="{style}"' if style else ""
    return f"{_escaped(lead)}<{tag}{styled}>{_escaped(segment.text[len(lead) :])}</{tag}>"


def _escaped(text: str) -> str:
    return html.escape(text.translate(_CLEAN), quote=True)
