"""Shown instead of the chat when there is no key and no server to talk to."""

from __future__ import annotations

import streamlit as st

from chatlab import config
from chatlab.markdown import plain
from chatlab.provider import DEFAULT_PORTS, LOCALHOST, FoundServer, discover
from components import base_url, session

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
MODELS_SHOWN = 3
SIDEBAR_URL = " or the sidebar's *Base URL*"


def render_setup() -> None:
    """How to connect Chat Lab to a model, with any server found on this machine."""
    st.info("No model connection yet.", icon=":material/key:")
    ports = config.discovery_ports()
    policy = base_url.url_policy()
    # Only ports a visitor could then use: knocking on this machine's ports for a visitor
    # who may not type a Base URL would show them what runs there.
    allowed = [
        p for p in (DEFAULT_PORTS if ports is None else ports) if policy.allows(LOCALHOST, p)
    ]
    _render_found(local_servers(tuple(allowed)))
    # Where visitors may not type a Base URL the sidebar has no such field to point to.
    st.markdown(SETUP if policy.allow_custom else SETUP.replace(SIDEBAR_URL, ""))


# Results carry no secrets (no key is sent, only 127.0.0.1 is asked), so sessions may share
# them; the short ttl notices a server started a moment ago.
@st.cache_data(ttl=10, show_spinner=False)
def local_servers(ports: tuple[int, ...]) -> list[FoundServer]:
    """Servers answering on these 127.0.0.1 ports."""
    return discover(ports)


def _render_found(found: list[FoundServer]) -> None:
    if not found:
        return
    st.markdown("**Found on this computer:** one click connects.")
    for server in found:
        st.button(
            _label(server),
            key=f"use_server_{server.base_url}",
            icon=":material/dns:",
            on_click=_use_server,
            args=(server,),
            disabled=not server.models,
        )


def _label(server: FoundServer) -> str:
    names = [m.display_name for m in server.models[:MODELS_SHOWN]]
    more = len(server.models) - MODELS_SHOWN
    listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
    where = server.base_url.removeprefix("http://")
    return plain(f"{server.kind} at {where}: {listed or 'no models'}")


def _use_server(server: FoundServer) -> None:
    """Button callback: point this session at the server and its first model."""
    session.set_base_url(server.base_url)
    if server.models:
        session.set_model(server.models[0].id)
