"""Two app processes on one PostgreSQL database serve the same conversations.

This is how Chat Lab scales out: no state lives in a process that another process needs,
so a conversation written through one app is listed and readable through any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from testing.app_process import AppProcess, stop
from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import OpenPage, start_app

if TYPE_CHECKING:  # imported for real by pytest_plugins, which rewrites its asserts
    from tests.postgres import PostgresCluster

pytest_plugins = ["tests.postgres"]


@pytest.fixture
def two_apps(
    browser: Browser, fake: FakeOpenAI, postgres_cluster: PostgresCluster, tmp_path: Path
) -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two app processes with separate data folders and one shared PostgreSQL database."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    # The database is dropped on leaving the block, after both apps have stopped.
    with postgres_cluster.database() as url:
        env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url, "DATABASE_URL": url}
        first = start_app("shared-db-1", env, tmp_path / "one")
        try:
            second = start_app("shared-db-2", env, tmp_path / "two")
            try:
                yield first, second
            finally:
                stop(second.process)
        finally:
            stop(first.process)


@pytest.mark.e2e
@pytest.mark.postgres
def test_conversation_written_by_one_app_is_read_by_another(
    open_page: OpenPage, two_apps: tuple[AppProcess, AppProcess]
) -> None:
    first, second = two_apps
    writer = open_page(first)
    writer.chat("shared across processes", "Echo: shared across processes")
    expect(writer.page).to_have_url(re.compile(r"[?&]c="))
    conversation = parse_qs(urlsplit(writer.page.url).query)["c"][0]

    reader = open_page(second)
    listed = reader.sidebar.locator(f".st-key-open-{conversation}")
    expect(listed).to_have_text("shared across processes")

    reader.page.goto(f"{second.url}?c={conversation}")
    expect(reader.user_messages).to_have_count(1)
    expect(reader.user_messages.first).to_contain_text("shared across processes")
    expect(reader.replies).to_have_count(1)
    assert reader.reply_text() == "Echo: shared across processes"
    reader.wait_idle()
