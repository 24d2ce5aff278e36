"""Every way a model server fails, seen in the browser: explained, never a traceback, and
one click on Retry away from a reply."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Reply, unused_port
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e

QUESTION = "Why is the sky blue?"
RECOVERED = "Rayleigh scattering favours short wavelengths."
PARTIAL = "Sunlight is scattered by"  # four pieces: what arrives before a mid-stream fault
REST = " the air, blue light most."
FAILED_NOTE = "This reply was interrupted by an error; what arrived is kept."


@dataclass(frozen=True)
class Fault:
    name: str
    reply: Reply
    message: str  # what the error box must say
    partial: str | None = None  # text that arrived before the fault and must stay on screen
    extra_button: str | None = None
    retryable: bool = True  # False: no Retry button, since retrying cannot help


def api_error(status: int, message: str, code: str | None = None, **extra: object) -> Reply:
    error = {"message": message, "type": "invalid_request_error", "code": code, **extra}
    return Reply(status=status, error=error)


FAULTS = [
    Fault(
        "http-401",
        api_error(401, "Incorrect API key provided.", "invalid_api_key"),
        "The API key was not accepted.",
    ),
    Fault(
        "http-403",
        api_error(403, "You are not allowed to sample from this model.", "model_not_allowed"),
        "This key is not allowed to use this model or endpoint.",
    ),
    Fault(
        "http-404",
        api_error(404, "The model `gpt-4o-mini` does not exist.", "model_not_found"),
        "The model 'gpt-4o-mini' was not found at this endpoint.",
    ),
    Fault(
        "http-429-retry-after",
        Reply(
            status=429,
            headers={"Retry-After": "7"},
            error={
                "message": "Rate limit reached.",
                "type": "requests",
                "code": "rate_limit_exceeded",
            },
        ),
        "Too many requests: the provider's rate limit was hit. Retry in about 7 s.",
    ),
    Fault(
        "http-429-insufficient-quota",
        Reply(
            status=429,
            error={
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            },
        ),
        "This API key has run out of quota.",
        retryable=False,
    ),
    Fault(
        "http-400-context-length",
        api_error(
            400,
            "This model's maximum context length is 128000 tokens.",
            "context_length_exceeded",
            param="messages",
        ),
        "The conversation is longer than this model's context window (128,000).",
        # The question alone: nothing to drop, and a retry would send it again as it is.
        extra_button="Edit your message",
        retryable=False,
    ),
    Fault(
        "http-500",
        Reply(status=500, error={"message": "The server had an error.", "type": "server_error"}),
        "The model server had an internal error (500).",
    ),
    Fault(
        "cut-mid-stream",
        Reply(text=PARTIAL + REST, fault="cut", fault_after=4),
        "The connection dropped in the middle of the reply.",
        partial=PARTIAL,
    ),
    Fault(
        "malformed-chunk",
        Reply(text=PARTIAL + REST, fault="malformed", fault_after=4),
        "The server sent a piece of the reply that is not valid JSON.",
        partial=PARTIAL,
    ),
    Fault(
        "error-event-in-stream",
        Reply(
            text=PARTIAL + REST,
            fault="error_event",
            fault_after=4,
            error={"message": "The model is overloaded."},
        ),
        "The server reported an error during the reply: The model is overloaded.",
        partial=PARTIAL,
    ),
    Fault(
        "no-finish-reason",
        Reply(text=PARTIAL + REST, finish_reason=None),
        "The reply ended before the model said it was finished.",
        partial=PARTIAL + REST,
    ),
    Fault("empty-reply", Reply(text=""), "The model sent an empty reply."),
    Fault(
        "read-timeout",
        Reply(text=PARTIAL + REST, fault="hang", fault_after=4),
        "The model server kept the connection open but sent nothing usable in time",
        partial=PARTIAL,
    ),
]


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS])
def test_fault_is_explained_and_retry_gets_a_reply(
    chat: ChatPage, fake: FakeOpenAI, fault: Fault
) -> None:
    fake.enqueue(fault.reply)
    chat.send(QUESTION)

    expect(chat.error).to_contain_text(fault.message)
    chat.wait_idle()
    fake.release()  # a "hang" has done its job once the app gave up on it
    assert_explained(chat, fault.partial, retryable=fault.retryable)
    if fault.extra_button:
        expect(chat.button(fault.extra_button)).to_be_visible()
    chat.screenshot(f"error-{fault.name}")

    if fault.retryable:
        retry_gets_a_reply(chat, fake)
    else:  # once the account has credit again, the next message gets its reply
        chat.chat("And now?", "Echo: And now?")


def test_unreachable_server_is_explained_and_retry_gets_a_reply(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    port = unused_port()  # nothing listens: connection refused at once
    chat.set_base_url(f"http://127.0.0.1:{port}/v1")
    chat.send(QUESTION)

    expect(chat.error).to_contain_text(
        f"Could not reach the model server at http://127.0.0.1:{port}/"
    )
    chat.wait_idle()
    assert_explained(chat, partial=None)
    assert fake.chat_requests == []
    chat.screenshot("error-connection-refused")

    chat.set_base_url("")  # back to the server's own endpoint
    retry_gets_a_reply(chat, fake)


def test_error_before_any_text_shows_no_empty_reply(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(api_error(401, "Incorrect API key provided.", "invalid_api_key"))
    chat.send(QUESTION)

    expect(chat.error).to_contain_text("The API key was not accepted.")
    chat.wait_idle()
    assert chat.page.get_by_text(FAILED_NOTE).count() == 0  # the run is over: no need to wait
    assert chat.replies.count() == 0


def assert_explained(chat: ChatPage, partial: str | None, *, retryable: bool = True) -> None:
    """The error is shown as words, the question stays, and so does any partial reply."""
    chat.assert_no_exception()
    expect(chat.user_texts).to_have_text([QUESTION])
    if partial is not None:
        expect(chat.replies).to_have_count(1)
        expect(chat.replies.last).to_contain_text(partial)
        expect(chat.replies.last).to_contain_text(FAILED_NOTE)
    expect(chat.button("Retry")).to_have_count(1 if retryable else 0)


def retry_gets_a_reply(chat: ChatPage, fake: FakeOpenAI) -> None:
    """Retry sends the same question again, and its reply replaces any partial one."""
    sent_before = len(fake.chat_requests)
    fake.enqueue(Reply(text=RECOVERED))
    chat.button("Retry").click()

    expect(chat.replies.last).to_contain_text(RECOVERED)
    expect(chat.replies.last).to_contain_text("finish: stop")
    chat.wait_idle()
    expect(chat.error).to_have_count(0)
    expect(chat.replies).to_have_count(1)
    expect(chat.user_texts).to_have_text([QUESTION])
    chat.assert_no_exception()
    requests = fake.chat_requests
    assert len(requests) == sent_before + 1
    assert requests[-1].body["messages"][-1] == {"role": "user", "content": QUESTION}
