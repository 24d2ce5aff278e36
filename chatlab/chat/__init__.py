"""The chat feature's logic: turns planned, begun and settled; conversations exported."""

from __future__ import annotations

from chatlab.chat.export import markdown_document
from chatlab.chat.live import progress_line, whole_words
from chatlab.chat.turns import CONTINUABLE, Plan, context_full, request_messages

__all__ = [
    "CONTINUABLE",
    "Plan",
    "context_full",
    "markdown_document",
    "progress_line",
    "request_messages",
    "whole_words",
]
