"""The OpenAI client and model list for this session's endpoint, cached safely.

A client built from the server's own key (environment or secrets) is shared by all
sessions through ``st.cache_resource``. A client built from a key typed into the
sidebar is cached in that session's state only, so no other session can reach it.
"""

from __future__ import annotations

import hashlib
import time

import openai
import streamlit as st

from chatlab import config
from chatlab.client import list_models, make_client
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.servers import ServerModel, context_window, list_server_models
from chatlab.tokens import model_info
from components import session

MODELS_TTL = 600.0
FAILED_TTL = 30.0


def _fingerprint(endpoint: Endpoint) -> str:
    raw = f"{endpoint.base_url}\0{endpoint.api_key or ''}".encode()
    return hashlib.sha256(raw).hexdigest()


@st.cache_resource(show_spinner=False, max_entries=16)
def _shared_client(fingerprint: str, _endpoint: Endpoint) -> openai.OpenAI:
    return make_client(_endpoint, config.timeouts())


def client(endpoint: Endpoint) -> openai.OpenAI:
    """The client for ``endpoint``, built once."""
    fingerprint = _fingerprint(endpoint)
    if endpoint.shared:
        return _shared_client(fingerprint, endpoint)
    cache = session.private_cache()
    if ("client", fingerprint) not in cache:
        cache.clear()  # a new typed key: drop what the old one built
        cache["client", fingerprint] = make_client(endpoint, config.timeouts())
    found: openai.OpenAI = cache["client", fingerprint]
    return found


def models(endpoint: Endpoint) -> list[str] | ChatError:
    """The endpoint's model ids, or why they could not be listed.

    Cached in the session: a list for ten minutes, a failure for thirty seconds, so a
    server that is down does not slow every slider move with a new attempt.
    """
    key = ("models", _fingerprint(endpoint))
    cache = session.private_cache()
    found = cache.get(key)
    if found is None or time.monotonic() > found[0]:
        try:
            listed: list[str] | ChatError = list_models(client(endpoint))
            expires = time.monotonic() + MODELS_TTL
        except ChatError as err:
            listed, expires = err, time.monotonic() + FAILED_TTL
        found = cache[key] = (expires, listed)
    result: list[str] | ChatError = found[1]
    return result


def window(endpoint: Endpoint, model: str) -> int | None:
    """The model's context window: what the server says, else the model-facts table.

    The server's answer is cached in the session like the model list (it carries the
    endpoint's key); a report from "Check this server" for this model wins.
    """
    report = session.state().server_report
    if report is not None and report.model == model and report.context_window:
        return report.context_window
    key = ("windows", _fingerprint(endpoint))
    cache = session.private_cache()
    found = cache.get(key)
    if found is None or time.monotonic() > found[0]:
        try:
            listed: list[ServerModel] = list_server_models(endpoint.base_url, endpoint.api_key)
            expires = time.monotonic() + MODELS_TTL
        except Exception:  # any failure: the table below answers, and we ask again later
            listed, expires = [], time.monotonic() + FAILED_TTL
        found = cache[key] = (expires, listed)
    return context_window(found[1], model) or model_info(model).context_window
