"""Configuration. This is the one module that reads the environment.

Where a value comes from, highest first: the sidebar (typed into this browser session
only), ``st.secrets`` (passed in as a plain mapping by the page), then the process
environment, which ``load_env_file`` fills from ``.env`` without overriding what is
already set. Blank values count as unset everywhere, so an empty ``OPENAI_API_KEY=``
line in ``.env`` does not hide a key in ``secrets.toml``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import load_dotenv

from chatlab.url_policy import UrlPolicy, listens_locally, parse_allowlist

OPENAI_BASE_URL = "https://api.openai.com/v1"  # where requests go when no base URL is set
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
KeySource = Literal["sidebar", "secrets", "environment", "none"]


def load_env_file() -> None:
    """Load ``.env`` (or the file named by ``CHATLAB_ENV_FILE``) into the environment."""
    path = os.environ.get("CHATLAB_ENV_FILE") or ".env"
    load_dotenv(Path(path), override=False)


# Invisible characters a copy from a web page (or from this one, where ``markdown.plain``
# puts word joiners into ":word:" patterns) can carry into a pasted value.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u2068\u2069"))


def _clean(value: object) -> str | None:
    text = str(value).translate(_INVISIBLE).strip() if value is not None else ""
    return text or None


def _first(
    *sources: tuple[KeySource, Mapping[str, object]], name: str
) -> tuple[str | None, KeySource]:
    for source, values in sources:
        found = _clean(values.get(name))
        if found:
            return found, source
    return None, "none"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and the key they carry. ``repr`` never shows the key.

    ``policy`` is set for a base URL a visitor typed: only ``chatlab.url_policy``'s guarded
    transport may reach it. None for the operator's own endpoint, which is trusted.
    """

    api_key: str | None
    base_url: str | None
    key_source: KeySource
    policy: UrlPolicy | None = None

    @property
    def usable(self) -> bool:
        """A key, or a base URL of a server that may need none."""
        return bool(self.api_key or self.base_url)

    @property
    def shared(self) -> bool:
        """True when the key is the server's own, so caches may be shared across sessions."""
        return self.key_source != "sidebar"

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"Endpoint(base_url={self.base_url!r}, key={key}, key_source={self.key_source!r})"


