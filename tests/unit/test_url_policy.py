"""A typed Base URL: which addresses it may reach, redirects, and what of its answers shows.

Everything here talks to 127.0.0.1 only: other addresses are judged by the policy alone
(``refusal``), or reached through a resolver that maps test names to 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpcore2
import httpx2
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.errors import ChatError, Kind
from chatlab.messages import ChatSettings
from chatlab.provider.client import make_client, start_reply
from chatlab.provider.server_check import REACHABLE, check_server
from chatlab.provider.servers import model_catalog
from chatlab.url_policy import (
    MAX_ERROR_MESSAGE,
    GuardedBackend,
    GuardedTransport,
    IPAddress,
    Rule,
    UrlPolicy,
    parse_allowlist,
    parse_rule,
    url_problem,
)
from testing.fake_openai import FakeOpenAI, Reply
from testing.internal_service import MODEL_ID, InternalService

LOCAL = UrlPolicy(allow_custom=True, local=True)  # make run: a person's own machine
PUBLIC = UrlPolicy(allow_custom=True)  # on for visitors of a shared app, no allowlist
MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "Hello"}]


def addresses(*texts: str) -> list[IPAddress]:
    return [ipaddress.ip_address(t) for t in texts]


# -- the URL as typed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/secret?", "? or #"),
        ("http://127.0.0.1:9/secret?x=", "? or #"),
        ("http://127.0.0.1:9/secret#", "? or #"),
        ("http://127.0.0.1:9/admin#/v1", "? or #"),
        ("ftp://127.0.0.1/v1", "http://"),
        ("file:///etc/passwd", "http://"),
        ("127.0.0.1:8080/v1", "http://"),
        ("http:///v1", "names no server"),
        ("http://user:pw@127.0.0.1/v1", "user name or password"),
        ("http://models.example.com@169.254.169.254/v1", "user name or password"),
        ("http://127.0.0.1:99999/v1", "not a valid URL"),
    ],
)
def test_a_malformed_base_url_is_refused_with_words(url: str, words: str) -> None:
    problem = url_problem(url)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:11434/v1", "https://api.groq.com/openai/v1", "http://[::1]:8080/v1"]
)
def test_a_well_formed_base_url_passes(url: str) -> None:
    assert url_problem(url) is None


# -- addresses ------------------------------------------------------------------------------

ALWAYS_REFUSED = [
    "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack metadata
    "169.254.170.2",  # ECS task credentials
    "169.254.0.1",
    "100.100.100.200",  # Alibaba Cloud metadata
    "192.0.0.192",  # Oracle Cloud metadata
    "fe80::1",  # IPv6 link-local
    "fe80::1%1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::169.254.169.254",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "224.0.0.1",
    "255.255.255.255",
    "ff02::1",
]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_link_local_and_metadata_addresses_are_refused_whatever_the_settings(
    address: str,
) -> None:
    found = [ipaddress.ip_address(address.split("%")[0])]
    everything = parse_allowlist("0.0.0.0/0 ::/0 metadata.test")
    for policy in (LOCAL, PUBLIC, UrlPolicy(allow_custom=True, allowlist=everything)):
        problem = policy.refusal("metadata.test", 80, found)
        assert problem is not None and "metadata" in problem
        assert address.split("%")[0] not in problem  # never says where a name leads


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.20", "0.0.0.0"])
def test_on_loopback_alone_the_users_own_machine_and_network_are_allowed(address: str) -> None:
    assert LOCAL.refusal("h", 8080, addresses(address)) is None


PRIVATE = [
    "127.0.0.1",
    "127.9.9.9",
    "::1",
    "10.0.0.5",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "fc00::1",
    "fd12:3456::1",
    "::ffff:10.0.0.1",
    "0.0.0.0",
    "::",
]


@pytest.mark.parametrize("address", PRIVATE)
def test_a_shared_app_without_allowlist_reaches_public_servers_only(address: str) -> None:
    problem = PUBLIC.refusal("internal.test", 8080, addresses(address))
    assert problem is not None and "private or local" in problem
    assert PUBLIC.refusal("api.test", 443, addresses("8.8.8.8", "2606:4700::1111")) is None


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    mixed = addresses("8.8.8.8", "169.254.169.254")
    assert PUBLIC.refusal("mixed.test", 80, mixed) is not None
    assert PUBLIC.refusal("mixed.test", 80, addresses("8.8.8.8", "10.0.0.1")) is not None


def test_nothing_is_reached_where_visitors_may_not_choose() -> None:
    assert UrlPolicy(allow_custom=False, local=True).refusal("h", 80, addresses("::1"))


ALLOWLIST = "api.groq.com gpu.lan:8000 10.0.0.0/8 [fd00::1]:8080 127.0.0.1:11434"


@pytest.mark.parametrize(
    ("host", "port", "resolved", "allowed"),
    [
        ("api.groq.com", 443, ["8.8.8.8"], True),
        ("API.Groq.com.", 443, ["8.8.8.8"], True),
        ("groq.com", 443, ["8.8.8.8"], False),
        ("gpu.lan", 8000, ["192.168.1.9"], True),
        ("gpu.lan", 8001, ["192.168.1.9"], False),
        ("any.name", 1234, ["10.2.3.4"], True),  # in the CIDR
        ("any.name", 1234, ["10.2.3.4", "192.168.0.1"], False),  # not all in it
        ("fd00::1", 8080, ["fd00::1"], True),
        ("fd00::1", 8081, ["fd00::1"], False),
        ("127.0.0.1", 11434, ["127.0.0.1"], True),
        ("127.0.0.1", 8080, ["127.0.0.1"], False),  # loopback only where it says
        ("api.groq.com", 443, ["169.254.169.254"], False),  # allowlisted name, metadata
    ],
)
def test_an_allowlist_allows_only_what_it_names(
    host: str, port: int, resolved: list[str], allowed: bool
) -> None:
    for local in (True, False):  # on loopback too: the allowlist says it all
        policy = UrlPolicy(allow_custom=True, local=local, allowlist=parse_allowlist(ALLOWLIST))
        assert (policy.refusal(host, port, addresses(*resolved)) is None) is allowed


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("Example.COM", Rule(host="example.com")),
        ("example.com:8080", Rule(host="example.com", port=8080)),
        ("10.0.0.0/8", Rule(network=ipaddress.ip_network("10.0.0.0/8"))),
        ("192.168.1.7:8000", Rule(network=ipaddress.ip_network("192.168.1.7/32"), port=8000)),
        ("fd00::/8", Rule(network=ipaddress.ip_network("fd00::/8"))),
        ("[::1]:8080", Rule(network=ipaddress.ip_network("::1/128"), port=8080)),
        ("example.com:http", None),
        ("example.com:70000", None),
        ("[::1]x", None),
        ("exa mple", None),
        ("http://example.com", None),
    ],
)
def test_allowlist_entries(entry: str, rule: Rule | None) -> None:
    assert parse_rule(entry) == rule


def test_an_allowlist_of_malformed_entries_allows_nothing() -> None:
    policy = UrlPolicy(allow_custom=True, local=True, allowlist=parse_allowlist("http://x, :99"))
    assert policy.allowlist == ()
    assert policy.refusal("127.0.0.1", 80, addresses("127.0.0.1")) is not None


# -- where the connection goes ---------------------------------------------------------------


class Resolver:
    """Test names to addresses; counts every lookup."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        return addresses(*answer)


