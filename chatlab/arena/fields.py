"""Reading an arena document's fields as untrusted JSON: one reader, two documents.

A vote (``votes``) and a side-by-side session (``side_by_side``) are both read back from
storage or a file the way an import is: every field checked, the first bad one named in
the error (``a.model``, ``columns[1].answers[0].text``). ``FieldReader`` holds those
checks once; each document gives it its own error (``VoteError``, ``SessionError``), made
from the field's name and the problem in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatlab.errors import ChatLabError

__all__ = ["FieldReader"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_TIME = 40  # characters of an ISO 8601 date and time, zone included, with room


@dataclass(frozen=True)
class FieldReader:
    """The checks of an arena document's fields; ``error(field, problem)`` is raised."""

    error: Callable[[str, str], ChatLabError]

    def json_object(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, "must be a JSON object")
        return value

    def json_list(self, value: object, where: str, limit: int) -> list[Any]:
        if not isinstance(value, list) or len(value) > limit:
            raise self.error(where, f"must be a list of at most {limit:,} items")
        return value

    def text(self, value: object, where: str, limit: int, *, blank: bool = True) -> str:
        """A string of at most ``limit`` characters, valid Unicode (``blank``: may be
        empty or spaces)."""
        if not isinstance(value, str) or len(value) > limit:
            raise self.error(where, f"must be a string of at most {limit:,} characters")
        if not value.isascii() and _SURROGATE.search(value):
            raise self.error(where, "must be valid Unicode text")
        if not blank and not value.strip():
            raise self.error(where, "must not be empty")
        return value

    def time(self, value: object, where: str) -> datetime:
        """An ISO 8601 date and time that says its zone, as UTC."""
        if not isinstance(value, str) or len(value) > _MAX_TIME:
            raise self.error(where, "must be an ISO 8601 date and time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.error(where, "must be an ISO 8601 date and time") from None
        if moment.tzinfo is None:
            raise self.error(where, "must say its time zone (UTC: +00:00)")
        return moment.astimezone(UTC)
