"""Model text made safe and cheap to render as Markdown; other untrusted text made inert.

``plain`` is the one escaping step for text Chat Lab did not write (server errors, model
names, titles, imports): any Markdown renderer then shows it literally.

``safe_markdown`` rewrites what a Markdown renderer would otherwise act on in model and
user messages: images become plain links (the browser must not fetch whatever URL a
model wrote), and the ``\\( \\)`` / ``\\[ \\]`` LaTeX delimiters models like become the
``$`` / ``$$`` ones Streamlit's KaTeX understands. Code is left as written. What is an
image and what is code is decided by a CommonMark parser (markdown-it-py, with GFM
tables and strikethrough), not by regexes, and the result is parsed again to check that
no image is left. HTML needs nothing here: it is never rendered (``unsafe_allow_html``
stays off).

``render_mode`` bounds what the browser is handed: a block too long, or too dense in
inline syntax (the browser's Markdown renderer is super-linear in delimiters), is drawn
as plain text instead.

``BlockSplitter`` lets a streamed reply be drawn without resending it whole on every
token: it cuts the text into finished blocks (paragraphs outside code fences, and
closed code fences) that are drawn once, and the unfinished tail, which is redrawn.

Every transformation here is linear in the text (no backtracking regexes), and the parser
is only handed blocks that ``render_mode`` accepts.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

# A block longer than this is drawn as plain text: the browser took minutes on 1.3 MB.
MAX_MARKDOWN_CHARS = 20_000
# More inline delimiters than this in one block: plain text (20 KB of "*a*", about
# 13,000 delimiters, froze a tab for 16 s, and the cost grows faster than the count).
MAX_INLINE_DELIMITERS = 2_000
_DELIMITERS = "*_~`[]<!"
# A line opening this many characters of quote and list markers nests blocks that deep.
_DEEP_NESTING = re.compile(r"^[ \t>*+\-\d.)]{200}", re.MULTILINE)

RenderMode = Literal["markdown", "plain"]


def render_mode(block: str) -> RenderMode:
    """``"plain"`` for a block too long or too dense in inline syntax to draw as Markdown."""
    if len(block) > MAX_MARKDOWN_CHARS:
        return "plain"
    if _delimiters(block) > MAX_INLINE_DELIMITERS or _DEEP_NESTING.search(block):
        return "plain"
    return "markdown"


def _delimiters(block: str) -> int:
    return sum(block.count(c) for c in _DELIMITERS)


def drawable_parts(text: str) -> list[tuple[RenderMode, str]]:
    """``text`` as few parts as the browser can draw: runs of whole blocks, joined as long
    as together they still draw as Markdown, and each block too big alone, as plain text.

    Block by block, a 37 KB reply was 422 elements, each in a container of its own: 3.3
    times its size sent again with every redraw of the page that shows it.
    """
    if render_mode(text) == "markdown":
        return [("markdown", text)]
    return list(_split_parts(text))


# Each full run draws every message on the page again: splitting a 40 KB reply took 1.4 ms,
# as much as a tenth of a run, for the same text every time. Only such texts (over the
# Markdown limits, a few per page at most) are kept.
@functools.lru_cache(maxsize=32)
def _split_parts(text: str) -> tuple[tuple[RenderMode, str], ...]:
    splitter = BlockSplitter()
    # The last line ended, so the last block is a block of its own, not held with the one
    # before it as a stream's unfinished tail is.
    return tuple(_runs([*splitter.feed(text + "\n"), splitter.tail]))


def block_parts(blocks: list[str]) -> list[tuple[RenderMode, str]]:
    """Whole blocks (a stream's, finished since its last frame) as few parts as the browser
    can draw, by the rule of ``drawable_parts``."""
    joined = "\n\n".join(blocks)
    if render_mode(joined) == "markdown":
        return [("markdown", joined)]
    return _runs(blocks)


def _runs(blocks: list[str]) -> list[tuple[RenderMode, str]]:
    parts: list[tuple[RenderMode, str]] = []
    run: list[str] = []
    size = marks = 0
    for block in blocks:
        if not block:
            continue
        if render_mode(block) == "plain":
            parts += [("markdown", "\n\n".join(run))] if run else []
            parts.append(("plain", block))
            run, size, marks = [], 0, 0
            continue
        more = _delimiters(block)
        # Joined by a blank line, which opens no line of deep nesting: the whole run draws
        # as Markdown while its length and its delimiters stay under the limits.
        if run and (
            size + 2 + len(block) > MAX_MARKDOWN_CHARS or marks + more > MAX_INLINE_DELIMITERS
        ):
            parts.append(("markdown", "\n\n".join(run)))
            run, size, marks = [], 0, 0
        size += len(block) + (2 if run else 0)
        marks += more
        run.append(block)
    if run:
        parts.append(("markdown", "\n\n".join(run)))
    return parts


# -- safe_markdown: images found on the parsed tree -----------------------------------------

# Deeper nesting than this makes markdown-it stop parsing where Streamlit's renderer goes
# on; such text is shown as plain text rather than trusted.
_MAX_NESTING = 64
_PARSER = MarkdownIt("commonmark", {"maxNesting": _MAX_NESTING}).enable(["table", "strikethrough"])
# The judge must see every image the browser would draw, whatever its URL scheme.
_PARSER.validateLink = lambda url: True  # type: ignore[method-assign]
# An even run of backslashes (maybe none) before "![": the "!" itself is not escaped.
# The lookbehind makes each run start the only place a match is tried: linear time.
_BANG = re.compile(r"(?<!\\)((?:\\\\)*)!(?=\[)")
# Each candidate "!" is swapped for its own marker from Supplementary Private Use Area-B
# before parsing, so the parse tells, per "!", whether it was an image, code, or neither.
_MARKER_BASE = 0x100000
_MARKERS = re.compile("[\U00100000-\U0010fffd]")
_MARKED_BRACKET = re.compile("([\U00100000-\U0010fffd])(\\[?)(\\]?)")
_CODE_TOKENS = {"code_inline", "fence", "code_block"}
_BLANK_LINE = re.compile(r"(\n[ \t]*\n)")
_BACKTICKS = re.compile(r"`+")
# Math content holds no delimiter of its own: each match scans to the next delimiter.
_MATH_BODY = r"(?:(?!\\[()\[\]])[^$])+?"
_MATH = re.compile(
    r"(?<!\\)(?P<bs>(?:\\\\)*)"  # the opening backslash is not itself escaped
    rf"(?:\\\[(?P<display>{_MATH_BODY})\\\]|\\\((?P<inline>{_MATH_BODY})\\\))",
    re.DOTALL,
)


def safe_markdown(text: str) -> str:
    """``text`` with images turned into links and LaTeX delimiters normalised."""
    if render_mode(text) == "plain":
        return plain(text)
    if "![" not in text and "\\(" not in text and "\\[" not in text:
        return text
    # Line by line below, as the parser counts lines: "\r" alone ends one in CommonMark.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _MARKERS.search(text):  # our markers must be the only ones
        text = _MARKERS.sub("\ufffd", text)
    marked = _BANG.sub(_numbered_marker(), text)
    tokens = _PARSER.parse(marked)
    if _too_deep(tokens):
        return plain(text)
    images, code = _classify_markers(tokens)
    prose = _math_outside_code(marked, _code_lines(tokens))
    return _without_images(_MARKED_BRACKET.sub(_unmark(images, code), prose))


def _numbered_marker() -> Callable[[re.Match[str]], str]:
    count = iter(range(_MARKER_BASE, 0x10FFFE))
    return lambda match: match.group(1) + chr(next(count, 0xFFFD))


def _unmark(images: set[str], code: set[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        marker, bracket, empty_alt = match.groups()
        if marker in images and bracket:
            return "[🖼 image]" if empty_alt else "[🖼 "
        # In code the "!" is text as written; anywhere else an escaped "!" shows the same
        # and can never open an image, whatever another parser makes of the rest.
        return ("!" if marker in code else "\\!") + bracket + empty_alt

    return replace


def _walk(tokens: list[Token]) -> list[Token]:
    return [t for token in tokens for t in (token, *(token.children or []))]


def _too_deep(tokens: list[Token]) -> bool:
    return any(token.level >= _MAX_NESTING - 2 for token in _walk(tokens))


def _classify_markers(tokens: list[Token]) -> tuple[set[str], set[str]]:
    """Markers whose "!" made an image (now a link), and markers inside code."""
    images: set[str] = set()
    code: set[str] = set()
    previous: Token | None = None
    for token in _walk(tokens):
        if token.type in _CODE_TOKENS:
            code.update(_MARKERS.findall(token.content))
        if (
            token.type == "link_open"
            and previous is not None
            and previous.type == "text"
            and _MARKERS.fullmatch(previous.content[-1:])
        ):
            images.add(previous.content[-1])
        previous = token
    return images, code


def _code_lines(tokens: list[Token]) -> set[int]:
    lines: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def _math_outside_code(text: str, code_lines: set[int]) -> str:
    """``\\( \\)`` and ``\\[ \\]`` become ``$`` and ``$$``, except in code."""
    out: list[str] = []
    region: list[str] = []
    for number, line in enumerate(text.split("\n")):
        if number in code_lines:
            out.extend(_latex_in_prose("\n".join(region)).split("\n") if region else [])
            region = []
            out.append(line)
        else:
            region.append(line)
    if region:
        out.extend(_latex_in_prose("\n".join(region)).split("\n"))
    return "\n".join(out)


def _latex_in_prose(text: str) -> str:
    if "\\(" not in text and "\\[" not in text:
        return text
    # Paragraph by paragraph: a code span never crosses a blank line.
    return "".join(_latex_outside_spans(part) for part in _BLANK_LINE.split(text))


def _latex_outside_spans(paragraph: str) -> str:
    out: list[str] = []
    position = 0
    for start, end in _code_spans(paragraph):
        out.append(_MATH.sub(_dollars, paragraph[position:start]))
        out.append(paragraph[start:end])
        position = end
    out.append(_MATH.sub(_dollars, paragraph[position:]))
    return "".join(out)


def _code_spans(paragraph: str) -> list[tuple[int, int]]:
    """CommonMark code spans: a backtick run up to the next run of the same length."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(paragraph)]
    following: list[int | None] = [None] * len(runs)
    seen: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = seen.get(length)
        seen[length] = index
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        closer = following[index]
        if closer is None:
            index += 1
            continue
        spans.append((runs[index][0], runs[closer][1]))
        index = closer + 1
    return spans


def _dollars(match: re.Match[str]) -> str:
    if match.group("display") is not None:
        return f"{match.group('bs')}$${match.group('display')}$$"
    return f"{match.group('bs')}${match.group('inline')}$"


def _without_images(text: str) -> str:
    """``text`` checked by a fresh parse; blocks that still hold an image are escaped."""
    for repair in (_escape_bangs, plain):
        blocks = _blocks_with_images(text)
        if not blocks:
            return text
        lines = text.split("\n")
        for start, end in blocks:
            repaired = repair("\n".join(lines[start:end])).split("\n")
            if len(repaired) != end - start:
                return plain(text)
            lines[start:end] = repaired
        text = "\n".join(lines)
    return plain(text) if _blocks_with_images(text) else text


def _escape_bangs(text: str) -> str:
    return _BANG.sub(lambda match: match.group(1) + "\\!", text)


def _blocks_with_images(text: str) -> list[tuple[int, int]]:
    """Line ranges of the top-level blocks that draw an image."""
    tokens = _PARSER.parse(text)
    if _too_deep(tokens):
        return [(0, text.count("\n") + 1)]
    found: list[tuple[int, int]] = []
    block: tuple[int, int] = (0, 0)
    for token in tokens:
        if token.level == 0 and token.map:
            block = (token.map[0], token.map[1])
        images = any(child.type == "image" for child in token.children or [])
        if images and block not in found:
            found.append(block)
    return found


# -- BlockSplitter: a streamed reply cut into blocks --------------------------------------

_FENCE = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})")


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        stripped.startswith(fence[0] * len(fence))
        and not stripped.strip(fence[0])
        and len(line) - len(line.lstrip(" ")) <= 3
    )


