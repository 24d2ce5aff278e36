"""Discovery, context windows and the server check, against the fake server's dialects."""

from __future__ import annotations

import ssl
import threading

import httpx2
import pytest

from chatlab.config import Endpoint, discovery_ports
from chatlab.errors import ChatError, Kind
from chatlab.guard.limits import Gate, InFlight, RateLimiter
from chatlab.model_names import display_name
from chatlab.provider import Admit
from chatlab.provider.server_check import (
    ALTERNATION,
    CONTEXT,
    KEY,
    LOGPROBS,
    MODELS,
    REACHABLE,
    STREAMING,
    USAGE,
    VISION,
    check_server,
)
from chatlab.provider.servers import (
    context_window,
    discover,
    list_server_models,
    model_catalog,
    picker_names,
    window_from_entry,
    window_from_ollama_show,
)
from testing.fake_openai import (
    LLAMACPP_MODEL_PATH,
    LLAMACPP_TEMPLATE_ERROR,
    Dialect,
    FakeOpenAI,
    Reply,
    unused_port,
)

KEYLESS = Endpoint(api_key=None, base_url=None, key_source="none")


def keyless(fake: FakeOpenAI) -> Endpoint:
    return Endpoint(api_key=None, base_url=fake.base_url, key_source="sidebar")


# -- names and windows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "shown"),
    [
        ("/models/gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m.gguf"),
        ("C:\\models\\qwen.gguf", "qwen.gguf"),
        ("llama3.2:latest", "llama3.2:latest"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("model/gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m.gguf"),  # llama.cpp's -m path
        ("./models/Qwen3-0.6B", "Qwen3-0.6B"),
        # Namespaced ids stay whole: the namespace is what tells two models apart.
        ("meta-llama/llama-3.1-8b-instruct", "meta-llama/llama-3.1-8b-instruct"),
        ("nousresearch/llama-3.1-8b-instruct", "nousresearch/llama-3.1-8b-instruct"),
        ("openai/gpt-4o", "openai/gpt-4o"),
    ],
)
def test_display_name_shows_a_paths_last_segment(model_id: str, shown: str) -> None:
    assert display_name(model_id) == shown


def test_llamacpp_window_falls_back_to_the_training_length() -> None:
    assert window_from_entry({"id": "m", "meta": {"n_ctx": 4096, "n_ctx_train": 32768}}) == 4096
    assert window_from_entry({"id": "m", "meta": {"n_ctx_train": 32768}}) == 32768


def test_ollama_num_ctx_parameter_wins_over_the_models_own_length() -> None:
    show = {
        "parameters": 'stop "<end_of_turn>"\nnum_ctx 8192',
        "model_info": {"general.architecture": "gemma3", "gemma3.context_length": 131072},
    }
    assert window_from_ollama_show(show) == 8192
    del show["parameters"]
    assert window_from_ollama_show(show) == 131072


def test_a_server_that_says_nothing_gives_no_window() -> None:
    assert window_from_entry({"id": "gpt-4o", "owned_by": "system"}) is None
    assert window_from_ollama_show({"model_info": {}}) is None


# -- listing each dialect ----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["llamacpp", "vllm", "lmstudio", "ollama"])
def test_context_window_is_read_from_each_servers_own_place(fake: FakeOpenAI, dialect: str) -> None:
    fake.dialect = Dialect(name=dialect, context_window=6144)
    fake.models = ["local-model"]
    models = list_server_models(fake.base_url, timeout=2)
    assert context_window(models, "local-model") == 6144


def test_plain_openai_listing_has_no_window(fake: FakeOpenAI) -> None:
    models = list_server_models(fake.base_url, timeout=2)
    assert [m.id for m in models] == ["gpt-4o-mini", "gpt-4o", "o3-mini"]
    assert all(m.context_window is None for m in models)


