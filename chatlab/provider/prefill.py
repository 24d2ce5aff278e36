"""Which servers go on from a final assistant message (a prefix), and what each needs.

Forking a reply at a token sends the reply's text up to that token, with another choice in
its place, as the request's last message, for the model to continue rather than answer
anew. Servers differ, so the fork is offered only where it was verified:

- llama.cpp (``llama-server``): a trailing assistant message is prefilled by default since
  ggml-org/llama.cpp#13174; ``--no-prefill-assistant`` turns that off (#13608). Newer
  builds also take vLLM's flags (#23012). Nothing beyond the messages is sent.
- vLLM: only with ``"continue_final_message": true, "add_generation_prompt": false`` in
  the body (its chat API's extra parameters: the chat is formatted so that the final
  message is open-ended; the two cannot both be true). Without them it starts a new
  message, so a fork to vLLM carries them (``prefix_fields``), and nothing else does:
  another server may refuse a field it does not know.
- Ollama: its chat handler (the OpenAI-compatible ``/v1/chat/completions`` included)
  renders every message through the model's template, and a final assistant message is
  continued (ollama/ollama#6778, stated by its maintainers; #5775/#5890 were fixed). That
  depends on the model's template leaving the last assistant turn open: the official
  templates do, a hand-written one may close it, and the model then answers anew.
- LM Studio: not documented, so refused with that reason.
- OpenAI's API: a final assistant message is a finished turn, and the model answers anew.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTINUES_PREFIX", "fork_refusal", "prefix_fields"]

CONTINUES_PREFIX = frozenset({"llama.cpp", "vLLM", "Ollama"})
_FIELDS: dict[str, dict[str, Any]] = {
    "vLLM": {"continue_final_message": True, "add_generation_prompt": False},
}
_WHY_NOT = {
    "LM Studio": "Continuing a final assistant message is not documented by LM Studio.",
}
GENERIC = (
    "This server is not known to continue a final assistant message (OpenAI's API answers "
    "it anew); llama.cpp, vLLM and Ollama servers do."
)


def fork_refusal(kind: str) -> str | None:
    """Why a fork cannot go to a server of ``kind`` (``server_kind``); None when it can."""
    if kind in CONTINUES_PREFIX:
        return None
    return _WHY_NOT.get(kind, GENERIC)


def prefix_fields(kind: str) -> dict[str, Any]:
    """The body fields a request ending with a prefix needs on a server of ``kind``."""
    return dict(_FIELDS.get(kind, {}))
