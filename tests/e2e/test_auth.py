"""Signed-in users see only their own conversations, through Streamlit's real OIDC login.

The identity provider is ``oidc-provider-mock`` (a Flask app) on 127.0.0.1 in a thread of
the test process; its login form takes any ``sub``. The app gets an ``[auth]`` section in a
secrets file of its own, so ``st.login`` runs the whole authorization-code flow through the
browser, and the owner of a conversation is ``<issuer>#<sub>``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import werkzeug.serving
from playwright.sync_api import Browser, BrowserContext, expect

from testing.app_process import AppDidNotStart, AppProcess, start, stop
from testing.fake_openai import HOST, FakeOpenAI, unused_port
from tests.e2e.conftest import LOGS, UI_TIMEOUT_MS, ChatPage, Traffic, save_failure
from tests.e2e.test_hostile_text import is_app_url, listening, literally

with warnings.catch_warnings():
    # The provider imports Authlib's deprecated ``authlib.jose``; Authlib installs an "always"
    # filter for its warnings on import, so import it first, then silence it.
    import authlib.deprecate  # type: ignore[import-untyped]

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    import oidc_provider_mock  # type: ignore[import-untyped]

NOT_YOURS = "That conversation does not exist, or it is not yours."
# Authlib's own deprecations, raised inside the mock provider.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib.*")
USERS = [
    oidc_provider_mock.User(sub="alice", claims={"email": "alice@example.org", "name": "Alice"}),
    oidc_provider_mock.User(sub="bob", claims={"email": "bob@example.org", "name": "Bob"}),
]


@pytest.fixture
def identity_provider() -> Iterator[str]:
    """The mock OIDC provider on a free loopback port; yields its issuer URL."""
    provider = oidc_provider_mock.app(user_claims=USERS)  # any client id is accepted
    server = werkzeug.serving.make_server(HOST, 0, provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def auth_app(
    browser: Browser, fake: FakeOpenAI, identity_provider: str, tmp_path: Path
) -> Iterator[AppProcess]:
    """The app with an ``[auth]`` section pointing at the mock provider."""
    port = unused_port()
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://{HOST}:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "chatlab"\n'
        'client_secret = "chatlab-secret"\n'
        f'server_metadata_url = "{identity_provider}/.well-known/openid-configuration"\n'
    )
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url}
    log_path = LOGS / f"app-auth-{os.getpid()}.log"
    try:
        server = start("auth", env, tmp_path, log_path, port=port, secrets_file=secrets_file)
    except AppDidNotStart as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        stop(server.process)


SignIn = Callable[[str], ChatPage]


@pytest.fixture
def sign_in(
    browser: Browser, auth_app: AppProcess, request: pytest.FixtureRequest
) -> Iterator[SignIn]:
    """Sign a user in, in a browser context of their own; contexts closed after the test."""
    opened: list[tuple[BrowserContext, ChatPage]] = []

    def sign_in_(sub: str) -> ChatPage:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(UI_TIMEOUT_MS)
        chat = ChatPage(context.new_page(), auth_app, Traffic())
        opened.append((context, chat))
        chat.page.goto(auth_app.url)
        expect(chat.page.get_by_text("Sign in to see your conversations.")).to_be_visible()
        chat.button("Sign in").click()
        # The provider's own form: any subject is accepted.
        chat.page.get_by_placeholder("sub").fill(sub)
        chat.page.get_by_role("button", name="Authorize", exact=True).click()
        expect(chat.button("New chat")).to_be_visible()
        expect(chat.sidebar).to_contain_text(f"Signed in as {sub.capitalize()}")
        chat.wait_idle()
        return chat

    yield sign_in_

    report = getattr(request.node, "rep_call", None)
    for index, (context, chat) in enumerate(opened):
        if report is not None and report.failed:
            save_failure(chat, f"{request.node.name}-{index}")
        context.close()


def conversation_id(chat: ChatPage) -> str:
    expect(chat.page).to_have_url(re.compile(r"[?&]c="))
    return parse_qs(urlsplit(chat.page.url).query)["c"][0]


def listed(chat: ChatPage) -> list[str]:
    """Ids of the conversations in the sidebar list (buttons keyed ``open-<id>``)."""
    classes = chat.sidebar.locator("[class*='st-key-open-']").evaluate_all(
        "nodes => nodes.map(n => n.className)"
    )
    return [re.search(r"st-key-open-(\S+)", names).group(1) for names in classes]  # type: ignore[union-attr]


@pytest.mark.e2e
def test_each_user_sees_only_their_own_conversations(sign_in: SignIn, auth_app: AppProcess) -> None:
    alice = sign_in("alice")
    alice.chat("alice secret", "Echo: alice secret")
    alice_id = conversation_id(alice)
    expect(alice.sidebar.get_by_role("button", name="alice secret")).to_be_visible()

    bob = sign_in("bob")
    expect(bob.sidebar.get_by_text("No saved conversations yet.")).to_be_visible()
    assert listed(bob) == []

    bob.page.goto(f"{auth_app.url}?c={alice_id}")
    expect(bob.page.get_by_test_id("stToast")).to_contain_text(NOT_YOURS)
    expect(bob.button("New chat")).to_be_visible()
    bob.wait_idle()
    expect(bob.messages).to_have_count(0)
    expect(bob.page.get_by_text("alice secret")).to_have_count(0)

    bob.chat("bob hello", "Echo: bob hello")
    bob_id = conversation_id(bob)
    assert bob_id != alice_id
    assert listed(bob) == [bob_id]

    alice.page.reload()
    expect(alice.user_messages).to_have_count(1)
    expect(alice.user_messages.first).to_contain_text("alice secret")
    alice.wait_idle()
    assert listed(alice) == [alice_id]
    expect(alice.page.get_by_text("bob hello")).to_have_count(0)
    assert "Traceback" not in auth_app.log()


@pytest.mark.e2e
def test_a_hostile_name_claim_is_shown_as_text(
    browser: Browser, auth_app: AppProcess, identity_provider: str
) -> None:
    with listening() as listener, browser.new_context() as context:
        name = f"![name]({listener.url}/name.png) <img src={listener.url}/n.png> **Mallory**"
        claims = json.dumps({"name": name, "email": "mallory@example.org"}).encode()
        request = urllib.request.Request(
            f"{identity_provider}/users/mallory", data=claims, method="PUT",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):  # the mock provider, on 127.0.0.1
            pass
        chat = ChatPage(context.new_page(), auth_app, Traffic())
        chat.page.goto(auth_app.url)
        chat.button("Sign in").click()
        chat.page.get_by_placeholder("sub").fill("mallory")
        chat.page.get_by_role("button", name="Authorize", exact=True).click()
        signed_in_as = literally(f"Signed in as {name}")
        expect(chat.sidebar).to_contain_text(signed_in_as)
        chat.wait_idle()
        context.on("request", chat.traffic.on_request)  # the app's page alone, not the IdP's
        chat.page.reload()
        expect(chat.sidebar).to_contain_text(signed_in_as)
        expect(chat.sidebar.locator("img, strong")).to_have_count(0)
        chat.wait_idle()
        assert [u for u in chat.traffic.urls if not is_app_url(u, auth_app)] == []
        assert listener.heard == []