def test_llamacpp_model_path_is_kept_whole_for_requests(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp")
    fake.models = [LLAMACPP_MODEL_PATH]
    (model,) = list_server_models(fake.base_url, timeout=2)
    assert model.id == LLAMACPP_MODEL_PATH
    assert model.display_name == "gemma-3-270m-q4_k_m.gguf"
    assert model.owned_by == "llamacpp"


def test_listing_without_key_sends_no_authorization(fake: FakeOpenAI) -> None:
    list_server_models(fake.base_url, None, timeout=2)
    list_server_models(fake.base_url, "sk-local", timeout=2)
    listings = [r for r in fake.requests if r.path == "/v1/models"]
    assert [r.headers.get("authorization") for r in listings] == [None, "Bearer sk-local"]


def test_generic_server_gets_at_most_two_extra_requests(fake: FakeOpenAI) -> None:
    list_server_models(fake.base_url, timeout=2)
    paths = [r.path for r in fake.requests]
    assert paths == ["/v1/models", "/api/v0/models", "/api/version"]


def test_ollama_user_models_are_recognised_by_its_version_endpoint(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="ollama", context_window=2048)
    fake.models = ["someone/custom:latest"]
    assert list_server_models(fake.base_url, timeout=2)[0].owned_by == "someone"
    models = list_server_models(fake.base_url, timeout=2)
    assert context_window(models, "someone/custom:latest") == 2048


def test_listing_failure_raises_http_error(fake: FakeOpenAI) -> None:
    fake.models_reply = Reply(status=500, error={"message": "boom"})
    with pytest.raises(httpx2.HTTPStatusError):
        list_server_models(fake.base_url, timeout=2)


# -- the model picker's listing: failures explained as a chat request's would be -------------


def test_picker_names_are_sorted_plausible_and_unique(fake: FakeOpenAI) -> None:
    fake.models = ["b-model", "a-model", "b-model", "x" * 300]
    assert picker_names(model_catalog(fake.base_url, timeout=2)) == ["a-model", "b-model"]


CATALOG_FAULTS = [
    (Reply(status=401, error={"message": "bad key", "code": "invalid_api_key"}), Kind.AUTH),
    (Reply(status=403, error={"message": "not yours"}), Kind.PERMISSION),
    (Reply(status=500, error={"message": "boom"}), Kind.SERVER),
    (
        Reply(status=429, error={"message": "slow down"}, headers={"Retry-After": "3"}),
        Kind.RATE_LIMIT,
    ),
    (Reply(status=200, body="[1, 2]"), Kind.NOT_COMPATIBLE),
    (Reply(fault="html"), Kind.NOT_COMPATIBLE),
    (Reply(fault="reset"), Kind.CONNECTION),
    (Reply(fault="trickle", trickle_every=0.1), Kind.TIMEOUT),
    (Reply(fault="trickle_headers", trickle_every=0.1), Kind.TIMEOUT),
]


@pytest.mark.parametrize(("reply", "kind"), CATALOG_FAULTS)
def test_a_failed_listing_is_a_chat_error(fake: FakeOpenAI, reply: Reply, kind: Kind) -> None:
    # A trickle (one byte every 0.1 s) would keep a per-read timeout waiting for ever.
    fake.models_reply = reply
    with pytest.raises(ChatError) as caught:
        model_catalog(fake.base_url, "sk-test", timeout=1.0)
    assert caught.value.kind == kind
    if kind == Kind.RATE_LIMIT:
        assert caught.value.retry_after == 3
    if reply.status == 500:
        assert caught.value.detail == "HTTP 500 · boom"


def test_an_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    with pytest.raises(ChatError) as caught:
        model_catalog(url, timeout=1.0)
    assert caught.value.kind == Kind.CONNECTION
    assert caught.value.message == f"Could not reach the model server at {url.removesuffix('v1')}."


# -- discovery ---------------------------------------------------------------------------------


def test_discovery_finds_a_local_server_with_its_kind_and_models(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp")
    fake.models = [LLAMACPP_MODEL_PATH]
    (found,) = discover([unused_port(), fake.port], timeout=1)
    assert found.kind == "llama.cpp"
    assert found.base_url == f"http://127.0.0.1:{fake.port}/v1"
    assert [m.id for m in found.models] == [LLAMACPP_MODEL_PATH]


@pytest.mark.parametrize(("dialect", "kind"), [("vllm", "vLLM"), ("ollama", "Ollama")])
def test_discovery_names_the_server_family(fake: FakeOpenAI, dialect: str, kind: str) -> None:
    fake.dialect = Dialect(name=dialect)
    assert [s.kind for s in discover([fake.port], timeout=1)] == [kind]


def test_discovery_with_nothing_listening_finds_nothing() -> None:
    assert discover([unused_port(), unused_port()], timeout=0.5) == []
    assert discover([], timeout=0.5) == []


def test_discovery_ports_come_from_the_environment() -> None:
    assert discovery_ports({}) is None
    assert discovery_ports({"CHATLAB_DISCOVERY_PORTS": "8080, 11434"}) == (8080, 11434)
    assert discovery_ports({"CHATLAB_DISCOVERY_PORTS": ""}) == ()


# -- the fake server's dialects ----------------------------------------------------------------


def test_strict_roles_reject_two_user_turns_with_llamacpps_body(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp", strict_roles=True)
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    response = httpx2.post(
        f"{fake.base_url}/chat/completions", json={"model": "m", "messages": twice}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "code": 400,
        "message": LLAMACPP_TEMPLATE_ERROR,
        "type": "invalid_request_error",
    }


def test_strict_roles_accept_alternating_turns_after_a_system_message(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp", strict_roles=True)
    turns = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    response = httpx2.post(
        f"{fake.base_url}/chat/completions", json={"model": "m", "messages": turns}
    )
    assert response.json()["choices"][0]["message"]["content"] == "Echo: c"


def test_ollama_tags_and_unknown_show(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="ollama")
    fake.models = ["gemma3:270m"]
    tags = httpx2.get(f"{fake.url}/api/tags").json()
    assert [m["name"] for m in tags["models"]] == ["gemma3:270m"]
    missing = httpx2.post(f"{fake.url}/api/show", json={"model": "nope"})
    assert missing.status_code == 404


# -- check this server -------------------------------------------------------------------------


def test_check_of_an_openai_like_server_reports_streaming_and_usage(fake: FakeOpenAI) -> None:
    report = check_server(keyless(fake), "gpt-4o-mini", timeout=3)
    assert [report.status(n) for n in (REACHABLE, KEY, MODELS, STREAMING, USAGE)] == ["yes"] * 5
    assert report.status(ALTERNATION) == "no"
    assert report.status(CONTEXT) == "no"
    assert report.status(VISION) == "yes"


def test_check_of_a_llamacpp_like_server_reports_its_quirks(fake: FakeOpenAI) -> None:
    fake.dialect = Dialect(name="llamacpp", strict_roles=True, usage_chunk=False)
    fake.models = [LLAMACPP_MODEL_PATH]
    report = check_server(keyless(fake), LLAMACPP_MODEL_PATH, timeout=3)
    rows = {c.name: c for c in report.checks}
    assert rows[USAGE].status == "no"
    assert "estimated, marked ≈" in rows[USAGE].consequence
    assert rows[ALTERNATION].status == "yes"
    assert "Conversation roles must alternate" in rows[ALTERNATION].finding
    assert report.context_window == 4096
    assert report.supports(USAGE) is False


def test_check_of_a_server_that_is_not_running_says_so() -> None:
    endpoint = Endpoint(None, f"http://127.0.0.1:{unused_port()}/v1", "sidebar")
    report = check_server(endpoint, "m", timeout=1)
    assert report.status(REACHABLE) == "no"
    assert report.status(STREAMING) == "unknown"


def test_check_reports_a_rejected_key(fake: FakeOpenAI) -> None:
    fake.models_reply = Reply(status=401, error={"message": "Incorrect API key provided"})
    endpoint = Endpoint("sk-bad", fake.base_url, "sidebar")
    report = check_server(endpoint, "gpt-4o-mini", timeout=2)
    key = next(c for c in report.checks if c.name == KEY)
    assert key.status == "no"
    assert "Incorrect API key provided" in key.finding
    assert fake.chat_requests == []  # no chat request with a key the server refused


def test_check_asks_for_a_few_tokens_only(fake: FakeOpenAI) -> None:
    check_server(keyless(fake), "gpt-4o-mini", timeout=3)
    caps = [r.body.get("max_tokens") for r in fake.chat_requests]
    assert caps and all(cap == 8 for cap in caps)


def test_check_switches_to_max_completion_tokens_for_reasoning_models(fake: FakeOpenAI) -> None:
    fake.reject_params = {"max_tokens"}
    report = check_server(keyless(fake), "o3-mini", timeout=3)
    assert report.status(STREAMING) == "yes"
    assert "max_completion_tokens" in fake.chat_requests[-1].body


@pytest.mark.parametrize("fault", ["trickle", "trickle_headers"])
def test_a_trickling_model_listing_cannot_hold_the_sidebar(fake: FakeOpenAI, fault: str) -> None:
    # One byte every 0.1 s would keep a per-read timeout of 0.5 s waiting for ever.
    fake.models_reply = Reply(fault=fault, trickle_every=0.1)
    with pytest.raises(httpx2.TimeoutException):
        list_server_models(fake.base_url, timeout=0.5)


def test_new_sessions_do_not_read_the_ca_store_again(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new httpx client read the system's CA store (15-30 ms), and every new
    session's first page made one for its model list."""
    model_catalog(fake.base_url, timeout=2)  # the process's first: builds the context once
    reads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counting(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        reads.append(args)
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    model_catalog(fake.base_url, "sk-another-session", timeout=2)
    check_server(keyless(fake), "gpt-4o-mini", timeout=2)
    assert reads == []


def test_check_retries_a_probe_that_meets_a_connection_closed_after_a_stream(
    fake: FakeOpenAI,
) -> None:
    # llama-server closes a kept-alive connection after a stream: the logprobs probe, sent
    # next on it, gets no answer at all. That is no timeout, and llama.cpp has logprobs.
    fake.dialect = Dialect(name="llamacpp", close_after_stream=True)
    fake.models = [LLAMACPP_MODEL_PATH]
    report = check_server(keyless(fake), LLAMACPP_MODEL_PATH, timeout=3)
    assert fake.dropped >= 1  # the closed connection was met
    assert report.status(LOGPROBS) == "yes"
    assert report.status(STREAMING) == "yes"
    findings = " ".join(c.finding for c in report.checks)
    assert "in time" not in findings


def test_check_says_timeout_only_for_a_timeout(fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="OK"), Reply(fault="hangup"), Reply(fault="hangup"))
    report = check_server(keyless(fake), "gpt-4o-mini", timeout=3)
    logprobs = next(c for c in report.checks if c.name == LOGPROBS)
    assert logprobs.status == "unknown"
    assert "in time" not in logprobs.finding
    assert "connection" in logprobs.finding


def gated(gate: Gate) -> Admit:
    """The visitor's admission through ``gate``, as ``chatlab.guard.limits.admit`` makes it."""
    return lambda cancelled: gate.request("visitor", pace=False, cancelled=cancelled)


def test_check_requests_pass_the_visitors_rate_and_stop_over_it(fake: FakeOpenAI) -> None:
    gate = Gate(RateLimiter(3), InFlight(0))
    with pytest.raises(ChatError) as caught:
        check_server(keyless(fake), "gpt-4o-mini", timeout=3, admit=gated(gate))
    assert caught.value.kind == Kind.RATE_LIMIT
    assert "3 requests in the last minute" in caught.value.message
    # Admitted: the model list, the window lookup (a few GETs as one) and one chat request.
    assert len(fake.chat_requests) == 1


def test_check_requests_wait_for_an_in_flight_slot_and_fail_when_none_frees(
    fake: FakeOpenAI,
) -> None:
    gate = Gate(RateLimiter(0), InFlight(1), slot_wait=0.2)
    assert gate.in_flight.acquire(1, threading.Event())  # the process's one slot, held
    with pytest.raises(ChatError) as caught:
        check_server(keyless(fake), "gpt-4o-mini", timeout=3, admit=gated(gate))
    assert "Chat Lab is busy" in caught.value.message
    assert fake.requests == []
