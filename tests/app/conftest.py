"""AppTest fixtures: the real app script pointed at the fake server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, TEST_KEY
from tests.fake_openai import FakeOpenAI

AppFactory = Callable[[], AppTest]


@pytest.fixture
def make_app(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """Build an AppTest of app.py connected to the fake server through the environment."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.chdir(ROOT)

    def build() -> AppTest:
        return AppTest.from_file(str(ROOT / "app.py"), default_timeout=10)

    return build


@pytest.fixture
def app(make_app: AppFactory) -> AppTest:
    """The app after its first run."""
    return make_app().run()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for work a stopped script run finishes in its own thread.

    Stop takes effect at the script's next element update, so a run stopped while it
    waits for the server ends only once the next chunk arrives.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
