"""How many requests a server can run at once without running out of room.

llama.cpp's ``llama-server`` runs ``total_slots`` requests at once. By default (``-np``
not given) its slots share one unified KV cache of ``n_ctx`` tokens: when the running
requests' prompts and replies together fill it, every one of them ends mid-stream with
"Context size has been exceeded." Its ``GET /props`` says both numbers: ``total_slots``
and ``default_generation_settings.n_ctx`` (the whole cache when it is unified, else one
slot's share; the answer does not tell which, so the shared case is assumed: at worst a
sweep runs fewer at once than it could).

Other families need no sizing: vLLM's scheduler pauses (preempts) a request when its KV
cache is full rather than failing it, and Ollama and LM Studio give each parallel request
its own full context. They publish no concurrency limit either, so none is applied.

Discovery, like the model list's, is one short GET, only to the endpoint the user set.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

from chatlab.config import OPENAI_BASE_URL
from chatlab.provider.servers import http_client

# A chat template wraps the messages in tokens the estimate does not see (Gemma's adds
# about 10 for one turn); budget a little more than the estimate for each request.
TEMPLATE_TOKENS = 32


@dataclass(frozen=True)
class Capacity:
    """What a server can run at once: its slots, and the tokens they share."""

    slots: int
    shared_tokens: int | None = None
    source: str = "llama.cpp /props"


def read_props(props: object) -> Capacity | None:
    """llama.cpp's ``/props`` answer as a ``Capacity``; None when it is not one."""
    if not isinstance(props, dict):
        return None
    slots = _positive(props.get("total_slots"))
    settings = props.get("default_generation_settings")
    n_ctx = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    if slots is None:
        return None
    return Capacity(slots=slots, shared_tokens=n_ctx)


def server_capacity(
    base_url: str | None, api_key: str | None = None, *, timeout: float = 3.0
) -> Capacity | None:
    """The capacity the server states (llama.cpp's ``/props``), or None when it says none."""
    root = (base_url or OPENAI_BASE_URL).rstrip("/").removesuffix("/v1")
    try:
        with http_client(api_key, timeout) as client:
            response = client.get(f"{root}/props")
            if response.status_code != 200:
                return None
            return read_props(response.json())
    except (httpx2.HTTPError, ValueError):
        return None


def fitting_concurrency(
    wanted: int, capacity: Capacity | None, prompt_tokens: int, max_tokens: int
) -> int:
    """At most ``wanted`` requests at once, and no more than fit: slots, and parallel
    requests x (prompt + max tokens) within the tokens they share."""
    if capacity is None:
        return max(1, wanted)
    fits = min(wanted, capacity.slots)
    if capacity.shared_tokens is not None:
        per_request = prompt_tokens + TEMPLATE_TOKENS + max(max_tokens, 1)
        fits = min(fits, capacity.shared_tokens // per_request)
    return max(1, fits)


def capacity_reason(capacity: Capacity, bound: int, prompt_tokens: int, max_tokens: int) -> str:
    """Why a sweep runs ``bound`` at once: what the server said, and the sum that fits."""
    per_request = prompt_tokens + TEMPLATE_TOKENS + max(max_tokens, 1)
    said = f"{capacity.slots} slots"
    if capacity.shared_tokens is not None:
        said += f" sharing {capacity.shared_tokens:,} tokens"
    return (
        f"{bound} at once: the server ({capacity.source}) has {said}, and each request may "
        f"take ≈ {per_request:,} (prompt + max tokens)."
    )


def _positive(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value
