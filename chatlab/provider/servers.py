"""Local model servers: what they offer, how big their context is, and what they support.

Each server family says its context window in its own place, so we read the one it uses:
llama.cpp puts ``meta.n_ctx`` (the slot's window; ``n_ctx_train`` is the model's maximum)
in each ``/v1/models`` entry, vLLM ``max_model_len``, LM Studio ``max_context_length`` in
its own ``/api/v0/models``, and Ollama the model's ``<arch>.context_length`` (or a
``num_ctx`` parameter) in ``POST /api/show``. When a server says nothing the window is
None and the caller falls back to its model-facts table.

Discovery only ever knocks on 127.0.0.1: it runs without the user asking, so it must not
reach the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx2

from chatlab.config import OPENAI_BASE_URL
from chatlab.deadline import Watch, tls_context, watch_client
from chatlab.model_names import display_name
from chatlab.provider.server_errors import http_error
from chatlab.provider.stream import short_name
from chatlab.url_policy import UrlPolicy, guarded_transport

LOCALHOST = "127.0.0.1"
# Each family's default port; discovery reports the kind the answer shows, else this one.
DEFAULT_PORTS: Mapping[int, str] = {
    11434: "Ollama",
    1234: "LM Studio",
    8080: "llama.cpp",
    8000: "vLLM",
}
GENERIC_KIND = "OpenAI-compatible server"
_OWNERS = {
    "llamacpp": "llama.cpp",
    "vllm": "vLLM",
    "library": "Ollama",
    "ollama": "Ollama",
    "organization_owner": "LM Studio",
}
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)
_SHOW_LIMIT = 16  # Ollama answers one /api/show per model; cap the fan-out


@dataclass(frozen=True)
class ServerModel:
    """One model a server offers; ``id`` is what requests carry (it may be a file path)."""

    id: str
    context_window: int | None = None
    owned_by: str | None = None

    @property
    def display_name(self) -> str:
        return display_name(self.id)


@dataclass(frozen=True)
class FoundServer:
    """A server discovery found on this machine."""

    kind: str
    base_url: str
    models: tuple[ServerModel, ...]


def context_window(models: Sequence[ServerModel], model_id: str) -> int | None:
    """The window the server reported for ``model_id``, or None."""
    return next((m.context_window for m in models if m.id == model_id), None)


def list_server_models(
    base_url: str | None,
    api_key: str | None = None,
    *,
    timeout: float = 5.0,
    policy: UrlPolicy | None = None,
) -> list[ServerModel]:
    """The server's models with the context window each reports (None where it says nothing).

    ``timeout`` bounds each request, and twice that all of them, however slowly a server
    trickles its answer. ``policy``: the base URL was typed by a visitor (see ``http_client``).
    """
    watch = Watch()
    watch.start(timeout, 2 * timeout)
    guarded = http_client(api_key, timeout, policy=policy, base_url=_v1(base_url))
    with watch.active(), guarded as client:
        entries = _listing(client, _v1(base_url))
        models = [_from_entry(entry) for entry in entries]
        if base_url is None or all(m.context_window for m in models):
            return models  # OpenAI itself lists no windows; its facts come from the table
        kind, root = server_kind(entries), _root(base_url)
        if kind in {"LM Studio", GENERIC_KIND}:
            models = _with_windows(models, _lmstudio_windows(client, root))
        if all(m.context_window for m in models):
            return models
        # Ollama owns user models under the user's name, so its listing may not show it;
        # /api/version tells, at the cost of one request instead of one /api/show per model.
        if kind == "Ollama" or (kind == GENERIC_KIND and _is_ollama(client, root)):
            models = _with_windows(models, _ollama_windows(client, root, models))
        return models


def model_catalog(
    base_url: str | None,
    api_key: str | None = None,
    *,
    timeout: float = 5.0,
    policy: UrlPolicy | None = None,
) -> list[ServerModel]:
    """``list_server_models`` for the model picker: a failure is a ``ChatError`` saying
    what went wrong, as a failed chat request would (a key refused, a server down)."""
    try:
        return list_server_models(base_url, api_key, timeout=timeout, policy=policy)
    except (httpx2.HTTPError, ValueError) as exc:
        raise http_error(exc, f"{_v1(base_url)}/models") from exc


def picker_names(models: Sequence[ServerModel]) -> list[str]:
    """The ids to offer, sorted, without duplicates or implausible names."""
    return sorted({name for m in models if (name := short_name(m.id))})


def server_kind(entries: Sequence[Mapping[str, Any]], port: int | None = None) -> str:
    """Which family a ``/v1/models`` answer comes from, judged by its shape."""
    for entry in entries:
        if isinstance(entry.get("meta"), dict):
            return "llama.cpp"
        if "max_model_len" in entry:
            return "vLLM"
        owner = _OWNERS.get(str(entry.get("owned_by")))
        if owner:
            return owner
    return DEFAULT_PORTS.get(port or 0, GENERIC_KIND)


def discover(
    ports: Sequence[int] = tuple(DEFAULT_PORTS), *, timeout: float = 0.4
) -> list[FoundServer]:
    """Servers answering on 127.0.0.1 at ``ports``, probed at once, in port order."""
    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        found = list(pool.map(lambda port: _probe_port(port, timeout), ports))
    return [server for server in found if server is not None]


def _probe_port(port: int, timeout: float) -> FoundServer | None:
    base_url = f"http://{LOCALHOST}:{port}/v1"
    try:
        with http_client(None, timeout, local_only=True) as client:
            entries = _listing(client, base_url)
    except (httpx2.HTTPError, ValueError):
        return None
    models = tuple(_from_entry(entry) for entry in entries)
    return FoundServer(kind=server_kind(entries, port), base_url=base_url, models=models)


# -- reading what servers say ----------------------------------------------------------------


def window_from_entry(entry: Mapping[str, Any]) -> int | None:
    """The context window a ``/v1/models`` (or LM Studio ``/api/v0/models``) entry states."""
    meta = entry.get("meta")
    if isinstance(meta, dict):
        return _positive(meta.get("n_ctx")) or _positive(meta.get("n_ctx_train"))
    for name in ("max_model_len", "loaded_context_length", "max_context_length"):
        found = _positive(entry.get(name))
        if found:
            return found
    return None


def window_from_ollama_show(show: Mapping[str, Any]) -> int | None:
    """Ollama's window: a ``num_ctx`` parameter wins (it is what runs), else the model's own."""
    parameters = show.get("parameters")
    if isinstance(parameters, str):
        match = _NUM_CTX.search(parameters)
        if match:
            return int(match.group(1))
    info = show.get("model_info")
    if not isinstance(info, dict):
        return None
    arch = info.get("general.architecture")
    found = _positive(info.get(f"{arch}.context_length"))
    if found:
        return found
    return next((_positive(v) for k, v in info.items() if k.endswith(".context_length")), None)


def _positive(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value > 0 else None


def _from_entry(entry: Mapping[str, Any]) -> ServerModel:
    owner = entry.get("owned_by")
    return ServerModel(
        id=str(entry["id"]),
        context_window=window_from_entry(entry),
        owned_by=str(owner) if owner is not None else None,
    )


def _with_windows(models: list[ServerModel], windows: Mapping[str, int]) -> list[ServerModel]:
    """Fill in the windows a second source gave, where the listing had none."""
    filled = []
    for m in models:
        missing = m.context_window is None and m.id in windows
        filled.append(ServerModel(m.id, windows[m.id], m.owned_by) if missing else m)
    return filled


def _lmstudio_windows(client: httpx2.Client, root: str) -> dict[str, int]:
    try:
        entries = _listing(client, f"{root}/api/v0")
    except (httpx2.HTTPError, ValueError):
        return {}
    return {str(e["id"]): w for e in entries if (w := window_from_entry(e))}


def _is_ollama(client: httpx2.Client, root: str) -> bool:
    try:
        response = client.get(f"{root}/api/version")
        return response.status_code == 200 and "version" in response.json()
    except (httpx2.HTTPError, ValueError, TypeError):
        return False


def _ollama_windows(
    client: httpx2.Client, root: str, models: Sequence[ServerModel]
) -> dict[str, int]:
    wanted = [m.id for m in models if not m.context_window][:_SHOW_LIMIT]

    def show(model_id: str) -> tuple[str, int | None]:
        try:
            response = client.post(f"{root}/api/show", json={"model": model_id})
            response.raise_for_status()
            return model_id, window_from_ollama_show(response.json())
        except (httpx2.HTTPError, ValueError, AttributeError):
            return model_id, None

    with ThreadPoolExecutor(max_workers=min(len(wanted), 4) or 1) as pool:
        return {model_id: w for model_id, w in pool.map(show, wanted) if w}


# -- HTTP ---------------------------------------------------------------------------------------


def _v1(base_url: str | None) -> str:
    return (base_url or OPENAI_BASE_URL).rstrip("/")


def _root(base_url: str | None) -> str:
    """The server's root: LM Studio's and Ollama's own APIs live beside ``/v1``."""
    url = _v1(base_url)
    return url[: -len("/v1")] if url.endswith("/v1") else url


