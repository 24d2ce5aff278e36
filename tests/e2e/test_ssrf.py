"""A Base URL typed in the browser, pointed at a pretend internal service (issue 24.1).

The service answers with a secret in every body (a JSON "model list", a 403, a 404 page).
On an app listening on loopback alone a visitor may type a Base URL, but nothing of the
service's bodies reaches the page, its websocket frames or the log, model ids aside. On an
app that does not let visitors choose (as one listening beyond loopback), the field is
absent and the service hears nothing, not even the setup page's search for local servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from testing.app_process import AppProcess, stop
from testing.fake_openai import FakeOpenAI
from testing.internal_service import MODEL_ID, InternalService
from tests.e2e.conftest import ChatPage, OpenPage, start_app

pytestmark = pytest.mark.e2e


@pytest.fixture
def internal() -> Iterator[InternalService]:
    with InternalService() as service:
        yield service


def assert_secret_kept(chat: ChatPage, service: InternalService) -> None:
    """The secret is nowhere the browser or the log can see it."""
    chat.wait_idle()
    assert service.secret not in chat.page.content()
    received = [f for f in chat.traffic.frames_received if service.secret.encode() in f]
    assert received == [], "a body of the internal service was sent to the page"
    assert service.secret not in chat.app.log()


def test_a_typed_base_url_shows_none_of_an_internal_services_bodies(
    chat: ChatPage, internal: InternalService
) -> None:
    chat.set_base_url(internal.base_url)
    # Its JSON "model list": the id is offered, nothing else of it.
    expect(chat.sidebar.get_by_text(MODEL_ID)).to_be_visible()
    chat.send("Hello")
    expect(chat.error).to_be_visible()  # the 403 with the secret in its text
    expect(chat.page.get_by_text("not an OpenAI-compatible server")).to_be_visible()
    chat.button("Check this server").click()
    expect(chat.sidebar.get_by_text("Streaming", exact=True)).to_be_visible()
    assert_secret_kept(chat, internal)

    chat.set_base_url(f"{internal.url}/nothing/v1")  # a 404 page for every request
    expect(chat.sidebar.get_by_text("Could not list models")).to_be_visible()
    expect(chat.sidebar.get_by_text("answered HTTP 404")).to_be_visible()
    assert_secret_kept(chat, internal)
    assert internal.heard  # it was asked: what it said was kept from the page


def test_a_query_or_fragment_in_the_base_url_is_refused_not_sent(
    chat: ChatPage, internal: InternalService
) -> None:
    chat.set_base_url(f"{internal.url}/admin?x=")
    expect(chat.sidebar.get_by_text("A Base URL cannot contain ? or #")).to_have_count(2)
    chat.send("Hello")
    expect(chat.error).to_contain_text("A Base URL cannot contain ? or #")
    assert_secret_kept(chat, internal)
    assert internal.heard == []


@pytest.fixture
def closed_app(
    browser: Browser, internal: InternalService, app_scratch: Path
) -> Iterator[AppProcess]:
    """An app whose visitors may not choose the server (listening beyond loopback would
    set that; tests never listen beyond it), with nothing configured, looking for local
    servers on the internal service's port."""
    env = {
        "CHATLAB_ALLOW_CUSTOM_BASE_URL": "0",
        "CHATLAB_DISCOVERY_PORTS": internal.url.rsplit(":", 1)[1],
    }
    server = start_app("closed", env, app_scratch)
    yield server
    stop(server.process)


def test_where_visitors_may_not_choose_the_field_is_absent_and_nothing_is_asked(
    open_page: OpenPage, closed_app: AppProcess, internal: InternalService, fake: FakeOpenAI
) -> None:
    chat = open_page(closed_app)
    expect(chat.page.get_by_text("No model connection yet.")).to_be_visible()
    chat.open_connection()
    expect(chat.textbox("OpenAI API key")).to_be_visible()
    expect(chat.textbox("Base URL")).to_have_count(0)
    expect(chat.page.get_by_text("Found on this computer")).to_have_count(0)
    chat.wait_idle()
    assert internal.heard == []
    assert fake.requests == []
