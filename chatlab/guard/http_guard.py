"""The HTTP guard in front of Streamlit: framing headers, and the upload ledger enforced.

An ASGI middleware (``st.App(middleware=...)`` is Streamlit's supported way to add one;
``asgi.py`` installs it). On every HTTP response it sets ``Content-Security-Policy:
frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN``, so no other site can frame
Chat Lab and have a visitor type into it (OWASP's clickjacking defence; the older header
for older browsers). Every upload ``PUT`` is first put to the ledger (``chatlab.guard.uploads``)
and refused there, before Streamlit reads a byte of it, when the session may not upload
or holds enough already.

``sweep_ended_sessions`` removes the files of sessions gone for longer than Streamlit's
reconnect window, which Streamlit itself never does (see ``chatlab.guard.uploads``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

from chatlab.guard.uploads import LEDGER, UPLOAD_LIMIT_BYTES, Refusal, UploadLedger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = (
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-frame-options", b"SAMEORIGIN"),
)
_UPLOAD = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)/(?P<file>[^/]+)$")


class Sessions(Protocol):
    """What the guard needs to know of the server's sessions (Streamlit's, in the app)."""

    def held(self, session_id: str, file_ids: Iterable[str]) -> dict[str, int]:
        """Sizes of those files the session still holds."""
        ...

    def is_connected(self, session_id: str) -> bool: ...

    def remove_files(self, session_id: str) -> None: ...


class HttpGuard:
    """ASGI middleware: framing headers on every response; uploads checked by the ledger."""

    def __init__(self, app: ASGIApp, sessions: Sessions, ledger: UploadLedger = LEDGER) -> None:
        self.app = app
        self.sessions = sessions
        self.ledger = ledger
        ledger.guarded = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        upload = _UPLOAD.search(scope["path"]) if scope["method"] == "PUT" else None
        if upload is None:
            await self.app(scope, receive, send)
            return
        await self._upload(scope, receive, send, upload["session"], upload["file"])

    async def _upload(
        self, scope: Scope, receive: Receive, send: Send, session_id: str, file_id: str
    ) -> None:
        size = _declared_size(scope)
        refusal = self.ledger.reserve(session_id, size, self.sessions.held, time.monotonic())
        if refusal is not None:
            await _refuse(send, refusal)
            return
        status: list[int] = []

        async def noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            self.ledger.settle(session_id, file_id, size, stored=status[:1] == [204])


def _declared_size(scope: Scope) -> int:
    """The upload's Content-Length, or the largest Streamlit takes when it does not say."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return min(int(value), UPLOAD_LIMIT_BYTES)
    return UPLOAD_LIMIT_BYTES


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers += [pair for pair in SECURITY_HEADERS if pair[0] not in present]
            message["headers"] = headers
        await send(message)

    return sending


async def _refuse(send: Send, refusal: Refusal) -> None:
    body = refusal.text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    headers.append((b"content-length", str(len(body)).encode()))
    if refusal is Refusal.SERVER_FULL:
        headers.append((b"retry-after", b"10"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def sweep_ended_sessions(
    sessions: Sessions, reconnect_window: float, ledger: UploadLedger = LEDGER
) -> None:
    """Remove the uploads of sessions gone longer than ``reconnect_window`` s; runs forever."""
    ledger.guarded = True
    interval = max(0.5, min(reconnect_window / 4, 30.0))
    while True:
        sweep_once(sessions, reconnect_window + interval, ledger, time.monotonic())
        await asyncio.sleep(interval)  # a periodic job: there is no event to wait for


def sweep_once(sessions: Sessions, grace: float, ledger: UploadLedger, now: float) -> None:
    """One pass: sessions connected now are seen; those gone over ``grace`` s, cleaned."""
    for session_id in ledger.sessions():
        if sessions.is_connected(session_id):
            ledger.connected(session_id, now)
            continue
        last = ledger.gone_since(session_id)
        if last is not None and now - last > grace:
            sessions.remove_files(session_id)
            ledger.forget(session_id)
