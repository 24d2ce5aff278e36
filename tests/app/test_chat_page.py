"""The chat page under AppTest: what the user sees, and what reached the server."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.markdown import plain
from chatlab.provider.client import TEMPERATURE_IGNORED
from components.session import ConnectionState
from testing.fake_openai import FakeOpenAI, Reply, exceeds_window_error
from tests.app.conftest import AppFactory, chat_state, click, held, plant, send, shown, wait_until
from tests.conftest import TEST_KEY


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_connection_panel_starts_closed_when_configured(app: AppTest) -> None:
    (connection,) = [e for e in app.expander if e.label == "Connection"]
    assert not connection.proto.expanded


def test_first_reply_streams_with_settings_in_the_request(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="Hello **there**"))
    send(app, "hi")
    assert not app.exception
    assert shown(app) == [("user", "hi"), ("assistant", "Hello **there**")]
    body = fake.last_chat_body
    assert body is not None
    assert body["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hi"},
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.7, 1024)
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_sliders_and_system_prompt_reach_the_next_request(app: AppTest, fake: FakeOpenAI) -> None:
    app.slider(key="temperature").set_value(0.25)
    app.slider(key="max_tokens").set_value(300)
    app.text_area(key="system_prompt").input("Answer in French.")
    app.run()
    send(app, "bonjour")
    body = fake.last_chat_body
    assert body is not None
    assert (body["temperature"], body["max_tokens"]) == (0.25, 300)
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_history_keeps_exact_roles_across_turns(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="first answer"), Reply(text="second answer"))
    send(app, "one")
    send(app, "two")
    roles = [(m["role"], m["content"]) for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert roles == [
        ("system", "You are a helpful assistant."),
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
    ]
    assert [r for r, _ in shown(app)] == ["user", "assistant", "user", "assistant"]


def test_telemetry_caption_under_each_reply(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="a b c", prompt_tokens=20, completion_tokens=3))
    send(app, "x")
    line = captions(app)
    assert "to first token" in line and "20 in / 3 out tokens" in line and "finish: stop" in line


def test_estimated_usage_is_marked(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="no usage here", usage=False))
    send(app, "x")
    assert "≈" in captions(app)


def test_model_picker_lists_the_endpoint_models(app: AppTest, fake: FakeOpenAI) -> None:
    picker = app.selectbox(key="model")
    assert "gpt-4o" in picker.options and picker.value == "gpt-4o-mini"
    picker.select("o3-mini").run()
    send(app, "hi")
    assert fake.last_chat_body["model"] == "o3-mini"  # type: ignore[index]


def test_model_listing_failure_falls_back_to_a_text_field(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.models_reply = Reply(status=500, error={"message": "no list"})
    at = make_app().run()
    assert at.text_input(key="model").value == "gpt-4o-mini"
    assert "Could not list models" in captions(at)
    at.text_input(key="model").input("custom-model").run()
    send(at, "hi")
    assert fake.last_chat_body["model"] == "custom-model"  # type: ignore[index]


def test_new_chat_clears_the_conversation(app: AppTest, fake: FakeOpenAI) -> None:
    send(app, "remember me")
    click(app, "New chat")
    assert shown(app) == []
    send(app, "fresh")
    assert len(fake.last_chat_body["messages"]) == 2  # type: ignore[index]


def test_no_key_and_no_base_url_shows_setup(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    at = make_app().run()
    assert not at.exception
    assert "No model connection yet." in [i.value for i in at.info]
    assert "OPENAI_API_KEY" in at.markdown[0].value
    assert len(at.chat_input) == 0
    (connection,) = [e for e in at.expander if e.label == "Connection"]
    assert connection.proto.expanded  # the setup panel points into it


def test_typed_key_is_used_and_kept_out_of_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory, fake: FakeOpenAI
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    at = make_app().run()
    at.text_input(key="api_key_input").input("sk-typed-by-user").run()
    assert "api_key_input" not in [t.key for t in at.text_input]  # field gone, key not echoed
    assert "API key set for this browser session." in captions(at)
    send(at, "hi")
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer sk-typed-by-user"
    assert "sk-typed-by-user" not in os.environ.values()
    click(at, "Forget key")
    send(at, "again")
    assert "authorization" not in fake.chat_requests[-1].headers  # keyless local server


def test_secrets_supply_the_key(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory, fake: FakeOpenAI
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    at = make_app()
    at.secrets["OPENAI_API_KEY"] = "sk-from-secrets"
    send(at.run(), "hi")
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer sk-from-secrets"


FAULTS = [
    Reply(status=401, error={"code": "invalid_api_key"}),
    Reply(status=403, error={"code": "unsupported_country_region_territory"}),
    Reply(status=404, error={"code": "model_not_found"}),
    Reply(status=429, error={"code": "rate_limit_exceeded"}, headers={"Retry-After": "9"}),
    Reply(status=429, error={"code": "insufficient_quota"}),
    Reply(status=400, error={"code": "context_length_exceeded"}),
    Reply(status=500, error={"type": "server_error"}),
    Reply(text="partial words here", fault="cut", fault_after=2),
    Reply(text="partial words here", fault="malformed", fault_after=2),
    Reply(text="partial words here", fault="error_event", fault_after=2),
    Reply(text="partial words here", fault="hang", fault_after=2),
    Reply(text="partial words here", finish_reason=None),
    Reply(chunks=[]),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda r: r.fault or str(r.status or "empty"))
def test_each_fault_explains_keeps_the_message_and_retries(
    app: AppTest, fake: FakeOpenAI, fault: Reply
) -> None:
    fake.enqueue(fault)
    send(app, "my precious question")
    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value
    assert "Traceback" not in app.error[0].value
    assert shown(app)[0] == ("user", "my precious question")
    partial = [text for role, text in shown(app) if role == "assistant"]
    if (fault.fault and fault.fault != "malformed") or fault.finish_reason is None:
        assert partial and partial[0].startswith("partial words")  # what arrived is kept
    if fault.error and fault.error.get("code") == "insufficient_quota":
        # Retrying cannot help until the account has credit: its message says so, no button.
        assert "retrying will not help" in app.error[0].value
        assert not [b for b in app.button if b.label == "Retry"]
        return
    if fault.error and fault.error.get("code") == "context_length_exceeded":
        # The only message is itself too long: resending it cannot help (see below).
        assert not [b for b in app.button if b.label in ("Retry", "Drop oldest turns and retry")]
        return
    fake.enqueue(Reply(text="Recovered answer"))
    click(app, "Retry")
    assert not app.error
    assert shown(app) == [("user", "my precious question"), ("assistant", "Recovered answer")]
    retried = fake.last_chat_body["messages"]  # type: ignore[index]
    assert [m["role"] for m in retried] == ["system", "user"]


def test_rate_limit_says_when(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(
        Reply(status=429, error={"code": "rate_limit_exceeded"}, headers={"Retry-After": "9"})
    )
    send(app, "hi")
    assert "9 s" in app.error[0].value


def test_context_length_offers_to_drop_oldest_turns(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="a1"), Reply(status=400, error={"code": "context_length_exceeded"}))
    send(app, "first question")
    send(app, "second question")
    fake.enqueue(Reply(text="fits now"))
    click(app, "Drop oldest turns and retry")
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert sent == ["You are a helpful assistant.", "second question"]
    assert shown(app)[-1] == ("assistant", "fits now")


def test_stop_keeps_the_partial_reply_and_sends_it_as_context(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="one two three four five", fault="hang", fault_after=3))
    # AppTest stops a run that outlives its timeout exactly as the Stop button does
    # (ScriptRunner.request_stop), so this is the user pressing Stop mid-reply.
    with pytest.raises(RuntimeError, match="timed out"):
        send(app, "count", timeout=1.5)
    fake.release()
    wait_until(lambda: chat_state(app).conversation.path()[-1].status == "stopped")
    app.chat_input[0].set_value(None)  # the browser clears the input once it is sent
    app.run()
    assert shown(app)[-1] == ("assistant", "one two three")
    assert "Stopped" in captions(app)
    assert any(b.label == "Continue" for b in app.button)
    send(app, "go on")
    sent = fake.last_chat_body["messages"]  # type: ignore[index]
    assert sent[-2] == {"role": "assistant", "content": "one two three"}


def test_length_cutoff_offers_continue_which_appends(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="The story begins", finish_reason="length"))
    send(app, "tell a story")
    assert "max-tokens" in captions(app)
    fake.enqueue(Reply(text=" and ends well."))
    click(app, "Continue")
    assert shown(app) == [
        ("user", "tell a story"),
        ("assistant", "The story begins and ends well."),
    ]
    sent = fake.last_chat_body["messages"]  # type: ignore[index]
    assert sent[-2] == {"role": "assistant", "content": "The story begins"}
    assert sent[-1]["role"] == "user" and "Continue" in sent[-1]["content"]
    assert not any(b.label == "Continue" for b in app.button)


def test_content_filter_is_noted(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="I can", finish_reason="content_filter"))
    send(app, "x")
    assert "content filter" in captions(app)


def test_reasoning_model_notice_and_retry(app: AppTest, fake: FakeOpenAI) -> None:
    fake.reject_params = {"max_tokens", "temperature"}
    fake.enqueue(Reply(text="deep thought"))
    send(app, "think")
    assert shown(app)[-1] == ("assistant", "deep thought")
    assert plain(TEMPERATURE_IGNORED) in captions(app)
    assert "max_completion_tokens" in fake.last_chat_body  # type: ignore[operator]


def test_long_conversation_renders_only_recent_messages(app: AppTest, fake: FakeOpenAI) -> None:
    from chatlab.messages import ChatMessage

    plant(
        app,
        [ChatMessage("user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(120)],
    )
    app.run()
    assert len(app.chat_message) == 20
    assert shown(app)[0][1] == "message 100"
    click(app, "Show earlier messages (100 hidden)")
    assert len(app.chat_message) == 70  # fifty more
    assert shown(app)[0][1] == "message 50"


def test_images_and_html_from_the_model_are_not_rendered(app: AppTest, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text='![cat](http://203.0.113.5/c.png) <img src=x onerror="alert(1)">'))
    send(app, "x")
    text = shown(app)[-1][1]
    assert "![" not in text and "[🖼 cat](http://203.0.113.5/c.png)" in text
    assert all(not md.proto.allow_html for m in app.chat_message for md in m.markdown)


def test_sessions_share_nothing_typed(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory, fake: FakeOpenAI
) -> None:
    alice, bob = make_app().run(), make_app().run()
    alice.text_input(key="api_key_input").input("sk-alice-only").run()
    send(alice, "alice's secret plan")
    send(bob, "bob here")
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"
    sent = [m["content"] for m in fake.last_chat_body["messages"]]  # type: ignore[index]
    assert "alice's secret plan" not in sent
    assert shown(bob)[0] == ("user", "bob here")
    assert held(alice, ConnectionState).typed_key == "sk-alice-only"
    assert "sk-alice-only" not in repr(held(alice, ConnectionState))  # nor in a log line
    assert held(bob, ConnectionState).typed_key is None


LLAMACPP_TOO_LONG = exceeds_window_error(5016, 4096)["error"]  # llama-server's own 400


def test_a_message_too_long_on_its_own_says_by_how_much_and_opens_it_to_edit(
    app: AppTest, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(status=400, error=LLAMACPP_TOO_LONG))
    send(app, "hello " * 50)
    assert not app.exception
    labels = [b.label for b in app.button]
    assert "Drop oldest turns and retry" not in labels and "Retry" not in labels
    said = " ".join(w.value for w in app.warning)
    assert "Your message alone is 5,016 tokens; this model holds 4,096: about 920 too many" in said
    assert "Edit keeps its text" in app.error[0].value
    click(app, "Edit your message")
    assert app.text_area(key="edit_text").value == "hello " * 50  # the text, kept to edit
    assert len(fake.chat_requests) == 1  # nothing was resent


def test_llamacpps_full_shared_cache_is_not_called_a_long_conversation(
    app: AppTest, fake: FakeOpenAI
) -> None:
    error = {"code": 500, "message": "Context size has been exceeded.", "type": "server_error"}
    fake.enqueue(Reply(text="partial words here", fault="error_event", fault_after=2, error=error))
    send(app, "short question")
    message = app.error[0].value
    assert "ran out of room for requests running at once" in message
    assert "Context size has been exceeded" in message  # the server's own words (escaped)
    assert "longer than this model" not in message
    assert "Retry" in [b.label for b in app.button]
