"""Tool calls assembled from a stream's deltas.

A server streams each call in pieces under ``choices[0].delta.tool_calls``: a first
piece with the call's ``index``, ``id``, ``type`` and ``function.name``, then
``function.arguments`` text split anywhere, each piece naming the call by ``index``;
parallel calls have indexes 0, 1, ... and may interleave. ``ToolCallAssembler`` joins
them by index, in index order.

What a hostile server might send is bounded: at most ``MAX_TOOL_CALLS`` calls (more are
counted, not kept), ``MAX_ARGUMENT_CHARS`` of arguments per call and
``MAX_ALL_ARGUMENTS_CHARS`` for all of them (more is cut); each such cut is said once, in
``notices``. Nothing else is judged here: an unknown name or
arguments that are not JSON are kept as received, for the card to explain
(``chatlab.tools.check_arguments``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chatlab.tools import MAX_ALL_ARGUMENTS_CHARS, MAX_ARGUMENT_CHARS, MAX_TOOL_CALLS, ToolCall

MAX_INDEX = 1_000_000  # an index past this is not a call's place
MAX_ID = 200
MAX_COUNTED = 10_000  # calls past the bound that are counted (a number, not kept)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _get(obj: object, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _text(value: object) -> str:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else ""


@dataclass
class _Building:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    length: int = 0


class ToolCallAssembler:
    """Joins streamed tool-call deltas into whole calls, within bounds."""

    def __init__(
        self,
        max_calls: int = MAX_TOOL_CALLS,
        max_argument_chars: int = MAX_ARGUMENT_CHARS,
        max_total_chars: int = MAX_ALL_ARGUMENTS_CHARS,
    ) -> None:
        self._calls: dict[int, _Building] = {}
        self._extra: set[int] = set()  # indexes past ``max_calls``: counted only
        self._cut: set[int] = set()
        self.max_calls = max_calls
        self.max_argument_chars = max_argument_chars
        self.max_total_chars = max_total_chars
        self._total = 0
        self._total_cut = False

    def feed(self, deltas: object) -> None:
        """One chunk's ``delta.tool_calls`` (anything that is not a list is ignored)."""
        if not isinstance(deltas, list):
            return
        for position, delta in enumerate(deltas):
            index = _get(delta, "index")
            if not isinstance(index, int) or isinstance(index, bool):
                index = position  # some servers leave it out when they send one call
            if not 0 <= index <= MAX_INDEX:
                continue
            self._take(index, delta)

    def _take(self, index: int, delta: object) -> None:
        building = self._calls.get(index)
        if building is None:
            if len(self._calls) >= self.max_calls:
                if len(self._extra) < MAX_COUNTED:
                    self._extra.add(index)
                return
            building = self._calls[index] = _Building()
        call_id = _text(_get(delta, "id"))
        if call_id and not building.id:
            building.id = call_id[:MAX_ID]
        function = _get(delta, "function")
        name = _text(_get(function, "name"))
        if name and not building.name:
            building.name = name[:MAX_ID]
        piece = _text(_get(function, "arguments"))
        room = self.max_argument_chars - building.length
        if len(piece) > room:
            piece = piece[: max(room, 0)]
            self._cut.add(index)
        if len(piece) > self.max_total_chars - self._total:
            piece = piece[: self.max_total_chars - self._total]
            self._total_cut = True
        if piece:
            building.arguments.append(piece)
            building.length += len(piece)
            self._total += len(piece)

    @property
    def count(self) -> int:
        """Calls kept so far."""
        return len(self._calls)

    @property
    def characters(self) -> int:
        """Argument characters kept so far."""
        return self._total

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls so far, by index; a call the server sent no id for gets one."""
        return tuple(
            ToolCall(b.id or f"call_{index}", b.name, "".join(b.arguments))
            for index, b in sorted(self._calls.items())
        )

    def notices(self) -> tuple[str, ...]:
        """What was cut, said plainly."""
        said = []
        if self._extra:
            said.append(
                f"The reply asked for more than {self.max_calls} tool calls; "
                f"the first {self.max_calls} are kept, {len(self._extra)} more were left out."
            )
        if self._cut:
            said.append(
                f"{len(self._cut)} tool call(s) had arguments over "
                f"{self.max_argument_chars:,} characters; they were cut there."
            )
        if self._total_cut:
            said.append(
                f"The tool calls' arguments came to over {self.max_total_chars:,} characters "
                "in all; the rest was left out."
            )
        return tuple(said)
