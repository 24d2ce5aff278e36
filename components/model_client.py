"""The OpenAI client and model list for this session's endpoint, cached safely.

A client built from the server's own key (environment or secrets) is shared by all
sessions through ``st.cache_resource``. A client built from a key typed into the
sidebar is cached in that session's state only, so no other session can reach it.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

import streamlit as st

from chatlab import config
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.provider import (
    Capacity,
    ServerModel,
    context_window,
    make_client,
    model_catalog,
    picker_names,
    server_capacity,
    server_kind,
)
from chatlab.tokens import model_info
from components import session

if TYPE_CHECKING:
    import openai

MODELS_TTL = 600.0
FAILED_TTL = 30.0
CAPACITY_TTL = 60.0


def _fingerprint(endpoint: Endpoint) -> str:
    # The policy too: a typed URL's guarded client never serves the operator's endpoint.
    raw = f"{endpoint.base_url}\0{endpoint.api_key or ''}\0{endpoint.policy!r}".encode()
    return hashlib.sha256(raw).hexdigest()


@st.cache_resource(show_spinner=False, max_entries=16)
def _shared_client(fingerprint: str, _endpoint: Endpoint) -> openai.OpenAI:
    return make_client(_endpoint, config.timeouts())


def client(endpoint: Endpoint) -> openai.OpenAI:
    """The client for ``endpoint``, built once."""
    fingerprint = _fingerprint(endpoint)
    if endpoint.shared:
        return _shared_client(fingerprint, endpoint)
    cache = session.connection().private_cache
    if ("client", fingerprint) not in cache:
        cache.clear()  # a new typed key: drop what the old one built
        cache["client", fingerprint] = make_client(endpoint, config.timeouts())
    found: openai.OpenAI = cache["client", fingerprint]
    return found


def models(endpoint: Endpoint) -> list[str] | ChatError:
    """The endpoint's model ids, or why they could not be listed."""
    found = _catalog(endpoint)
    return found if isinstance(found, ChatError) else picker_names(found)


def window(endpoint: Endpoint, model: str) -> int | None:
    """The model's context window: what the server says, else the model-facts table.

    A report from "Check this server" for this model wins.
    """
    report = session.connection().server_report
    if report is not None and report.model == model and report.context_window:
        return report.context_window
    found = _catalog(endpoint)
    listed = [] if isinstance(found, ChatError) else found
    return context_window(listed, model) or model_info(model).context_window


def server_family(endpoint: Endpoint) -> str:
    """Which family the endpoint's server is (llama.cpp, vLLM, ...), judged by its model list."""
    found = _catalog(endpoint)
    entries = [] if isinstance(found, ChatError) else [{"owned_by": m.owned_by} for m in found]
    return server_kind(entries)


def _catalog(endpoint: Endpoint) -> list[ServerModel] | ChatError:
    """The endpoint's models with their windows (one listing serves the picker and the
    windows), or why they could not be listed.

    Listed with httpx alone, so a new session's first page does not wait for the SDK to
    load. Cached in the session (the answer carries the endpoint's key): a list for ten
    minutes, a failure for thirty seconds, so a server that is down does not slow every
    slider move with a new attempt.
    """
    key = ("models", _fingerprint(endpoint))
    cache = session.connection().private_cache
    found = cache.get(key)
    if found is None or time.monotonic() > found[0]:
        try:
            listed: list[ServerModel] | ChatError = model_catalog(
                endpoint.base_url, endpoint.api_key, policy=endpoint.policy
            )
            expires = time.monotonic() + MODELS_TTL
        except ChatError as err:
            listed, expires = err, time.monotonic() + FAILED_TTL
        found = cache[key] = (expires, listed)
    result: list[ServerModel] | ChatError = found[1]
    return result


def capacity(endpoint: Endpoint) -> Capacity | None:
    """What the server says it runs at once (llama.cpp's ``/props``), asked once a minute."""
    key = ("capacity", _fingerprint(endpoint))
    cache = session.connection().private_cache
    found = cache.get(key)
    if found is None or time.monotonic() > found[0]:
        said = server_capacity(endpoint.base_url, endpoint.api_key)
        found = cache[key] = (time.monotonic() + CAPACITY_TTL, said)
    result: Capacity | None = found[1]
    return result
