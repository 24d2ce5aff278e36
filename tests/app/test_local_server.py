"""A local server as a new user meets it (issue 12): its model, its window, its limits."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.markdown import plain
from testing.fake_openai import LLAMACPP_MODEL_PATH, Dialect, FakeOpenAI, Reply
from tests.app.conftest import AppFactory, click, send, shown


@pytest.fixture
def llamacpp(make_app: AppFactory, fake: FakeOpenAI) -> AppTest:
    """The app pointed at a llama.cpp-like server that offers only its own model."""
    fake.dialect = Dialect(name="llamacpp", context_window=4096, strict_roles=True)
    fake.models = [LLAMACPP_MODEL_PATH]
    return make_app().run()


def test_the_servers_own_model_replaces_a_default_it_does_not_have(
    llamacpp: AppTest, fake: FakeOpenAI
) -> None:
    picker = llamacpp.selectbox(key="model")
    assert picker.value == LLAMACPP_MODEL_PATH  # the full id is what requests carry
    assert picker.options == ["gemma-3-270m-q4_k_m.gguf"]  # the picker shows its name
    notes = " ".join(c.value for c in llamacpp.caption)
    assert plain("gpt-4o-mini") in notes and "not offered by this server" in notes
    send(llamacpp, "hi")
    assert fake.last_chat_body["model"] == LLAMACPP_MODEL_PATH  # type: ignore[index]


def test_the_context_window_is_the_one_the_server_reports(llamacpp: AppTest) -> None:
    (budget,) = llamacpp.get("progress")
    assert "of 4,096" in budget.proto.text


def test_a_new_models_smaller_limit_clamps_max_tokens_instead_of_resetting_it(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.models = ["gpt-4o-mini", "gpt-4o", "o3-mini", "a-local-model"]
    app = make_app().run()
    app.slider(key="max_tokens").set_value(9000).run()
    app.selectbox(key="model").set_value("o3-mini").run()  # up to 100,000: kept
    assert app.slider(key="max_tokens").value == 9000
    app.selectbox(key="model").set_value("a-local-model").run()  # unknown: up to 4,096
    assert app.slider(key="max_tokens").value == 4096
    app.slider(key="max_tokens").set_value(300).run()
    app.selectbox(key="model").set_value("gpt-4o").run()
    assert app.slider(key="max_tokens").value == 300


def test_a_continued_reply_counts_both_requests(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(
        Reply(text="first half", finish_reason="length", prompt_tokens=10, completion_tokens=1024)
    )
    send(app, "go")
    fake.enqueue(Reply(text=" second half", prompt_tokens=20, completion_tokens=5))
    click(app, "Continue")
    assert shown(app)[-1] == ("assistant", "first half second half")
    telemetry = [c.value for c in app.caption if "finish:" in c.value]
    assert "30 in / 1,029 out tokens" in telemetry[-1]
    assert "2 requests" in telemetry[-1]