class BlockSplitter:
    """Cuts streamed text into finished blocks and an unfinished tail."""

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open block
        self._partial: list[str] = []  # pieces of the line being written
        self._fence: str | None = None
        self._blank_seen = False
        self._text_seen = False  # the open block has a non-blank line
        self._sizes = [0, 0]  # characters in the open block's lines, and in the partial line

    def feed(self, delta: str) -> list[str]:
        """Add text; return the blocks this finished (often none)."""
        self._sizes[1] += len(delta)
        if "\n" not in delta:  # a long line arriving in pieces is joined once, at its end
            self._partial.append(delta)
            return []
        finished: list[str] = []
        *complete, last = ("".join(self._partial) + delta).split("\n")
        self._partial = [last]
        self._sizes[1] = len(last)
        for line in complete:
            block = self._take(line)
            if block is not None:
                finished.append(block)
        return finished

    @property
    def tail_size(self) -> int:
        """About the length of ``tail`` (give or take its blank edges), without building it."""
        return sum(self._sizes)

    @property
    def tail(self) -> str:
        """The open block as it stands, including the line being written."""
        return "\n".join([*self._lines, "".join(self._partial)]).strip("\n")

    def tail_end(self, size: int) -> str:
        """The last ``size`` characters of the tail, without joining all of it."""
        pieces: list[str] = []
        wanted = size
        for piece in reversed(self._partial):
            pieces.append(piece[-wanted:])
            wanted -= len(pieces[-1])
            if wanted <= 0:
                return "".join(reversed(pieces))
        for line in reversed(self._lines):
            pieces.append("\n")
            wanted -= 1
            if wanted <= 0:
                break
            pieces.append(line[-wanted:] if len(line) >= wanted else line)
            wanted -= len(pieces[-1])
            if wanted <= 0:
                break
        return "".join(reversed(pieces))[-size:].strip("\n")

    def _take(self, line: str) -> str | None:
        if self._fence is not None:
            self._append(line)
            if _closes(line, self._fence):
                self._fence = None
                return self._flush()
            return None
        opening = _FENCE.match(line)
        if opening:
            done = self._flush() if self._text_seen else None
            self._append(line)
            self._fence = opening.group("marker")
            self._text_seen = True
            return done
        if not line.strip():
            self._blank_seen = bool(self._lines)
            self._append(line)
            return None
        # A blank line then an unindented line starts a new block; an indented one
        # continues the last (a list item's second paragraph, say).
        done = None
        if self._blank_seen and self._text_seen and not line[:1].isspace():
            done = self._flush()
        self._append(line)
        self._blank_seen = False
        self._text_seen = True
        return done

    def _append(self, line: str) -> None:
        self._lines.append(line)
        self._sizes[0] += len(line) + 1

    def _flush(self) -> str | None:
        block = "\n".join(self._lines).strip("\n")
        self._lines = []
        self._sizes[0] = 0
        self._blank_seen = False
        self._text_seen = False
        return block or None


