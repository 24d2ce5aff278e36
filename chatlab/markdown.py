"""Model text made safe and cheap to render as Markdown.

Two jobs. ``safe_markdown`` rewrites what a Markdown renderer would otherwise act on:
images become plain links (the browser must not fetch whatever URL a model wrote), and
the ``\\( \\)`` / ``\\[ \\]`` LaTeX delimiters models like become the ``$`` / ``$$`` ones
Streamlit's KaTeX understands. Code (fenced blocks and inline spans) is left as written.
HTML needs nothing here: it is never rendered as HTML (``unsafe_allow_html`` stays off).

``BlockSplitter`` lets a streamed reply be drawn without resending it whole on every
token: it cuts the text into finished blocks (paragraphs outside code fences, and
closed code fences) that are drawn once, and the unfinished tail, which is redrawn.
It sees each character once, so a long reply costs linear work.
"""

from __future__ import annotations

import re

_CODE_SPAN = r"(?P<code>(?P<ticks>`+)[^`]*?(?P=ticks))"
# An even run of backslashes (maybe none) before "![": the "!" itself is not escaped.
_UNESCAPED = r"(?P<bs>(?<!\\)(?:\\\\)*)"
_IMAGE = _UNESCAPED + r"!\[(?P<alt>[^\]\n]*)\](?P<target>\([^)\n]*\)|\[[^\]\n]*\])"
# Math content holds no delimiter of its own, so a second pass finds nothing to redo.
_MATH_BODY = r"(?:(?!\\[()\[\]])[^$])+?"
_DISPLAY_MATH = rf"\\\[(?P<display>{_MATH_BODY})\\\]"
_INLINE_MATH = rf"\\\((?P<inline>{_MATH_BODY})\\\)"
_PATTERN = re.compile("|".join((_CODE_SPAN, _IMAGE, _DISPLAY_MATH, _INLINE_MATH)), re.DOTALL)
_BANG = re.compile("|".join((_CODE_SPAN, _UNESCAPED + r"!\[")))
_FENCE = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})")


def _rewrite(match: re.Match[str]) -> str:
    if match.group("code") is not None:
        return match.group(0)
    if match.group("target") is not None:
        alt = match.group("alt").strip() or "image"
        return f"{match.group('bs')}[🖼 {alt}]{match.group('target')}"
    if match.group("display") is not None:
        return f"$${match.group('display')}$$"
    return f"${match.group('inline')}$"


def _escape_bang(match: re.Match[str]) -> str:
    if match.group("code") is not None:
        return match.group(0)
    return match.group("bs") + "\\!["


def _rewrite_prose(text: str) -> str:
    if "!" not in text and "\\" not in text:
        return text
    # Friendly links for the images a regex can see; then, as the safety net for every
    # form it cannot (nested brackets, multi-line alt text, references...), escape each
    # remaining "![": CommonMark forms no image from "\![", so the browser fetches nothing.
    return _BANG.sub(_escape_bang, _PATTERN.sub(_rewrite, text))


def safe_markdown(text: str) -> str:
    """``text`` with images turned into links and LaTeX delimiters normalised."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            out.append(_rewrite_prose("".join(prose)))
            prose = []
            fence = opening.group("marker")
            out.append(line)
        elif fence is not None:
            out.append(line)
            if _closes(line, fence):
                fence = None
        else:
            prose.append(line)
    out.append(_rewrite_prose("".join(prose)))
    return "".join(out)


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
        self._partial = ""  # the line being written
        self._fence: str | None = None
        self._blank_seen = False

    def feed(self, delta: str) -> list[str]:
        """Add text; return the blocks this finished (often none)."""
        finished: list[str] = []
        *complete, self._partial = (self._partial + delta).split("\n")
        for line in complete:
            block = self._take(line)
            if block is not None:
                finished.append(block)
        return finished

    @property
    def tail(self) -> str:
        """The open block as it stands, including the line being written."""
        return "\n".join([*self._lines, self._partial]).strip("\n")

    def _take(self, line: str) -> str | None:
        if self._fence is not None:
            self._lines.append(line)
            if _closes(line, self._fence):
                self._fence = None
                return self._flush()
            return None
        opening = _FENCE.match(line)
        if opening:
            done = self._flush() if self._has_text() else None
            self._lines = [line]
            self._fence = opening.group("marker")
            return done
        if not line.strip():
            self._blank_seen = bool(self._lines)
            self._lines.append(line)
            return None
        # A blank line then an unindented line starts a new block; an indented one
        # continues the last (a list item's second paragraph, say).
        done = None
        if self._blank_seen and self._has_text() and not line[:1].isspace():
            done = self._flush()
        self._lines.append(line)
        self._blank_seen = False
        return done

    def _has_text(self) -> bool:
        return any(line.strip() for line in self._lines)

    def _flush(self) -> str | None:
        block = "\n".join(self._lines).strip("\n")
        self._lines = []
        self._blank_seen = False
        return block or None