class Recording(httpcore2.NetworkBackend):
    """httpcore's own backend, noting each host it is asked to connect to."""

    def __init__(self) -> None:
        self.inner = httpcore2.SyncBackend()
        self.hosts: list[str] = []

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.hosts.append(host)
        return self.inner.connect_tcp(host, port, *args, **kwargs)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def test_a_name_resolving_to_a_metadata_address_is_never_connected() -> None:
    inner = Recording()
    backend = GuardedBackend(inner, LOCAL, Resolver(["169.254.169.254"]))
    with pytest.raises(ChatError) as caught:
        backend.connect_tcp("metadata.test", 80, timeout=1)
    assert caught.value.kind == Kind.URL_REFUSED and not caught.value.retryable
    assert inner.hosts == []


def test_the_connection_goes_to_the_address_checked(fake: FakeOpenAI) -> None:
    """Resolved once per connection, connected by address: a name that answers
    differently the next time (DNS rebinding) is checked again for the next connection."""
    resolver = Resolver(["127.0.0.1"], ["169.254.169.254"])
    transport = GuardedTransport(LOCAL, "http://rebind.test/v1", resolver)
    inner = Recording()
    transport._pool._network_backend = GuardedBackend(inner, LOCAL, resolver)
    url = f"http://rebind.test:{fake.port}/v1/models"
    with httpx2.Client(transport=transport) as client:
        assert client.get(url).status_code == 200
        assert inner.hosts == ["127.0.0.1"] and resolver.lookups == ["rebind.test"]
        assert fake.requests[-1].headers["host"] == f"rebind.test:{fake.port}"
    rebound = httpx2.Client(transport=GuardedTransport(LOCAL, url, resolver))
    with rebound as client, pytest.raises(ChatError):
        client.get(url)
    assert len(fake.requests) == 1


