"""Deadlines a trickling server cannot defeat, and a Stop that closes the socket.

A socket read timeout bounds the wait for the *next byte*, so a server that sends one byte
a second (SSE comment lines, or the status line itself) keeps a request alive for ever. The
SDK has no overall deadline, and its blocking reads cannot be interrupted from Python.

So every client socket goes through ``WatchedBackend`` (an httpcore network backend). While
a ``Watch`` is active in the calling thread (a context variable), each read is given at
most the time left before the watch's deadline and fails with a read timeout once it has
passed. The watch also remembers the sockets it read from, so ``Watch.close()``, called
from any thread, shuts them down: a blocked read returns at once.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

import httpcore2
import httpx2

_ACTIVE: ContextVar[Watch | None] = ContextVar("chatlab_watch", default=None)


class Watch:
    """A deadline for one request, and a way to cut its connection from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadline = math.inf
        self._cap = math.inf
        self._sockets: list[socket.socket] = []
        self._active = 0
        self.closed = False

    def start(self, first: float, total: float = math.inf) -> None:
        """Allow ``first`` seconds for the next step and ``total`` for the whole request."""
        now = time.monotonic()
        self._cap = now + total
        self._deadline = min(now + first, self._cap)

    def extend(self, seconds: float) -> None:
        """Allow ``seconds`` more for the next step, within the whole request's time."""
        self._deadline = min(time.monotonic() + seconds, self._cap)

    @property
    def expired(self) -> bool:
        """True once the deadline has passed (a read that timed out was cut by it)."""
        return time.monotonic() >= self._deadline

    @property
    def over(self) -> bool:
        """True once the whole request's time has run out."""
        return time.monotonic() >= self._cap

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once past)."""
        return self._deadline - time.monotonic()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Let reads in this block obey this watch."""
        token = _ACTIVE.set(self)
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            _ACTIVE.reset(token)
            with self._lock:
                self._active -= 1
                if not self._active:
                    # Between blocks the connection may be back in the pool, serving
                    # another request: never shut it from here.
                    self._sockets.clear()

    def close(self) -> None:
        """Fail every later read, and unblock a read in progress; safe from any thread."""
        with self._lock:
            self.closed = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # does not block

    def _allow(self, stream: httpcore2.NetworkStream, timeout: float | None) -> float | None:
        """The timeout for one read: raise if closed or past the deadline."""
        sock = stream.get_extra_info("socket")
        with self._lock:
            if isinstance(sock, socket.socket) and sock not in self._sockets:
                self._sockets.append(sock)
            if self.closed:
                raise httpcore2.ReadError("the request was stopped")
        left = self.remaining()
        if left <= 0:
            raise httpcore2.ReadTimeout("the request ran past its deadline")
        return left if timeout is None else min(timeout, left)


def _allow(stream: httpcore2.NetworkStream, timeout: float | None) -> float | None:
    watch = _ACTIVE.get()
    return timeout if watch is None else watch._allow(stream, timeout)


class _WatchedStream(httpcore2.NetworkStream):
    """A network stream whose reads and writes obey the active watch."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _allow(self._inner, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _allow(self._inner, timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        return _WatchedStream(self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class WatchedBackend(httpcore2.NetworkBackend):
    """httpcore's sync backend, handing out watched streams."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        return _WatchedStream(self._inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        return _WatchedStream(self._inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def watch_client(http_client: httpx2.Client) -> httpx2.Client:
    """Route every connection of ``http_client`` (proxies included) through the watch.

    httpx offers no public seam for the network backend, so this reaches into its
    transports; ``tests/unit/test_stream.py`` fails if a new httpx version moves them.
    """
    mounts: Iterable[object] = getattr(http_client, "_mounts", {}).values()
    for transport in [getattr(http_client, "_transport", None), *mounts]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore2.NetworkBackend) and not isinstance(
            backend, WatchedBackend
        ):
            pool._network_backend = WatchedBackend(backend)  # type: ignore[union-attr]
    return http_client


def tls_context(trust_env: bool = True) -> ssl.SSLContext:
    """The TLS context httpx builds for every new client, built once per process.

    Building it reads the system's CA store: 15-30 ms for each client, which a new
    session paid for its model list. An ``SSLContext`` is meant to be shared.
    """
    return _tls_context(trust_env)  # one cache key however it is called


@cache
def _tls_context(trust_env: bool) -> ssl.SSLContext:
    return httpx2.create_ssl_context(trust_env=trust_env)