def http_client(
    api_key: str | None,
    timeout: float | httpx2.Timeout,
    *,
    local_only: bool = False,
    policy: UrlPolicy | None = None,
    base_url: str = "",
) -> httpx2.Client:
    """A client for requests made without the SDK, carrying the key if any (like the chat
    client, a server that needs no key gets no Authorization header). ``local_only``
    ignores proxy settings: a proxy would carry a 127.0.0.1 probe to another host.
    With a ``policy`` (``base_url`` was typed by a visitor) every request goes through
    ``chatlab.url_policy``'s guarded transport."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if policy is not None:
        transport = guarded_transport(policy, base_url)
        guarded = httpx2.Client(
            headers=headers, timeout=timeout, transport=transport, trust_env=False
        )
        return watch_client(guarded)
    trust_env = not local_only
    tls = tls_context(trust_env)
    client = httpx2.Client(headers=headers, timeout=timeout, trust_env=trust_env, verify=tls)
    return watch_client(client)


def _listing(client: httpx2.Client, prefix: str) -> list[dict[str, Any]]:
    """The ``data`` entries of ``GET {prefix}/models``; ValueError when the shape is wrong."""
    response = client.get(f"{prefix}/models")
    response.raise_for_status()
    answer = response.json()
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        raise ValueError("no model list in the answer")
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]