def test_the_real_resolver_is_checked_too(fake: FakeOpenAI) -> None:
    url = f"http://localhost:{fake.port}/v1"
    assert [m.id for m in model_catalog(url, policy=LOCAL)][:1] == ["gpt-4o-mini"]
    heard = len(fake.requests)
    with pytest.raises(ChatError) as caught:
        model_catalog(url, policy=PUBLIC)
    assert caught.value.kind == Kind.URL_REFUSED
    assert len(fake.requests) == heard


# -- redirects --------------------------------------------------------------------------------


@pytest.fixture
def internal() -> Iterator[InternalService]:
    with InternalService() as service:
        yield service


def redirect_to(service: InternalService) -> Reply:
    return Reply(status=307, body="", headers={"Location": f"{service.base_url}/models"})


def test_the_sdk_client_follows_no_redirect(fake: FakeOpenAI, internal: InternalService) -> None:
    fake.enqueue(redirect_to(internal))
    client = make_client(Endpoint(None, fake.base_url, "none", LOCAL), Timeouts())
    with pytest.raises(ChatError) as caught:
        start_reply(client, ChatSettings(model=MODEL), HELLO)
    assert caught.value.kind == Kind.NOT_COMPATIBLE and "redirect (HTTP 307)" in str(caught.value)
    assert internal.heard == []


def test_the_model_list_follows_no_redirect(fake: FakeOpenAI, internal: InternalService) -> None:
    fake.models_reply = redirect_to(internal)
    with pytest.raises(ChatError) as caught:
        model_catalog(fake.base_url, policy=LOCAL)
    assert "redirect" in caught.value.message
    assert internal.heard == []


def test_the_server_check_follows_no_redirect(fake: FakeOpenAI, internal: InternalService) -> None:
    fake.models_reply = redirect_to(internal)
    fake.default_reply = redirect_to(internal)
    check_server(Endpoint(None, fake.base_url, "none", LOCAL), MODEL)
    assert internal.heard == []


# -- what of the answers shows ----------------------------------------------------------------


def everything_shown(err: ChatError) -> str:
    return f"{err} {err.detail or ''}"


