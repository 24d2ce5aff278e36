"""What a reply shows while it streams: the wait, the pace, and the thinking so far.

A slow first token used to look like a dead page (a lone cursor); the line drawn under
the reply says how long the server has kept it waiting, then how fast it writes. The
thinking is shown as a window onto its last characters, redrawn a few times a second:
cut anywhere, that window showed word fragments ("ink1 think2"), so it is cut between
words only, and the last word is held back until the next delta (or the end) shows it
is whole.
"""

from __future__ import annotations

__all__ = ["progress_line", "whole_words"]


def whole_words(text: str, limit: int, *, done: bool = False) -> str:
    """The end of ``text`` (at most about ``limit`` characters) in whole words.

    A word the window starts inside is dropped, and, unless ``done``, so is a last word
    that nothing follows yet (the next delta may continue it). Runs of whitespace become
    single spaces.
    """
    start = max(0, len(text) - limit)
    words = text[start:].split()
    if words and start > 0 and not text[start - 1].isspace() and not text[start].isspace():
        words = words[1:]
    if words and not done and not text[-1].isspace():
        words = words[:-1]
    return " ".join(words)


def progress_line(waited: float, *, answered: bool, tokens_per_second: float | None) -> str:
    """The line under a streaming reply: the wait so far, or the pace once text comes."""
    if not answered:
        return f"Waiting for the server · {waited:.0f} s"
    if tokens_per_second is None:
        return f"Receiving · {waited:.0f} s"
    return f"Receiving · {tokens_per_second:.0f} tokens/s · {waited:.0f} s"
