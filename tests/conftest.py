"""Shared fixtures: a clean environment, the fake OpenAI server, the app under AppTest."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.components.v2 import manifest_scanner

from testing.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
TEST_KEY = "sk-test-key-123"

# Every new AppTest scans the metadata of every installed package for Streamlit's v2
# components (``BidiComponentManager.discover_and_register_components``): 0.8 s per test in
# the dev venv, three quarters of a typical page test. The packages do not change during a
# test run, so the scan is done once per process.
manifest_scanner.scan_component_manifests = functools.cache(
    manifest_scanner.scan_component_manifests
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's .env, key or base URL leaks into a test."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATLAB_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("CHATLAB_READ_TIMEOUT", "5")
    monkeypatch.setenv("CHATLAB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("CHATLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHATLAB_DISCOVERY_PORTS", "")  # never find a developer's own server
    for name in ("CHATLAB_ALLOW_CUSTOM_BASE_URL", "CHATLAB_BASE_URL_ALLOWLIST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on 127.0.0.1."""
    with FakeOpenAI() as server:
        yield server