# A 404 for the model list (its chat answers 403), and successes other than 200: a 2xx
# that is not 200 is no OpenAI answer either, and its body must not show.
TYPED_URL_ANSWERS = [
    {("GET", "/v1/models"): (404, "text/plain", "no such thing: {secret}")},
    {
        ("GET", "/v1/models"): (201, "text/plain", "<p>{secret}</p>"),
        ("POST", "/v1/chat/completions"): (201, "text/plain", "<p>{secret}</p>"),
    },
    {
        ("GET", "/v1/models"): (206, "text/plain", "{secret}"),
        ("POST", "/v1/chat/completions"): (206, "text/plain", "data: {secret}\n\n"),
    },
]


@pytest.mark.parametrize("answers", TYPED_URL_ANSWERS)
def test_a_typed_urls_error_bodies_never_show(
    internal: InternalService, answers: dict[tuple[str, str], tuple[int, str, str]]
) -> None:
    endpoint = Endpoint(None, internal.base_url, "none", LOCAL)
    internal.answers.update(answers)
    with pytest.raises(ChatError) as listing:
        model_catalog(endpoint.base_url, policy=LOCAL)
    client = make_client(endpoint, Timeouts())
    with pytest.raises(ChatError) as chat:
        start_reply(client, ChatSettings(model=MODEL), HELLO)
    report = check_server(endpoint, MODEL)
    shown = [everything_shown(listing.value), everything_shown(chat.value)]
    shown += [f"{c.finding} {c.consequence}" for c in report.checks]
    assert all(internal.secret not in text for text in shown), shown
    assert "not an OpenAI-compatible" in listing.value.message
    chat_status = internal.answers[("POST", "/v1/chat/completions")][0]
    assert f"HTTP {chat_status}" in " ".join(shown), shown


NOT_OPENAI_ERRORS = [
    (404, "text/html", "<p>{secret}</p>"),
    (400, "application/json", '{"detail": "{secret}"}'),
    (400, "application/json", '{"error": "{secret}"}'),
    (400, "application/json", '{"message": "{secret}"}'),
    (500, "text/plain", "{secret}"),
    (401, "text/plain", "{secret}"),
    (429, "text/plain", "{secret}"),
    (418, "application/json", '{"error": {"message": 5, "code": "{secret}"}}'),
]


@pytest.mark.parametrize("answer", NOT_OPENAI_ERRORS)
def test_nothing_but_an_openai_error_message_shows(
    internal: InternalService, answer: tuple[int, str, str]
) -> None:
    internal.answers[("POST", "/v1/chat/completions")] = answer
    internal.answers[("GET", "/v1/models")] = answer
    client = make_client(Endpoint(None, internal.base_url, "none", LOCAL), Timeouts())
    with pytest.raises(ChatError) as chat:
        start_reply(client, ChatSettings(model=MODEL), HELLO)
    with pytest.raises(ChatError) as listing:
        model_catalog(internal.base_url, policy=LOCAL)
    for err in (chat.value, listing.value):
        assert internal.secret not in everything_shown(err)


def test_an_openai_error_message_shows_capped_with_its_identifiers(
    internal: InternalService,
) -> None:
    long = "model not loaded " + "x" * 5000
    body = (
        f'{{"error": {{"message": "{long}", "code": "model_not_found", "type": "{{secret}} x"}}}}'
    )
    internal.answers[("POST", "/v1/chat/completions")] = (400, "application/json", body)
    client = make_client(Endpoint(None, internal.base_url, "none", LOCAL), Timeouts())
    with pytest.raises(ChatError) as caught:
        start_reply(client, ChatSettings(model=MODEL), HELLO)
    shown = everything_shown(caught.value)
    assert "model not loaded" in shown and "code=model_not_found" in shown
    assert "x" * (MAX_ERROR_MESSAGE + 1) not in shown and internal.secret not in shown


def read_reply(endpoint: Endpoint) -> tuple[ChatError, str]:
    """The error a reply from ``endpoint`` ends in, and what of it arrived."""
    stream, _ = start_reply(make_client(endpoint, Timeouts()), ChatSettings(model=MODEL), HELLO)
    with pytest.raises(ChatError) as caught:
        for _ in stream:
            pass
    return caught.value, stream.text


