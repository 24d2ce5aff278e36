"""Shown instead of the chat when there is no key and no server to talk to."""

from __future__ import annotations

import streamlit as st

SETUP = """
Chat Lab needs an **OpenAI API key**, or an **OpenAI-compatible server** that needs none.
Pick one:

1. **Paste a key in the sidebar** (*Connection → OpenAI API key*). It stays in this
   browser session only.
2. **Put it in `.env`** next to `app.py` (copy `.env.example`), then restart `make run`:
   ```
   OPENAI_API_KEY=sk-...
   ```
   `.streamlit/secrets.toml` with the same name works too.
3. **Use a local server**: set `OPENAI_BASE_URL` in `.env` or the sidebar's *Base URL*:
   - Ollama: `http://localhost:11434/v1`
   - LM Studio: `http://localhost:1234/v1`
   - vLLM / llama.cpp server: `http://localhost:8000/v1` / `http://localhost:8080/v1`

Keys: https://platform.openai.com/api-keys
"""


def render_setup() -> None:
    """How to connect Chat Lab to a model."""
    st.info("No model connection yet.", icon=":material/key:")
    st.markdown(SETUP)
