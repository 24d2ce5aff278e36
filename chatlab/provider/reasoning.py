"""A reasoning model's thinking, kept apart from its answer.

Servers send it in one of two ways: in its own delta field (``reasoning_content`` from
DeepSeek and vLLM, ``reasoning`` from Ollama and OpenRouter), or inside the content,
wrapped in ``<think>…</think>`` at the very start (models served raw, e.g. by llama.cpp
without a reasoning parser). ``ThinkSplitter`` takes streamed content and splits off such
a leading block, holding back only as much text as could still be the start of a tag.
The thinking is shown, stored and exported, but never sent back as context.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Splits streamed content into (thinking, answer), one delta at a time."""

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> answer, or start -> answer
        self._pending = ""
        self._after_block = False  # the newlines that follow "</think>" are not the answer

    def feed(self, text: str) -> tuple[str, str]:
        """Thinking and answer text this delta completes (either may be empty)."""
        if self._state == "answer":
            return "", self._answer(text)
        self._pending += text
        if self._state == "start":
            head = self._pending.lstrip()
            if head.startswith(OPEN):
                self._state, self._pending = "thinking", head[len(OPEN) :]
            elif OPEN.startswith(head):
                return "", ""  # all blank, or maybe the start of "<think>": wait
            else:
                self._state, answer, self._pending = "answer", self._pending, ""
                return "", answer
        end = self._pending.find(CLOSE)
        if end >= 0:
            thinking, answer = self._pending[:end], self._pending[end + len(CLOSE) :]
            self._state, self._pending, self._after_block = "answer", "", True
            return thinking, self._answer(answer)
        keep = len(CLOSE) - 1  # the tail may be the start of "</think>"
        thinking, self._pending = self._pending[:-keep], self._pending[-keep:]
        return thinking, ""

    def _answer(self, text: str) -> str:
        if self._after_block:
            text = text.lstrip("\n")
            self._after_block = not text
        return text

    def flush(self) -> tuple[str, str]:
        """What is still held back, once the stream has ended."""
        pending, self._pending = self._pending, ""
        return (pending, "") if self._state == "thinking" else ("", pending)