# -- plain: untrusted text shown literally ------------------------------------------------

# CommonMark lets a backslash escape any ASCII punctuation, so escaping all of it leaves
# no syntax: emphasis, headings, lists, code, links, HTML, tables, "$" math, directives.
_ESCAPES = {ord(c): "\\" + c for c in string.punctuation}
# Bidi embeddings/overrides/isolates inside untrusted text could flip what follows it;
# they are dropped and the text is isolated as a whole instead. Lone surrogates cannot be
# encoded to send to the browser; NUL is what CommonMark itself replaces.
_CLEAN = {
    **{c: None for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
    **{c: "\ufffd" for c in (0, *range(0xD800, 0xE000))},
    ord("\r"): "\n",
}
_FIRST_STRONG_ISOLATE, _POP_ISOLATE = "\u2068", "\u2069"
_RTL = {"R", "AL", "AN"}
# Streamlit's renderer also rewrites plain text nodes (after escapes are resolved):
# remark-emoji (":smile:") and ":streamlit:" become pictures. A WORD JOINER (invisible)
# breaks the pattern. Literal autolinks ("http://x") are left alone on purpose: a link is
# never fetched, and a URL in an error message must copy out exactly as shown.
_WORD_JOINER = "\u2060"
_TEXT_REWRITES = re.compile(r"(?<=:)(?=[\w+-]+:)")
_LINE_INDENT = re.compile(r"^[ \t]+", re.M)
# Characters that draw nothing: a text made only of these gets the caller's stand-in.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"}
_BLANK_LETTERS = set("\u115f\u1160\u3164\uffa0\u2800")


def plain(text: str, empty: str = "") -> str:
    """``text`` escaped so that any Markdown renderer shows it literally, bidi-isolated."""
    text = text.replace("\r\n", "\n").translate(_CLEAN)
    if _shows_nothing(text):
        return plain(empty) if empty else ""
    escaped = _TEXT_REWRITES.sub(_WORD_JOINER, text).translate(_ESCAPES)
    # Leading spaces would start an indented code block; HTML collapses them anyway.
    escaped = _LINE_INDENT.sub("", escaped)
    if _has_rtl(text):
        return _FIRST_STRONG_ISOLATE + escaped + _POP_ISOLATE
    return escaped


def _shows_nothing(text: str) -> bool:
    return all(
        c.isspace() or c in _BLANK_LETTERS or unicodedata.category(c) in _INVISIBLE_CATEGORIES
        for c in text
    )


def _has_rtl(text: str) -> bool:
    return not text.isascii() and any(unicodedata.bidirectional(c) in _RTL for c in text)
