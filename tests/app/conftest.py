"""AppTest fixtures: the real app script pointed at the fake server."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from chatlab.conversation import Conversation
from chatlab.messages import ChatMessage
from components import session
from components.session import ChatState, SavingState
from testing.fake_openai import FakeOpenAI
from tests.conftest import ROOT, TEST_KEY

AppFactory = Callable[[], AppTest]
SECTIONS = (session.ADVANCED_SECTION, session.TOOLS_SECTION, session.CONVERSATION_SECTION)
T = TypeVar("T")


@pytest.fixture(autouse=True)
def listening_locally() -> Iterator[None]:
    """Streamlit's ``server.address`` as ``make run`` sets it: 127.0.0.1 alone, so a
    visitor may type a Base URL (chatlab.url_policy). A test may set it otherwise."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    yield
    st_config.set_option("server.address", before)


@pytest.fixture
def make_app(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """Build an AppTest of app.py connected to the fake server through the environment."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.chdir(ROOT)

    def build() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=10)
        # The sidebar's collapsed sections draw their widgets only once opened: open, as
        # a user who changes those settings has them (test_sidebar_sections.py: shut).
        for key in SECTIONS:
            at.session_state[key] = True
        return at

    return build


@pytest.fixture
def app(make_app: AppFactory) -> AppTest:
    """The app after its first run."""
    return make_app().run()


def send(at: AppTest, text: str, timeout: float = 10) -> AppTest:
    """Type ``text`` into the chat box and press Enter; the run that follows is done, and
    what it saved (behind the page, chatlab.storage.outbox) is stored."""
    at.chat_input[0].set_value(text).run(timeout=timeout)
    assert flushed(at, timeout), "saves still waiting"
    return at


def click(at: AppTest, label: str) -> AppTest:
    """Click the one button labelled ``label`` (and wait for what it saved)."""
    (button,) = [b for b in at.button if b.label == label]
    button.click().run()
    assert flushed(at, 10), "saves still waiting"
    return at


def flushed(at: AppTest, timeout: float = 30) -> bool:
    """Wait until what the session saved (behind the page) is stored."""
    key = session.state_key(SavingState)
    saving = at.session_state[key] if key in at.session_state else None  # noqa: SIM401 (AppTest's state has no get)
    return saving is None or bool(saving.outbox.flush(timeout))


def shown(at: AppTest) -> list[tuple[str, str]]:
    """(role, text) of every chat message on the page."""
    return [(m.name, "".join(md.value for md in m.markdown)) for m in at.chat_message]


def held(at: AppTest, kind: type[T]) -> T:
    """The session's state of one feature (``components.session``), as its runs left it."""
    found = at.session_state[session.state_key(kind)]
    assert isinstance(found, kind)
    return found


def chat_state(at: AppTest) -> ChatState:
    """The session's chat (components.session.ChatState)."""
    return held(at, ChatState)


def plant(at: AppTest, messages: list[ChatMessage]) -> None:
    """Make ``messages`` (chained parent to child) the open, never-stored conversation."""
    for parent, child in itertools.pairwise(messages):
        child.parent_id = parent.id
    chat_state(at).conversation = Conversation.of(messages)


def kept(at: AppTest) -> list[tuple[str, str]]:
    """(role, content) of the shown path of the conversation held in the session."""
    return [(m.role, m.content) for m in chat_state(at).conversation.path()]


# Streamlit's OIDC settings (st.login): with them, every page asks who you are first.
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "chatlab",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def signed_in(make_app: AppFactory, name: str | None) -> AppTest:
    """A new session with sign-in on, as ``name`` (None: nobody has signed in yet)."""
    at = make_app()
    at.secrets["auth"] = AUTH
    at.user = (
        {"is_logged_in": True, "iss": "http://idp", "sub": name, "email": f"{name}@x", "name": name}
        if name
        else {"is_logged_in": False}
    )
    return at


def charts(at: AppTest) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every Altair chart: its Vega-Lite spec and the rows it draws (Streamlit sends Arrow)."""
    found = []
    for element in at.get("vega_lite_chart"):
        rows = [
            row
            for dataset in element.proto.datasets
            for row in pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
        ]
        found.append((json.loads(element.proto.spec), rows))
    return found


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
