"""``SpecError``: an evaluation spec (or an assertion in it) that cannot be run.

Its own module so that assertions (built while a spec loads, or from the page's form) and
the spec loader raise the same error without importing each other. ``field`` is the path
of what is wrong (``assert[1].type``, counting from 0), empty when it is the whole spec.
"""

from __future__ import annotations

from chatlab.errors import ChatLabError

__all__ = ["SpecError"]


class SpecError(ChatLabError):
    """A spec that cannot be run: ``field`` says where, the message what is allowed."""

    def __init__(self, message: str, action: str, *, field: str = "") -> None:
        said = f"{field}: {message}" if field else message[:1].upper() + message[1:]
        super().__init__(said, action, retryable=False)
        self.field = field
        self.bare = message  # the message without the field, to re-raise under a longer path

    def under(self, prefix: str) -> SpecError:
        """The same error with its field under ``prefix`` (``assert[1]`` + ``type``)."""
        path = f"{prefix}.{self.field}" if self.field else prefix
        return SpecError(self.bare, self.action, field=path)