LONG = "overloaded " + "y" * 1000
STREAM_ERRORS = [  # an error event inside a 200 stream, and what of it may show
    ('data: {"error": "{secret}"}\n\n', "not an OpenAI-compatible server"),
    ('data: {"error": {"message": "' + LONG + '{secret}"}}\n\n', LONG[:MAX_ERROR_MESSAGE]),
    ('data: {"error": {"message": ["{secret}"]}}\n\n', "not an OpenAI-compatible server"),
    ('data: {"error": 7, "detail": "{secret}"}\n\n', "not an OpenAI-compatible server"),
]


@pytest.mark.parametrize(("event", "words"), STREAM_ERRORS)
def test_an_error_event_in_a_typed_urls_stream_shows_only_a_capped_message(
    internal: InternalService, event: str, words: str
) -> None:
    internal.answers[("POST", "/v1/chat/completions")] = (200, "text/event-stream", event)
    err, _ = read_reply(Endpoint(None, internal.base_url, "none", LOCAL))
    shown = everything_shown(err)
    assert err.kind == Kind.STREAM_ERROR and words in shown, shown
    assert internal.secret not in shown and "y" * (MAX_ERROR_MESSAGE + 1) not in shown


def test_an_error_event_after_some_of_the_reply_keeps_it_and_caps_the_message(
    fake: FakeOpenAI,
) -> None:
    error = {"message": LONG}
    fake.enqueue(Reply(text="one two three", fault="error_event", fault_after=2, error=error))
    typed, kept = read_reply(Endpoint(None, fake.base_url, "none", LOCAL))
    assert kept == "one two" and "overloaded y" in typed.message
    assert "y" * (MAX_ERROR_MESSAGE + 1) not in everything_shown(typed)
    fake.enqueue(Reply(text="one two three", fault="error_event", fault_after=2, error=error))
    own, _ = read_reply(Endpoint(None, fake.base_url, "none"))  # the operator's: trusted
    assert "y" * (MAX_ERROR_MESSAGE + 1) in own.message


def test_the_model_list_shows_only_model_ids(internal: InternalService) -> None:
    models = model_catalog(internal.base_url, policy=LOCAL)
    assert [m.id for m in models] == [MODEL_ID]
    assert internal.secret not in repr(models)


BANNER = "SSH-2.0-OpenSSH_internal-secret-banner"


@pytest.fixture
def banner() -> Iterator[str]:
    """A service that is not HTTP at all: it greets with a banner (as SSH does)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(f"{BANNER}\r\n\r\n".encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
    listener.close()
    thread.join()


def test_a_services_banner_never_shows(banner: str) -> None:
    url = banner
    client = make_client(Endpoint(None, url, "none", LOCAL), Timeouts())
    with pytest.raises(ChatError) as chat:
        start_reply(client, ChatSettings(model=MODEL), HELLO)
    with pytest.raises(ChatError) as listing:
        model_catalog(url, policy=LOCAL)
    report = check_server(Endpoint(None, url, "none", LOCAL), MODEL)
    shown = [everything_shown(chat.value), everything_shown(listing.value)]
    shown += [c.finding for c in report.checks]
    assert all("internal-secret" not in text for text in shown), shown


def test_a_refused_url_is_reported_by_the_server_check_without_a_request() -> None:
    report = check_server(Endpoint(None, "http://169.254.169.254/latest", "none", LOCAL), MODEL)
    assert report.status(REACHABLE) == "no"
    assert "metadata" in report.checks[0].finding


def test_the_operators_endpoint_is_trusted(fake: FakeOpenAI) -> None:
    """The configured endpoint (no policy) keeps the server's own words: it is the
    operator's choice, and an operator reads them to fix it."""
    fake.models_reply = Reply(status=404, body="operator proxy says: route missing")
    with pytest.raises(ChatError) as caught:
        model_catalog(fake.base_url)
    assert "route missing" in everything_shown(caught.value)
