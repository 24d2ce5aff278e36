"""Base URLs a visitor types: where the server may then send requests, and what comes back.

A Base URL typed in the browser makes the *server* send requests (server-side request
forgery): to another service on its machine, to a cloud metadata address, anywhere its
network reaches. So a typed URL (never the operator's own, from ``.env`` or secrets) is
reached only through ``guarded_transport``:

- The address is checked where the connection is made (``GuardedBackend``): the name is
  resolved once, every address it resolves to is checked, and the socket connects to one
  of those checked addresses. With no second lookup, a DNS answer that changes between
  check and connect (DNS rebinding) cannot slip through.
- Link-local and cloud metadata addresses are always refused. Beyond that, an allowlist
  (``CHATLAB_BASE_URL_ALLOWLIST``) says exactly what may be reached; without one, an app
  listening on loopback alone (a person's own machine) may reach any other address, and
  any other app only public ones.
- No redirects, no proxy from the environment (a proxy would resolve the name where it
  cannot be checked), no ``.netrc``.
- An answer other than 200 (every OpenAI endpoint Chat Lab calls answers 200 on success,
  so a 201 or 206 is as foreign as a 404) reaches the rest of Chat Lab only as an OpenAI
  error object rebuilt from the server's ``error.message`` (capped); anything else becomes
  "not an OpenAI-compatible server" with the status code. A protocol error loses the bytes it
  quotes. Nothing else a typed URL's server sends can reach the page, whatever code above
  this transport does with an answer.
- A 200 stream may still carry an error event (``data: {"error": ...}``), which the SDK
  raises mid-reply. The transport marks each request it sends (``TYPED_URL`` in the
  request's extensions, which the SDK's exception keeps), so
  ``chatlab.provider.server_errors`` shows such an event the same way: its capped
  ``error.message`` (``openai_error_object``) or "not an OpenAI-compatible server".
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2

from chatlab.deadline import tls_context
from chatlab.errors import NOT_COMPATIBLE_CODE, ChatError, Kind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

# Refused whatever the settings: cloud metadata services answer on these (AWS, GCP, Azure,
# DigitalOcean, OpenStack: 169.254.169.254; ECS: 169.254.170.2; AWS over IPv6:
# fd00:ec2::254; Alibaba: 100.100.100.200; Oracle: 192.0.0.192), and no model server
# lives on a link-local, multicast or broadcast address.
ALWAYS_REFUSED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",
        "100.100.100.200/32",
        "192.0.0.192/32",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "fe80::/10",
        "fd00:ec2::254/128",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses reached through a NAT64
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
MAX_ERROR_MESSAGE = 500  # characters of a typed URL's server's error.message shown
MAX_ERROR_BODY = 65_536  # bytes of an error answer read to find that message
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")  # error.type / code / param
_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_-]{1,63})*")
_KEPT_HEADERS = ("retry-after", "retry-after-ms")
TYPED_URL = "chatlab.typed_base_url"  # request extension: sent through the guarded transport
ACTION = "Type another Base URL, or clear the field to use this app's own server."


@dataclass(frozen=True)
class Rule:
    """One allowlist entry: a host name or a network, on any port or on one."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, host: str, port: int, addresses: Sequence[IPAddress]) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.host is not None:
            return host.lower().rstrip(".") == self.host
        network = self.network
        return network is not None and bool(addresses) and all(a in network for a in addresses)


@dataclass(frozen=True)
class UrlPolicy:
    """Whether a visitor may type a Base URL, and which addresses it may then reach.

    ``local``: the app listens on loopback alone, so its visitor is the machine's own user.
    ``allowlist``: None when not set; when set, only what it names (empty: nothing).
    """

    allow_custom: bool = False
    local: bool = False
    allowlist: tuple[Rule, ...] | None = None

    def refusal(self, host: str, port: int, addresses: Sequence[IPAddress]) -> str | None:
        """Why connecting to ``host`` at ``addresses`` is refused; None when it is allowed.

        The message never names the addresses: on a shared app, what an internal name
        resolves to is not the visitor's business.
        """
        if not self.allow_custom:
            return "This app does not let visitors choose the model server."
        if any(always_refused(a) for a in addresses):
            return f"{host} leads to a link-local or cloud metadata address, never reached."
        if self.allowlist is not None:
            if any(rule.matches(host, port, addresses) for rule in self.allowlist):
                return None
            return f"{host}:{port} is not among the servers this app allows."
        if self.local or all(is_public(a) for a in addresses):
            return None
        return f"{host} is a private or local address; this app reaches only public servers."

    def allows(self, host: str, port: int) -> bool:
        """True when ``host`` (an address, or a name as such) at ``port`` may be reached."""
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = []
        return self.refusal(host, port, addresses) is None


