"""Uploads against the real upload endpoint of a running app: what the server refuses, and
that the memory of uploads comes back once their sessions end.

A session here is a websocket speaking Streamlit's protocol (``testing.load.Session``),
which is what a browser tab is to the server; files are PUT the way the frontend does,
with an XSRF cookie and header, as a hostile client can. ``Expect: 100-continue`` lets a
refused upload be answered before its body is sent.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from chatlab.guard.uploads import MIB, SESSION_BYTES, UPLOAD_LIMIT_BYTES
from testing.aio import run_async
from testing.app_process import AppProcess, start, stop
from testing.fake_openai import FakeOpenAI
from testing.load import Session
from tests.e2e.conftest import LOGS

pytestmark = pytest.mark.e2e

RECONNECT_WINDOW_S = 2  # server.disconnectedSessionTTL for these apps (Streamlit's: 120)


def start_uploads_app(
    name: str, fake: FakeOpenAI, tmp_path: Path, secrets_file: Path | None = None
) -> AppProcess:
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(RECONNECT_WINDOW_S),
    }
    log = LOGS / f"app-{name}-{os.getpid()}.log"
    return start(name, env, tmp_path, log, secrets_file=secrets_file)


@pytest.fixture
def uploads_app(fake: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    app = start_uploads_app("uploads", fake, tmp_path)
    yield app
    stop(app.process)


@pytest.fixture
def signin_app(fake: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    """Sign-in on (an ``[auth]`` section); nobody here ever signs in."""
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:9/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "chatlab"\n'
        'client_secret = "chatlab-secret"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
    )
    app = start_uploads_app("uploads-signin", fake, tmp_path, secrets_file=secrets_file)
    yield app
    stop(app.process)


def xsrf_token(app: AppProcess) -> str:
    """The XSRF cookie the server hands out (the client sends it back as a header too)."""
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
        sock.sendall(
            b"GET /_stcore/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        head = sock.makefile("rb").read().split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie" and value.strip().startswith("_streamlit_xsrf="):
            return value.strip().split(";", 1)[0].removeprefix("_streamlit_xsrf=")
    raise AssertionError(f"no XSRF cookie in:\n{head}")


def put_file(app: AppProcess, session_id: str, data: bytes, xsrf: str) -> int:
    """PUT ``data`` as one file to the session's upload URL; the final HTTP status."""
    boundary = "chatlab-" + secrets.token_hex(8)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="import.json"\r\nContent-Type: application/json\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = (
        f"PUT /_stcore/upload_file/{session_id}/{uuid.uuid4()} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{app.port}\r\nOrigin: {app.origin}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(data) + len(tail)}\r\n"
        f"Cookie: _streamlit_xsrf={xsrf}\r\nX-Xsrftoken: {xsrf}\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", app.port), timeout=60) as sock:
        sock.sendall(request)
        reader = sock.makefile("rb")
        status = _status(reader)
        if status != 100:
            return status  # answered before the body: refused
        sock.sendall(head)
        sock.sendall(data)
        sock.sendall(tail)
        return _status(reader)


def _status(reader: BinaryIO) -> int:
    """The status of the next response on ``reader``; its headers are read past."""
    status_line = reader.readline()
    while reader.readline() not in (b"\r\n", b""):
        pass
    return int(status_line.split()[1])


async def open_sessions(app: AppProcess, count: int) -> list[Session]:
    return list(await asyncio.gather(*(Session.open(app.stream_url) for _ in range(count))))


def rss(app: AppProcess) -> int:
    """The app process's resident memory, in bytes (/proc)."""
    status = Path(f"/proc/{app.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def test_an_upload_over_the_limit_is_refused(uploads_app: AppProcess) -> None:
    xsrf = xsrf_token(uploads_app)

    async def scenario() -> tuple[int, int]:
        (session,) = await open_sessions(uploads_app, 1)
        try:
            over = await asyncio.to_thread(
                put_file, uploads_app, session.session_id, b"x" * (UPLOAD_LIMIT_BYTES + 1), xsrf
            )
            within = await asyncio.to_thread(put_file, uploads_app, session.session_id, b"{}", xsrf)
        finally:
            await session.close()
        return over, within

    over, within = run_async(scenario(), timeout=120)
    assert (over, within) == (413, 204)


def test_a_session_holds_at_most_its_share(uploads_app: AppProcess) -> None:
    xsrf = xsrf_token(uploads_app)
    chunk = b"x" * (20 * MIB)
    room = SESSION_BYTES // len(chunk)  # uploads of 20 MiB that fit in one session

    async def scenario() -> list[int]:
        (session,) = await open_sessions(uploads_app, 1)
        try:
            return [
                await asyncio.to_thread(put_file, uploads_app, session.session_id, chunk, xsrf)
                for _ in range(room + 2)
            ]
        finally:
            await session.close()

    assert run_async(scenario(), timeout=120) == [204] * room + [413, 413]


def test_a_visitor_who_has_not_signed_in_cannot_upload(signin_app: AppProcess) -> None:
    xsrf = xsrf_token(signin_app)

    async def scenario() -> tuple[list[str], int]:
        (session,) = await open_sessions(signin_app, 1)
        try:
            kinds = [str(element.WhichOneof("type")) for _, element in session.page.elements()]
            status = await asyncio.to_thread(put_file, signin_app, session.session_id, b"{}", xsrf)
        finally:
            await session.close()
        return kinds, status

    kinds, status = run_async(scenario(), timeout=120)
    assert "file_uploader" not in kinds and "chat_input" not in kinds  # the sign-in page
    assert status == 403


def test_memory_comes_back_after_sessions_with_uploads_end(uploads_app: AppProcess) -> None:
    xsrf = xsrf_token(uploads_app)
    size = 40 * MIB  # over glibc's largest mmap threshold (32 MiB): freed means returned
    sessions_count = 3

    async def scenario() -> tuple[int, int, list[int]]:
        sessions = await open_sessions(uploads_app, sessions_count)
        before = rss(uploads_app)
        try:
            statuses = [
                await asyncio.to_thread(put_file, uploads_app, s.session_id, b"x" * size, xsrf)
                for s in sessions
            ]
            held = rss(uploads_app)
        finally:
            await asyncio.gather(*(s.close() for s in sessions))
        return before, held, statuses

    before, held, statuses = run_async(scenario(), timeout=120)
    assert statuses == [204] * sessions_count
    assert held - before > sessions_count * size * 0.8  # the uploads were held in memory
    tolerance = 40 * MIB
    deadline = time.monotonic() + 60  # the reconnect window is 2 s; the sweep follows
    while rss(uploads_app) - before > tolerance:
        assert time.monotonic() < deadline, (
            f"RSS {rss(uploads_app) / MIB:.0f} MiB, was {before / MIB:.0f} MiB before the "
            f"uploads and {held / MIB:.0f} MiB with them"
        )
        time.sleep(0.2)  # polling another process's memory: there is no event to wait on
