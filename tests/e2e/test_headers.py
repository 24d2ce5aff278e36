"""No other site may frame Chat Lab: the framing headers, from the app and from HAProxy.

Checked on the page and on Streamlit's own endpoints, straight from an app process and
through HAProxy as ``make serve`` runs it (deploy/serve.py's ``start_balancer``); HAProxy
sets them even in front of an app that does not. In Chromium, a page of another origin
that frames the app gets nothing drawn.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from deploy.serve import Balancer, start_balancer
from testing.app_process import AppProcess, start, stop
from testing.fake_openai import FakeOpenAI, unused_port
from tests.e2e.conftest import LOGS, start_app
from tests.e2e.test_balancer import haproxy as haproxy  # the fixture: HAProxy installed

pytestmark = pytest.mark.e2e

FRAMING = {"content-security-policy": "frame-ancestors 'self'", "x-frame-options": "SAMEORIGIN"}


def paths(port: int) -> list[tuple[str, str]]:
    """(method, path) of the page, a static asset and Streamlit's endpoints."""
    page = request(port, "GET", "/")[1]
    asset = re.search(r'src="\.?(/static/[^"]+\.js)"', page)
    assert asset is not None, page[:500]
    return [
        ("GET", "/"),
        ("GET", "/compare"),
        ("GET", asset[1]),
        ("GET", "/_stcore/health"),
        ("GET", "/_stcore/host-config"),
        ("OPTIONS", "/_stcore/upload_file/session/file"),
        ("PUT", "/_stcore/upload_file/session/file"),
        ("GET", "/_stcore/no-such-endpoint"),
    ]


def request(port: int, method: str, path: str) -> tuple[dict[str, str], str]:
    """Headers (lower-case names) and body of one request to 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return {name.lower(): value for name, value in response.getheaders()}, body
    finally:
        connection.close()


def framing_headers(port: int) -> dict[tuple[str, str], dict[str, str | None]]:
    return {
        (method, path): {name: request(port, method, path)[0].get(name) for name in FRAMING}
        for method, path in paths(port)
    }


def behind_haproxy(workers: list[AppProcess], tmp_path: Path) -> Balancer:
    log = (LOGS / f"haproxy-headers-{os.getpid()}.log").open("wb")
    with log:
        ports = [worker.port for worker in workers]
        return start_balancer(ports, "127.0.0.1", unused_port(), tmp_path / "lb", log)


@pytest.fixture
def worker(browser: Browser, fake: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    app = start_app("headers", {"OPENAI_BASE_URL": fake.base_url}, tmp_path)
    yield app
    stop(app.process)


@pytest.fixture
def unguarded(fake: FakeOpenAI, tmp_path: Path) -> Iterator[AppProcess]:
    """``streamlit run app.py``: the app without its HTTP guard, as another setup may run it."""
    log = LOGS / f"app-unguarded-{os.getpid()}.log"
    app = start("unguarded", {"OPENAI_BASE_URL": fake.base_url}, tmp_path, log, script="app.py")
    yield app
    stop(app.process)


def test_the_app_forbids_framing_on_every_response(worker: AppProcess) -> None:
    found = framing_headers(worker.port)
    assert found == dict.fromkeys(found, FRAMING)


def test_haproxy_forbids_framing_on_every_response(
    haproxy: None, worker: AppProcess, tmp_path: Path
) -> None:
    balancer = behind_haproxy([worker], tmp_path)
    try:
        found = framing_headers(balancer.port)
    finally:
        stop(balancer.process)
    assert found == dict.fromkeys(found, FRAMING)


def test_haproxy_forbids_framing_whatever_runs_behind_it(
    haproxy: None, unguarded: AppProcess, tmp_path: Path
) -> None:
    assert request(unguarded.port, "GET", "/")[0].get("x-frame-options") is None
    balancer = behind_haproxy([unguarded], tmp_path)
    try:
        found = framing_headers(balancer.port)
    finally:
        stop(balancer.process)
    assert found == dict.fromkeys(found, FRAMING)


@contextlib.contextmanager
def site_framing(url: str) -> Iterator[str]:
    """Another site (127.0.0.1 on another port: another origin) whose page frames ``url``."""
    page = (
        f"<p>Win a prize!</p><iframe src='{url}' "
        "onload=\"document.body.dataset.framed = 'done'\"></iframe>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_another_site_framing_the_app_gets_nothing(browser: Browser, worker: AppProcess) -> None:
    with site_framing(worker.url) as attacker, browser.new_context() as context:
        page = context.new_page()
        page.goto(attacker)
        expect(page.locator("body")).to_have_attribute("data-framed", "done")
        (framed,) = page.main_frame.child_frames
        assert framed.url.startswith("chrome-error://")  # refused: Chromium's error page
