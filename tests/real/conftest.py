"""The opt-in real-server suite: the main browser checks against a model server you run.

    make test-real BASE_URL=http://127.0.0.1:8080/v1 MODEL=<model id>

Skipped unless ``CHATLAB_REAL_BASE_URL`` is set (``make test-real`` sets it from
``BASE_URL``), and always skipped in CI: a real model is slow, and its replies are its own.
The harness is the browser suite's (``tests/e2e``): the app under ``streamlit run``, driven
in Chromium, here pointed at the real endpoint instead of the fake server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from chatlab.provider.servers import ServerModel, list_server_models

# Fixtures and the report hook of the browser suite, reused as they are.
from testing.app_process import AppProcess, stop
from tests.e2e.conftest import (  # noqa: F401
    browser,
    fake,
    fake_server,
    open_page,
    pytest_runtest_makereport,
    start_app,
)

BASE_URL = os.environ.get("CHATLAB_REAL_BASE_URL", "").strip()
MODEL = os.environ.get("CHATLAB_REAL_MODEL", "").strip()
API_KEY = os.environ.get("CHATLAB_REAL_API_KEY", "").strip()
REPLY_TIMEOUT_MS = 90_000  # a CPU model may need a minute for a long prompt


@pytest.fixture(autouse=True, scope="session")
def _only_when_asked() -> None:
    if os.environ.get("CI") == "true":
        pytest.skip("the real-server suite never runs in CI")
    if not BASE_URL:
        pytest.skip("set BASE_URL (make test-real BASE_URL=… MODEL=…) to run against a server")
    expect.set_options(timeout=REPLY_TIMEOUT_MS)


@pytest.fixture(scope="session")
def server_models() -> list[ServerModel]:
    """What the server lists, read directly (the app must show the same)."""
    return list_server_models(BASE_URL, API_KEY or None, timeout=10)


@pytest.fixture(scope="session")
def model_id(server_models: list[ServerModel]) -> str:
    return MODEL or server_models[0].id


@pytest.fixture(scope="session")
def real_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app pointed at the real server, with its model configured when one was given."""
    if not BASE_URL:
        pytest.skip("no BASE_URL")
    env = {"OPENAI_BASE_URL": BASE_URL, "CHATLAB_READ_TIMEOUT": "120"}
    env |= {"OPENAI_MODEL": MODEL} if MODEL else {}
    env |= {"OPENAI_API_KEY": API_KEY} if API_KEY else {}
    server = start_app("real", env, tmp_path_factory.mktemp("real-app"))
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def discovering_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppProcess]:
    """The app with no key and no base URL, looking for servers on the real server's port."""
    url = urlsplit(BASE_URL)
    if url.hostname not in {"127.0.0.1", "localhost"} or url.port is None:
        pytest.skip("discovery only looks on 127.0.0.1: BASE_URL is elsewhere")
    env = {"CHATLAB_DISCOVERY_PORTS": str(url.port), "CHATLAB_READ_TIMEOUT": "120"}
    server = start_app("real-discovery", env, tmp_path_factory.mktemp("real-discovery"))
    yield server
    stop(server.process)
