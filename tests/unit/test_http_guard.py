"""The HTTP guard as ASGI middleware: framing headers on every response, uploads put to the
ledger before the app reads them, and the files of ended sessions removed."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable

from chatlab.guard.http_guard import HttpGuard, Message, Scope, sweep_once
from chatlab.guard.uploads import (
    MIB,
    PROCESS_BYTES,
    SESSION_BYTES,
    UPLOAD_LIMIT_BYTES,
    UPLOAD_LIMIT_MB,
    UploadLedger,
)
from testing.aio import run_async
from tests.conftest import ROOT


class FakeSessions:
    """Streamlit's side: which sessions are connected and the files each holds."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, int]] = {}
        self.connected: set[str] = set()
        self.removed: list[str] = []

    def held(self, session_id: str, file_ids: Iterable[str]) -> dict[str, int]:
        stored = self.files.get(session_id, {})
        return {f: stored[f] for f in file_ids if f in stored}

    def is_connected(self, session_id: str) -> bool:
        return session_id in self.connected

    def remove_files(self, session_id: str) -> None:
        self.removed.append(session_id)
        self.files.pop(session_id, None)


class Storing:
    """An app standing in for Streamlit: reads the body, keeps it, answers 204."""

    def __init__(self, sessions: FakeSessions) -> None:
        self.sessions = sessions
        self.calls = 0

    async def __call__(self, scope: Scope, receive: object, send: object) -> None:
        self.calls += 1
        message = await receive()  # type: ignore[operator]
        if scope["method"] == "PUT":
            session_id, file_id = scope["path"].split("/")[-2:]
            self.sessions.files.setdefault(session_id, {})[file_id] = len(message["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]


def call(guard: HttpGuard, method: str, path: str, body: bytes = b"") -> list[Message]:
    sent: list[Message] = []
    headers = [(b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": path, "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    run_async(guard(scope, receive, send))
    return sent


def status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def headers(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


def guarded() -> tuple[HttpGuard, Storing, FakeSessions, UploadLedger]:
    sessions = FakeSessions()
    app = Storing(sessions)
    ledger = UploadLedger()
    return HttpGuard(app, sessions, ledger), app, sessions, ledger


def upload(guard: HttpGuard, session: str, file: str, size: int) -> int:
    return status(call(guard, "PUT", f"/_stcore/upload_file/{session}/{file}", b"x" * size))


def test_every_response_forbids_framing_by_other_sites() -> None:
    guard, _, _, ledger = guarded()
    ledger.admit("s", True, 0)
    for sent in (call(guard, "GET", "/"), call(guard, "GET", "/_stcore/health")):
        assert headers(sent)[b"content-security-policy"] == b"frame-ancestors 'self'"
        assert headers(sent)[b"x-frame-options"] == b"SAMEORIGIN"
    refused = call(guard, "PUT", "/_stcore/upload_file/nobody/f", b"x")
    assert headers(refused)[b"x-frame-options"] == b"SAMEORIGIN"


def test_a_session_not_admitted_is_refused_before_its_upload_is_read() -> None:
    guard, app, _, ledger = guarded()
    assert upload(guard, "s", "f", 10) == 403
    ledger.admit("s", False, 0)  # on the sign-in page
    assert upload(guard, "s", "f", 10) == 403
    assert app.calls == 0
    ledger.admit("s", True, 0)
    assert upload(guard, "s", "f", 10) == 204


def test_a_session_holds_at_most_its_share_and_gets_room_back() -> None:
    guard, _, sessions, ledger = guarded()
    ledger.admit("s", True, 0)
    size = SESSION_BYTES // 3
    assert [upload(guard, "s", f"f{i}", size) for i in range(4)] == [204, 204, 204, 413]
    del sessions.files["s"]["f0"]  # the widget let go of a file
    assert upload(guard, "s", "f4", size) == 204


def test_all_sessions_together_hold_at_most_the_process_share() -> None:
    guard, _, _, ledger = guarded()
    size = 40 * MIB
    fits = PROCESS_BYTES // size
    for index in range(fits + 1):
        ledger.admit(f"s{index}", True, 0)
    assert [upload(guard, f"s{i}", "f", size) for i in range(fits)] == [204] * fits
    assert upload(guard, f"s{fits}", "f", size) == 503


def test_files_of_a_session_gone_past_the_window_are_removed() -> None:
    sessions = FakeSessions()
    ledger = UploadLedger()
    ledger.guarded = True
    for name in ("stays", "left", "back"):
        ledger.admit(name, True, now=0)
    sessions.connected = {"stays", "back"}
    sweep_once(sessions, grace=10, ledger=ledger, now=5)
    sessions.connected = {"stays"}  # "back" drops its connection at 5 s, "left" before
    sweep_once(sessions, grace=10, ledger=ledger, now=12)
    assert sessions.removed == ["left"]
    sessions.connected = {"stays", "back"}  # reconnected within the window
    sweep_once(sessions, grace=10, ledger=ledger, now=20)
    assert sessions.removed == ["left"]
    assert sorted(ledger.sessions()) == ["back", "stays"]


def test_an_unguarded_process_remembers_no_sessions() -> None:
    ledger = UploadLedger()
    ledger.admit("s", True, 0)
    assert ledger.sessions() == []


def test_the_server_limit_in_config_is_the_largest_file_the_app_takes() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB
    assert UPLOAD_LIMIT_BYTES >= 50_000_000  # a conversation import
    assert config["client"]["disableDataExport"] is True  # no CSV export we cannot make safe
