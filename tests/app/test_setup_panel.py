"""The setup panel finds local servers; the server check draws its table."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.markdown import plain
from testing.fake_openai import LLAMACPP_MODEL_PATH, Dialect, FakeOpenAI, unused_port
from tests.conftest import ROOT


@pytest.fixture
def setup_app(monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI) -> AppTest:
    """The app with no key and no base URL, looking for servers only where the fake listens."""
    fake.dialect = Dialect(name="llamacpp", strict_roles=True, usage_chunk=False)
    fake.models = [LLAMACPP_MODEL_PATH]
    monkeypatch.setenv("CHATLAB_DISCOVERY_PORTS", f"{unused_port()},{fake.port}")
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=10).run()


def server_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if (b.key or "").startswith("use_server_")]


def test_setup_panel_offers_a_local_server_with_its_model(
    setup_app: AppTest, fake: FakeOpenAI
) -> None:
    assert not setup_app.exception
    # The model's file name, not its path; as plain text (model names are untrusted).
    where = f"127.0.0.1:{fake.port}/v1"
    assert server_buttons(setup_app) == [plain(f"llama.cpp at {where}: gemma-3-270m-q4_k_m.gguf")]


def test_one_click_connects_to_the_found_server_and_model(
    setup_app: AppTest, fake: FakeOpenAI
) -> None:
    (button,) = [b for b in setup_app.button if (b.key or "").startswith("use_server_")]
    at = button.click().run()
    assert not at.exception
    assert at.text_input(key="base_url_input").value == fake.base_url
    assert at.session_state["model"] == LLAMACPP_MODEL_PATH
    assert server_buttons(at) == []  # the setup panel is gone: the chat is open
    assert at.chat_input


def test_nothing_found_shows_only_the_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATLAB_DISCOVERY_PORTS", str(unused_port()))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=10).run()
    assert not at.exception
    assert server_buttons(at) == []
    assert any("No model connection yet." in i.value for i in at.info)


def _check_page(base_url: str, model: str) -> None:
    from chatlab.config import Endpoint
    from components.server_check import render_server_check

    render_server_check(Endpoint(None, base_url, "sidebar"), model)


def test_check_this_server_shows_what_the_server_supports(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp", strict_roles=True, usage_chunk=False)
    fake.models = [LLAMACPP_MODEL_PATH]
    at = AppTest.from_function(
        _check_page, args=(fake.base_url, LLAMACPP_MODEL_PATH), default_timeout=30
    ).run()
    assert not at.markdown
    at.button[0].click().run()
    assert not at.exception
    (report,) = [m.value for m in at.markdown if "Usage chunk sent" in m.value]
    rows = {line.split("**")[1]: line for line in report.splitlines()}
    assert "✗" in rows["Usage chunk sent"]
    assert plain("token counts estimated, marked ≈") in rows["Usage chunk sent"]
    assert "✓" in rows["Strict role alternation"]
    assert plain("4,096 tokens") in rows["Context window known"]


@pytest.mark.parametrize(
    "page",
    [
        "pages/chat.py",
        "pages/compare.py",
        "pages/usage.py",
        "pages/side_by_side.py",
        "pages/leaderboard.py",
    ],
)
def test_a_bad_setting_stops_every_page_with_what_to_fix(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_READ_TIMEOUT", "6o")
    monkeypatch.setenv("CHATLAB_MAX_RUN_COST", "<b>lots</b>")
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / page), default_timeout=10).run()
    assert not at.exception  # a message, never a traceback
    (shown,) = [e.value for e in at.error]
    assert plain("CHATLAB_READ_TIMEOUT='6o' is not valid: expected seconds") in shown
    assert plain("CHATLAB_MAX_RUN_COST='<b>lots</b>'") in shown  # escaped, shown literally
    assert plain("Fix them in .env or the environment, then restart Chat Lab.") in shown
    assert not at.chat_input and not at.button  # nothing else drawn, nothing to press
