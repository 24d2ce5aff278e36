"""Which servers go on from a final assistant message (a prefix), and what each needs.

Forking a reply at a token sends the reply's text up to that token, with another choice in
its place, as the request's last message, for the model to continue rather than answer
anew. Servers differ, so the fork is offered only where it was verified:

- llama.cpp (``llama-server``): a trailing assistant message is prefilled by default since
  ggml-org/llama.cpp#13174; ``--no-prefill-assistant`` turns that off (#13608). Newer
  builds also take vLLM's flags (#23012). Nothing beyond the messages is sent.
- vLLM: only with ``"continue_final_message": true, "add_generation_prompt": false`` in
  the body (its chat API's extra parameters); without them it starts a new message.
  Chat Lab does not send those flags yet, so the fork is refused there, with the reason.
- Ollama and LM Studio: not verified; refused until they are.
- OpenAI's API: a final assistant message is a finished turn, and the model answers anew.
"""

from __future__ import annotations

__all__ = ["CONTINUES_PREFIX", "fork_refusal"]

CONTINUES_PREFIX = frozenset({"llama.cpp"})
_WHY_NOT = {
    "vLLM": "vLLM continues a final message only with continue_final_message, which "
    "Chat Lab does not send yet.",
    "Ollama": "Continuing from a prefix is not verified on Ollama yet.",
    "LM Studio": "Continuing from a prefix is not verified on LM Studio yet.",
}
GENERIC = (
    "This server is not known to continue a final assistant message (OpenAI's API answers "
    "it anew); a llama.cpp server does."
)


def fork_refusal(kind: str) -> str | None:
    """Why a fork cannot go to a server of ``kind`` (``server_kind``); None when it can."""
    if kind in CONTINUES_PREFIX:
        return None
    return _WHY_NOT.get(kind, GENERIC)