MAX_REPLY_CHARS = 200_000  # ~50,000 tokens: longer than any model's usual output cap


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout, the longest wait for the next piece of a reply, and a whole reply.

    ``read`` holds even against a server that trickles bytes without sending a piece
    (see ``chatlab.deadline``); ``reply`` bounds a reply that keeps streaming.
    """

    connect: float = 10.0
    read: float = 60.0
    reply: float = 600.0


def resolve_endpoint(
    sidebar: Mapping[str, object],
    secrets: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
    *,
    policy: UrlPolicy | None = None,
) -> Endpoint:
    """Pick the key and base URL, sidebar first, then secrets, then the environment.

    A base URL typed into the sidebar counts only when ``policy`` lets visitors type one,
    and then carries that policy. It gets only a key typed there too (or none): the
    server's own key (secrets, environment) never goes to a host a visitor chose.
    """
    env = os.environ if environ is None else environ
    sources: tuple[tuple[KeySource, Mapping[str, object]], ...] = (
        ("sidebar", sidebar),
        ("secrets", secrets),
        ("environment", env),
    )
    typed = policy is not None and policy.allow_custom
    base_url, url_source = _first(*(sources if typed else sources[1:]), name="OPENAI_BASE_URL")
    allowed = sources[:1] if url_source == "sidebar" else sources
    api_key, key_source = _first(*allowed, name="OPENAI_API_KEY")
    guard = policy if url_source == "sidebar" else None
    return Endpoint(api_key=api_key, base_url=base_url, key_source=key_source, policy=guard)


def default_model(secrets: Mapping[str, object], environ: Mapping[str, str] | None = None) -> str:
    """The model selected when a session starts."""
    env = os.environ if environ is None else environ
    found, _ = _first(("secrets", secrets), ("environment", env), name="OPENAI_MODEL")
    return found or DEFAULT_MODEL


def timeouts(environ: Mapping[str, str] | None = None) -> Timeouts:
    """Timeouts from ``CHATLAB_CONNECT_TIMEOUT``, ``_READ_TIMEOUT``, ``_REPLY_TIMEOUT`` (s)."""
    env = os.environ if environ is None else environ
    return Timeouts(
        connect=_seconds(env.get("CHATLAB_CONNECT_TIMEOUT"), Timeouts.connect),
        read=_seconds(env.get("CHATLAB_READ_TIMEOUT"), Timeouts.read),
        reply=_seconds(env.get("CHATLAB_REPLY_TIMEOUT"), Timeouts.reply),
    )


def max_reply_chars(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_REPLY_CHARS``: a reply is cut there (default 200,000 characters)."""
    env = os.environ if environ is None else environ
    raw = (env.get("CHATLAB_MAX_REPLY_CHARS") or "").strip().replace("_", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_REPLY_CHARS


def _seconds(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw and raw.strip() else default
    except ValueError:
        return default
    return value if 0 < value < math.inf else default


def discovery_ports(environ: Mapping[str, str] | None = None) -> tuple[int, ...] | None:
    """``CHATLAB_DISCOVERY_PORTS`` (comma-separated; blank: look nowhere), None when unset."""
    env = os.environ if environ is None else environ
    raw = env.get("CHATLAB_DISCOVERY_PORTS")
    if raw is None:
        return None
    return tuple(int(p) for p in raw.replace(",", " ").split() if p.isdigit())


_ON = {"1", "true", "yes", "on"}


def allow_custom_base_url(
    listen_address: str | None, environ: Mapping[str, str] | None = None
) -> bool:
    """``CHATLAB_ALLOW_CUSTOM_BASE_URL``: may a visitor type a Base URL? Unset: only when
    the app listens on loopback alone (Streamlit's ``server.address``); anything but a
    clear yes or no counts as no."""
    env = os.environ if environ is None else environ
    raw = (_clean(env.get("CHATLAB_ALLOW_CUSTOM_BASE_URL")) or "").lower()
    if not raw:
        return listens_locally(listen_address)
    return raw in _ON


def url_policy(listen_address: str | None, environ: Mapping[str, str] | None = None) -> UrlPolicy:
    """What a typed Base URL may reach: ``CHATLAB_ALLOW_CUSTOM_BASE_URL`` and
    ``CHATLAB_BASE_URL_ALLOWLIST`` (hosts, host:port, addresses or CIDRs)."""
    env = os.environ if environ is None else environ
    return UrlPolicy(
        allow_custom=allow_custom_base_url(listen_address, env),
        local=listens_locally(listen_address),
        allowlist=parse_allowlist(env.get("CHATLAB_BASE_URL_ALLOWLIST")),
    )


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL``, else a SQLite file ``chatlab.db`` in ``CHATLAB_DATA_DIR`` (``./data``)."""
    env = os.environ if environ is None else environ
    url = _clean(env.get("DATABASE_URL"))
    if url:
        return url
    # Absolute, so the store does not depend on the directory Streamlit was started from
    # after the first call, and error messages can show the full path.
    folder = Path(_clean(env.get("CHATLAB_DATA_DIR")) or "data").expanduser().resolve()
    return f"sqlite:///{folder / 'chatlab.db'}"


# -- spending limits (chatlab.limits, chatlab.budget) -------------------------------------------

RATE_LIMIT = 60  # requests a minute per visitor: brisk chatting, or a sweep at a steady pace
MAX_IN_FLIGHT = 64  # requests open at once across every session of the process
MAX_RUN_REQUESTS = 200  # requests one Compare run may send
MAX_RUN_COST = 5.0  # USD one Compare run may cost at most, at list prices


def rate_limit(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_RATE_LIMIT``: requests a minute per visitor (default 60; 0: no limit)."""
    return _count(_env(environ).get("CHATLAB_RATE_LIMIT"), RATE_LIMIT)


def max_in_flight(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_IN_FLIGHT``: requests open at once in the process (64; 0: no bound)."""
    return _count(_env(environ).get("CHATLAB_MAX_IN_FLIGHT"), MAX_IN_FLIGHT)


def max_run_requests(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_RUN_REQUESTS``: requests one Compare run may send (200; 0: no limit)."""
    return _count(_env(environ).get("CHATLAB_MAX_RUN_REQUESTS"), MAX_RUN_REQUESTS)


def max_run_cost(environ: Mapping[str, str] | None = None) -> float:
    """``CHATLAB_MAX_RUN_COST``: USD one Compare run may cost at most (default 5; 0: no limit)."""
    raw = (_env(environ).get("CHATLAB_MAX_RUN_COST") or "").strip().lstrip("$")
    try:
        value = float(raw) if raw else MAX_RUN_COST
    except ValueError:
        return MAX_RUN_COST
    return value if 0 <= value < math.inf else MAX_RUN_COST


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _count(raw: str | None, default: int) -> int:
    """A whole number >= 0 (``_`` allowed as a separator); the default when blank or not one."""
    text = (raw or "").strip().replace("_", "")
    return int(text) if text.isdigit() else default
