"""A Compare setup, and the link (query parameters) that reopens it.

``?prompt=…&temperature=0,0.7,1.4&models=a,b&samples=3``: the prompt, each varied
parameter's values as typed (keyed by the parameter's name), the models and the samples
per setting. The sidebar's other settings and the conversation used as context are not
in a link: a link says what to vary, not what a session holds.

A link comes from anyone, so everything in one is checked and bounded here before the
form sees it: a part too long, not a known parameter's valid values, or not a number in
range is left out, and the reason names only what Chat Lab itself knows (the
parameter's name, never the link's text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chatlab.grid import MAX_SAMPLES, GridError, parse_values, sweepable
from chatlab.messages import ChatMessage

__all__ = ["MAX_LINK_PROMPT", "Setup", "from_query", "to_query"]

MAX_LINK_PROMPT = 4_000  # characters: a longer prompt makes a URL browsers and proxies refuse
MAX_LINK_VALUES = 200  # characters of one parameter's values
MAX_LINK_MODELS = 10
MAX_MODEL_CHARS = 200


@dataclass(frozen=True)
class Setup:
    """What the Compare form starts from."""

    prompt: str = ""
    values: Mapping[str, str] = field(default_factory=dict)  # parameter name -> values typed
    models: tuple[str, ...] = ()
    samples: int | None = None
    # The messages before the prompt, when the chat sent it (never in a link).
    context: tuple[ChatMessage, ...] | None = None


def from_query(query: Mapping[str, str]) -> tuple[Setup | None, list[str]]:
    """The setup a link's parameters describe (None if they describe none), and what was
    left out of it, said in Chat Lab's own words."""
    left_out: list[str] = []
    prompt = query.get("prompt", "")
    if len(prompt) > MAX_LINK_PROMPT:
        left_out.append(f"the prompt (longer than {MAX_LINK_PROMPT:,} characters)")
        prompt = ""
    values = {}
    for name in sweepable():
        typed = query.get(name)
        if typed is None:
            continue
        if _valid_values(name, typed):
            values[name] = typed
        else:
            left_out.append(f"the {name} values (not valid)")
    models = _models(query.get("models", ""))
    if query.get("models") and not models:
        left_out.append("the models (not valid model ids)")
    samples = _samples(query.get("samples"))
    if "samples" in query and samples is None:
        left_out.append(f"the samples (a whole number from 1 to {MAX_SAMPLES})")
    if not (prompt or values or models or samples or left_out):
        return None, []
    return Setup(prompt, values, models, samples), left_out


def to_query(setup: Setup) -> dict[str, str]:
    """The link's parameters for ``setup`` (a prompt too long for a link is left out)."""
    query = {}
    if setup.prompt and len(setup.prompt) <= MAX_LINK_PROMPT:
        query["prompt"] = setup.prompt
    query.update({name: text for name, text in setup.values.items() if text.strip()})
    if setup.models:
        query["models"] = ",".join(setup.models)
    if setup.samples is not None:
        query["samples"] = str(setup.samples)
    return query


def _valid_values(name: str, typed: str) -> bool:
    if len(typed) > MAX_LINK_VALUES:
        return False
    try:
        parse_values(name, typed)
    except GridError:
        return False
    return True


def _models(typed: str) -> tuple[str, ...]:
    """The link's model ids: printable, bounded in length and number; any other left out."""
    found = (name.strip() for name in typed.split(",")[:MAX_LINK_MODELS])
    kept = (n for n in found if n and len(n) <= MAX_MODEL_CHARS and n.isprintable())
    return tuple(dict.fromkeys(kept))


def _samples(typed: str | None) -> int | None:
    if typed is None or not typed.isdigit() or len(typed) > 3:
        return None
    samples = int(typed)
    return samples if 1 <= samples <= MAX_SAMPLES else None
