"""Each sampling parameter's bounds, declared once.

The sidebar's sliders and fields take their ranges from here, and Compare refuses a typed
value outside them before anything is sent. Max tokens also has a limit per model: the
longest reply it can write (``chatlab.tokens``' model facts, 4,096 when unknown), and never
more than its context window where the server says one. The sidebar's slider ends there,
and Compare sends a larger value as that limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chatlab.logprobs import MAX_TOP_LOGPROBS
from chatlab.messages import PENALTY_LIMIT
from chatlab.tokens import families, max_output_tokens


@dataclass(frozen=True)
class Bound:
    """A parameter's lowest and highest value, and the step its control moves by."""

    low: float
    high: float
    step: float


def _longest_reply() -> int:
    """The largest max tokens any known model takes: the most a typed value may say."""
    return max(info.max_output or 0 for info in families().values())


BOUNDS: Mapping[str, Bound] = MappingProxyType(
    {
        "temperature": Bound(0.0, 2.0, 0.05),
        "top_p": Bound(0.0, 1.0, 0.01),
        "presence_penalty": Bound(-PENALTY_LIMIT, PENALTY_LIMIT, 0.1),
        "frequency_penalty": Bound(-PENALTY_LIMIT, PENALTY_LIMIT, 0.1),
        "seed": Bound(0, 2**31 - 1, 1),  # a seed every server takes (some keep 32 bits)
        "top_logprobs": Bound(0, MAX_TOP_LOGPROBS, 1),
        "max_tokens": Bound(1, _longest_reply(), 1),  # and per model: max_tokens_limit
    }
)


def max_tokens_limit(model: str, window: int | None = None) -> int:
    """The largest max tokens for ``model``: its longest reply, within its context window."""
    longest = max_output_tokens(model)
    return min(longest, window) if window else longest
