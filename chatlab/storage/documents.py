"""The checks a feature's JSON document passes before storage keeps it, and its reading.

Votes and side-by-side sessions are kept the same way: the JSON their feature wrote,
under an id the feature chose, beside a time or two storage queries by. Storage never
reads into the document, so what it checks is what any such row needs: the id is one line
of valid text, not blank, at most ``max_id`` characters; a time is aware (kept as UTC);
the document is a JSON object of at most ``max_chars`` characters of plain JSON (no NaN,
no Python objects), with lone surrogates, which no database can store, made U+FFFD. A
refusal is the feature's own ``StorageError`` subclass, in words naming what was refused
("The vote cannot be stored: ..."), raised before anything is written.

Reading back parses the stored text here rather than in the query: on SQLite a value
that is not JSON would fail the whole query, and one damaged row must not hide the rest.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatlab.storage.errors import StorageError
from chatlab.transfer import clean_text

__all__ = ["DocumentChecks", "parsed"]


@dataclass(frozen=True)
class DocumentChecks:
    """How one kind of document is checked, and refused in words."""

    what: str  # "The vote": what a refusal names first
    error: type[StorageError]
    max_id: int  # characters
    max_chars: int  # characters of JSON
    again: str  # the next step after a bad id or time ("Vote again.")
    smaller: str  # the next step after a document too large

    def refused(self, problem: str, action: str) -> StorageError:
        return self.error(
            f"{self.what} cannot be stored: {problem}.",
            action,
            retryable=False,
        )

    def id(self, value: str) -> str:
        """``value`` if it is a fit id: one line of valid text, 1 to ``max_id`` characters."""
        if not isinstance(value, str) or not value.strip() or len(value) > self.max_id:
            raise self.refused(f"its id must be 1 to {self.max_id} characters", self.again)
        if clean_text(value) != value or any(unicodedata.category(c) == "Cc" for c in value):
            raise self.refused("its id must be one line of valid text", self.again)
        return value

    def time(self, value: datetime) -> datetime:
        """``value`` in UTC; refused when it says no time zone."""
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.refused("its time must say its time zone", self.again)
        return value.astimezone(UTC)

    def document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The document as it will read back: a copy, through JSON, with valid text only."""
        try:
            text = json.dumps(dict(document), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise self.refused("it is not plain JSON data", self.again) from None
        if len(text) > self.max_chars:
            raise self.refused(f"it is over {self.max_chars:,} characters of JSON", self.smaller)
        copied: dict[str, Any] = json.loads(clean_text(text))
        return copied


def parsed(raw: object) -> dict[str, Any] | None:
    """The stored text as a JSON object, or None when it is not one (damaged by hand)."""
    try:
        found = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None
