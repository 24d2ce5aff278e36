"""How a model id is shown: untrusted text from the server, shortened only when it is a path.

llama.cpp names a model by the file it loaded (``/models/gemma-3-270m-q4_k_m.gguf``), and
that path says nothing the file name does not. Every other id is shown whole.
"""

from __future__ import annotations

import re

__all__ = ["display_name"]

# What makes a model id a file path (llama.cpp names a model by the file it loaded) rather
# than a namespaced name ("meta-llama/Llama-3.1-8B" on vLLM, "openai/gpt-4o" on OpenRouter,
# where the part before "/" is what tells two models apart).
_MODEL_FILE = re.compile(r"\.(gguf|ggml|bin|safetensors|pt|pth|onnx)$", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^([/\\~.]|[A-Za-z]:[\\/])")


def display_name(model_id: str) -> str:
    """What to show for a model id: a file path shows its last segment, any other id whole."""
    trimmed = model_id.rstrip("/\\")
    if not (_MODEL_FILE.search(trimmed) or _ABSOLUTE.match(trimmed) or "\\" in trimmed):
        return model_id
    tail = re.split(r"[\\/]", trimmed)[-1]
    return tail or model_id