# -- reading the settings ----------------------------------------------------------------------


@lru_cache(maxsize=16)  # read on every page run: parsing an address takes microseconds
def listens_locally(address: str | None) -> bool:
    """True when a server bound to ``address`` is reachable from this machine alone.

    Streamlit's ``server.address`` unset (None or blank) means every interface.
    """
    text = (address or "").strip().strip("[]").lower()
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def parse_rule(entry: str) -> Rule | None:
    """``host``, ``host:port``, ``[v6]:port``, an address or a CIDR; None when malformed."""
    text, port = entry.strip().lower(), None
    if text.startswith("["):
        text, _, rest = text[1:].partition("]")
        if rest:
            port = _port(rest.removeprefix(":")) if rest.startswith(":") else 0
    elif text.count(":") == 1:
        text, _, raw = text.partition(":")
        port = _port(raw)
    if port == 0:
        return None
    try:
        return Rule(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        pass
    name = text.rstrip(".")
    return Rule(host=name, port=port) if _HOSTNAME.fullmatch(name) else None


@lru_cache(maxsize=16)  # read on every page run; the answer is immutable
def parse_allowlist(raw: str | None) -> tuple[Rule, ...] | None:
    """Comma- or space-separated entries; None when unset. A malformed entry allows
    nothing (it is dropped, never widened)."""
    if raw is None or not raw.strip():
        return None
    entries = raw.replace(",", " ").split()
    return tuple(rule for entry in entries if (rule := parse_rule(entry)) is not None)


def _port(raw: str) -> int:
    """The port, or 0 when it is not one."""
    return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else 0


# -- addresses ---------------------------------------------------------------------------------


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64 or (address in _V4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _forms(address: IPAddress) -> list[IPAddress]:
    embedded = embedded_ipv4(address)
    return [address] if embedded is None else [address, embedded]


def always_refused(address: IPAddress) -> bool:
    """Link-local, metadata, multicast or broadcast, also inside an IPv6 address."""
    plain = [ipaddress.ip_address(str(a).split("%", 1)[0]) for a in _forms(address)]
    return any(a in net for a in plain for net in ALWAYS_REFUSED if a.version == net.version)


def is_public(address: IPAddress) -> bool:
    """A globally routed address, also for the IPv4 address inside an IPv6 one."""
    return all(a.is_global for a in _forms(address))


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore2.ConnectError(f"could not resolve {host}: {exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


# -- the URL as typed -----------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as a Base URL, in words; None when it is well formed.

    A query or fragment would let a URL pick any path on its server (the client appends
    ``/chat/completions`` to the path, not after them), so they are refused, not dropped.
    """
    if "?" in url or "#" in url:
        return "A Base URL cannot contain ? or #: remove the query or fragment."
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "This Base URL is not a valid URL."
    if parts.scheme not in {"http", "https"}:
        return "A Base URL starts with http:// or https://."
    if not parts.hostname:
        return "This Base URL names no server."
    if parts.username is not None or parts.password is not None:
        return "A Base URL cannot carry a user name or password: paste a key in the API key field."
    if port == 0:
        return "This Base URL has no valid port."
    return None


def refused(problem: str) -> ChatError:
    """The error a refused Base URL raises, wherever the request was made."""
    return ChatError(Kind.URL_REFUSED, problem, ACTION, retryable=False)


# -- the transport -----------------------------------------------------------------------------


class GuardedBackend(httpcore2.NetworkBackend):
    """Connects only to addresses the policy allows, resolving each name once."""

    def __init__(
        self, inner: httpcore2.NetworkBackend, policy: UrlPolicy, resolver: Resolver = resolve
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._resolve = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore2.NetworkStream:
        addresses = self._resolve(host, port)
        if not addresses:
            raise httpcore2.ConnectError(f"{host} resolves to no address")
        problem = self._policy.refusal(host, port, addresses)
        if problem is not None:
            raise refused(problem)
        failure: httpcore2.ConnectError | httpcore2.ConnectTimeout | None = None
        for address in addresses:  # the checked addresses, never the name again
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        raise refused("A typed Base URL cannot reach a local socket.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx2.HTTPTransport):
    """httpx's transport for a typed Base URL: see the module's docstring."""

    def __init__(self, policy: UrlPolicy, base_url: str, resolver: Resolver = resolve) -> None:
        super().__init__(verify=tls_context(), trust_env=False)
        self._problem = url_problem(base_url)
        # httpx has no public seam for the network backend (as in chatlab.deadline).
        pool = self._pool
        pool._network_backend = GuardedBackend(pool._network_backend, policy, resolver)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions[TYPED_URL] = True  # the same object the SDK's errors carry
        problem = self._problem or url_problem(str(request.url))
        if problem is not None:
            raise refused(problem)
        try:
            response = super().handle_request(request)
        except httpx2.ProtocolError as exc:
            raise quiet(exc) from None
        if response.status_code == 200:  # the only success vouched for: see the docstring
            assert isinstance(response.stream, httpx2.SyncByteStream)
            stream = _QuietStream(response.stream)
            return httpx2.Response(
                response.status_code,
                headers=response.headers,
                stream=stream,
                extensions=response.extensions,
            )
        return _openai_error(response)


def guarded_transport(policy: UrlPolicy, base_url: str) -> GuardedTransport:
    """The transport every client for a typed Base URL uses."""
    return GuardedTransport(policy, base_url)


def from_typed_url(request: object) -> bool:
    """True when ``request`` (an ``httpx.Request``, or None) went through the guarded transport."""
    extensions = getattr(request, "extensions", None)
    return isinstance(extensions, dict) and extensions.get(TYPED_URL) is True


def quiet(exc: httpx2.ProtocolError) -> httpx2.ProtocolError:
    """The same error without the bytes it quotes (h11 says ``illegal status line: b'…'``):
    the first bytes of a service that is not HTTP (an SSH banner, say)."""
    return type(exc)(str(exc).split(":", 1)[0])


class _QuietStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpx2.ProtocolError as exc:
            raise quiet(exc) from None

    def close(self) -> None:
        self._inner.close()


def _openai_error(response: httpx2.Response) -> httpx2.Response:
    """A failed answer as an OpenAI error object holding only what may be shown."""
    status = response.status_code
    body = _read_capped(response)
    if 300 <= status < 400:
        error: dict[str, object] = {
            "message": f"The server answered with a redirect (HTTP {status}); Chat Lab "
            "does not follow redirects from a typed Base URL: type the server's final address.",
            "code": NOT_COMPATIBLE_CODE,
        }
    else:
        error = openai_error_fields(body) or {
            "message": f"This is not an OpenAI-compatible server: it answered HTTP {status} "
            "without an OpenAI error message.",
            "code": NOT_COMPATIBLE_CODE,
        }
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    return httpx2.Response(status, headers=headers, json={"error": error})


def openai_error_fields(body: bytes) -> dict[str, object] | None:
    """From an OpenAI error answer: ``error.message`` (capped), its identifiers and token
    counts; None when ``body`` is not one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return openai_error_object(payload.get("error") if isinstance(payload, dict) else None)


def openai_error_object(error: object) -> dict[str, object] | None:
    """``openai_error_fields`` for the error object itself (an SSE error event's)."""
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(error, dict) or not isinstance(message, str) or not message.strip():
        return None
    kept: dict[str, object] = {"message": message[:MAX_ERROR_MESSAGE]}
    for name in ("type", "code", "param"):
        value = error.get(name)
        if isinstance(value, str | int) and _IDENTIFIER.fullmatch(str(value)):
            kept[name] = value
    for name in ("n_prompt_tokens", "n_ctx"):  # llama.cpp's context overflow
        value = error.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            kept[name] = value
    return kept


def _read_capped(response: httpx2.Response) -> bytes:
    body = bytearray()
    try:
        for piece in response.iter_bytes():
            body += piece
            if len(body) > MAX_ERROR_BODY:
                break
    except httpx2.HTTPError:
        pass  # what arrived is judged; a cut answer is simply not JSON
    finally:
        response.close()
    return bytes(body[:MAX_ERROR_BODY])
