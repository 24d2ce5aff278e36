"""The Base URL field and the setup panel's search follow the URL policy (issue 24.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from testing.fake_openai import FakeOpenAI
from testing.internal_service import InternalService
from tests.app.conftest import AppFactory, send
from tests.conftest import ROOT


def base_url_fields(at: AppTest) -> list[str]:
    return [t.label for t in at.text_input if t.label == "Base URL"]


@pytest.fixture
def internal() -> Iterator[InternalService]:
    with InternalService() as service:
        yield service


@pytest.mark.parametrize(
    ("address", "setting"), [("0.0.0.0", None), (None, None), ("127.0.0.1", "0")]
)
def test_beyond_loopback_the_field_is_hidden_and_the_configured_endpoint_used(
    make_app: AppFactory,
    fake: FakeOpenAI,
    internal: InternalService,
    monkeypatch: pytest.MonkeyPatch,
    address: str | None,
    setting: str | None,
) -> None:
    st_config.set_option("server.address", address)
    if setting is not None:
        monkeypatch.setenv("CHATLAB_ALLOW_CUSTOM_BASE_URL", setting)
    at = make_app().run()
    assert base_url_fields(at) == []
    at.session_state["base_url_input"] = internal.base_url  # as a crafted session might
    at = send(at.run(), "Hello")
    assert not at.exception
    assert [r.path for r in fake.chat_requests] == ["/v1/chat/completions"]
    assert internal.heard == []


def test_on_loopback_the_field_is_there_and_says_what_is_wrong(make_app: AppFactory) -> None:
    at = make_app().run()
    assert base_url_fields(at) == ["Base URL"]
    at.text_input(key="base_url_input").set_value("http://127.0.0.1:9/admin#").run()
    assert any("A Base URL cannot contain" in c.value for c in at.caption)


def test_the_setup_panel_searches_nowhere_where_visitors_may_not_choose(
    monkeypatch: pytest.MonkeyPatch, internal: InternalService
) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    monkeypatch.setenv("CHATLAB_DISCOVERY_PORTS", internal.url.rsplit(":", 1)[1])
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=10).run()
    assert not at.exception
    assert any("No model connection yet." in i.value for i in at.info)
    assert not any("Base URL" in m.value for m in at.markdown)  # no field to point to
    assert internal.heard == []
