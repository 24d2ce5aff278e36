import re
from pathlib import Path

import pytest

from chatlab import config
from chatlab.config import (
    MAX_REPLY_CHARS,
    Timeouts,
    default_model,
    max_reply_chars,
    resolve_endpoint,
    timeouts,
    url_policy,
)
from chatlab.url_policy import Rule, UrlPolicy

LOCAL = UrlPolicy(allow_custom=True, local=True)  # `make run`: visitors may type a URL


def test_sidebar_beats_secrets_beats_environment() -> None:
    env = {"OPENAI_API_KEY": "env-key", "OPENAI_BASE_URL": "http://env/v1"}
    secrets = {"OPENAI_API_KEY": "secret-key"}
    sidebar = {"OPENAI_API_KEY": "typed-key", "OPENAI_BASE_URL": ""}
    endpoint = resolve_endpoint(sidebar, secrets, env)
    assert endpoint.api_key == "typed-key"
    assert endpoint.key_source == "sidebar"
    assert endpoint.base_url == "http://env/v1"  # blank sidebar URL counts as unset


def test_secrets_used_when_sidebar_blank() -> None:
    endpoint = resolve_endpoint({"OPENAI_API_KEY": "  "}, {"OPENAI_API_KEY": "s"}, {})
    assert (endpoint.api_key, endpoint.key_source, endpoint.shared) == ("s", "secrets", True)


def test_blank_environment_values_count_as_unset() -> None:
    endpoint = resolve_endpoint({}, {}, {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": " "})
    assert endpoint.api_key is None and endpoint.base_url is None
    assert not endpoint.usable


def test_base_url_alone_is_usable_for_keyless_servers() -> None:
    endpoint = resolve_endpoint({}, {}, {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert endpoint.usable and endpoint.api_key is None


def test_typed_key_is_not_shared_and_repr_hides_it() -> None:
    endpoint = resolve_endpoint({"OPENAI_API_KEY": "sk-secret-typed"}, {}, {})
    assert not endpoint.shared
    assert "sk-secret-typed" not in repr(endpoint)
    assert "sk-secret-typed" not in str(endpoint)


def test_default_model_from_secrets_then_env() -> None:
    assert default_model({}, {}) == config.DEFAULT_MODEL
    assert default_model({}, {"OPENAI_MODEL": "llama3"}) == "llama3"
    assert default_model({"OPENAI_MODEL": "gpt-4.1"}, {"OPENAI_MODEL": "llama3"}) == "gpt-4.1"


@pytest.mark.parametrize(("raw", "expected"), [("2.5", 2.5), ("", 60.0), (" 90 ", 90.0)])
def test_read_timeout_from_environment(raw: str, expected: float) -> None:
    assert timeouts({"CHATLAB_READ_TIMEOUT": raw}).read == expected
    assert timeouts({}) == Timeouts()


def test_env_file_loads_without_overriding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "test.env"
    env_file.write_text("OPENAI_MODEL=from-file\nOPENAI_BASE_URL=http://file/v1\n")
    monkeypatch.setenv("CHATLAB_ENV_FILE", str(env_file))
    monkeypatch.setenv("OPENAI_MODEL", "already-set")
    config.load_env_file()
    import os

    assert os.environ["OPENAI_MODEL"] == "already-set"
    assert os.environ["OPENAI_BASE_URL"] == "http://file/v1"
    monkeypatch.delenv("OPENAI_BASE_URL")


def test_server_key_never_goes_to_a_url_typed_in_the_sidebar() -> None:
    env = {"OPENAI_API_KEY": "sk-server"}
    sidebar = {"OPENAI_BASE_URL": "http://attacker.example/v1"}
    endpoint = resolve_endpoint(sidebar, {}, env, policy=LOCAL)
    assert endpoint.api_key is None and endpoint.key_source == "none"
    typed = resolve_endpoint(
        {"OPENAI_BASE_URL": "http://mine/v1", "OPENAI_API_KEY": "sk-mine"}, {}, env, policy=LOCAL
    )
    assert (typed.api_key, typed.key_source) == ("sk-mine", "sidebar")


def test_server_side_sources_mix_and_a_typed_key_follows_the_server_url() -> None:
    endpoint = resolve_endpoint({}, {"OPENAI_BASE_URL": "http://s/v1"}, {"OPENAI_API_KEY": "e"})
    assert (endpoint.api_key, endpoint.key_source) == ("e", "environment")
    mine = resolve_endpoint({"OPENAI_API_KEY": "t"}, {}, {"OPENAI_BASE_URL": "http://e/v1"})
    assert (mine.api_key, mine.base_url) == ("t", "http://e/v1")


@pytest.mark.parametrize(("raw", "expected"), [("30", 30.0), ("", 600.0), ("0.5", 0.5)])
def test_reply_timeout_from_environment(raw: str, expected: float) -> None:
    assert timeouts({"CHATLAB_REPLY_TIMEOUT": raw}).reply == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5000", 5000), ("1_000_000", 1_000_000), ("", MAX_REPLY_CHARS)],
)
def test_max_reply_chars_from_environment(raw: str, expected: int) -> None:
    assert max_reply_chars({"CHATLAB_MAX_REPLY_CHARS": raw}) == expected
    assert max_reply_chars({}) == 200_000


def test_a_base_url_copied_from_the_page_loses_its_invisible_characters() -> None:
    copied = "http:\u2060//localhost:8080/v1\u200b"
    endpoint = resolve_endpoint({"OPENAI_BASE_URL": copied}, {}, {}, policy=LOCAL)
    assert endpoint.base_url == "http://localhost:8080/v1"


def test_a_typed_base_url_carries_the_policy_and_the_configured_one_none() -> None:
    env = {"OPENAI_BASE_URL": "http://operator/v1"}
    typed = resolve_endpoint({"OPENAI_BASE_URL": "http://mine/v1"}, {}, env, policy=LOCAL)
    assert (typed.base_url, typed.policy) == ("http://mine/v1", LOCAL)
    configured = resolve_endpoint({"OPENAI_BASE_URL": ""}, {}, env, policy=LOCAL)
    assert (configured.base_url, configured.policy) == ("http://operator/v1", None)


@pytest.mark.parametrize("policy", [None, UrlPolicy(allow_custom=False)])
def test_a_typed_base_url_is_ignored_where_visitors_may_not_choose(
    policy: UrlPolicy | None,
) -> None:
    env = {"OPENAI_API_KEY": "sk-server", "OPENAI_BASE_URL": "http://operator/v1"}
    sidebar = {"OPENAI_BASE_URL": "http://169.254.169.254/latest"}
    endpoint = resolve_endpoint(sidebar, {}, env, policy=policy)
    assert (endpoint.base_url, endpoint.api_key, endpoint.policy) == (
        "http://operator/v1",
        "sk-server",
        None,
    )


@pytest.mark.parametrize(
    ("address", "raw", "allowed"),
    [
        ("127.0.0.1", None, True),  # make run: a person's own machine
        ("localhost", None, True),
        ("::1", None, True),
        ("127.0.0.1", "0", False),
        (None, None, False),  # Streamlit's default: every interface
        ("", None, False),
        ("0.0.0.0", None, False),
        ("::", None, False),
        ("192.0.2.7", None, False),
        ("0.0.0.0", "1", True),  # the operator says so
        ("0.0.0.0", "yes", True),
        ("0.0.0.0", "TRUE", True),
        ("127.0.0.1", "off", False),
    ],
)
def test_custom_base_url_is_on_by_default_only_on_loopback(
    address: str | None, raw: str | None, allowed: bool
) -> None:
    env = {} if raw is None else {"CHATLAB_ALLOW_CUSTOM_BASE_URL": raw}
    assert url_policy(address, env).allow_custom is allowed


def test_allowlist_from_the_environment() -> None:
    env = {"CHATLAB_BASE_URL_ALLOWLIST": "api.groq.com, 10.0.0.0/8 gpu.lan:8000"}
    policy = url_policy("0.0.0.0", {**env, "CHATLAB_ALLOW_CUSTOM_BASE_URL": "1"})
    assert policy.allowlist is not None and len(policy.allowlist) == 3
    assert Rule(host="gpu.lan", port=8000) in policy.allowlist
    assert url_policy("0.0.0.0", {}).allowlist is None
    assert not url_policy("0.0.0.0", {}).local and url_policy("127.0.0.1", {}).local


# -- every variable: one declaration, checked ---------------------------------------------------

BAD_VALUES = {
    "CHATLAB_READ_TIMEOUT": "6o",
    "CHATLAB_CONNECT_TIMEOUT": "-1",
    "CHATLAB_REPLY_TIMEOUT": "inf",
    "CHATLAB_MAX_REPLY_CHARS": "0",
    "CHATLAB_DISCOVERY_PORTS": "8080, 99999",
    "CHATLAB_ALLOW_CUSTOM_BASE_URL": "maybe",
    "CHATLAB_BASE_URL_ALLOWLIST": "api.groq.com, http://x/",
    "CHATLAB_RATE_LIMIT": "1.5",
    "CHATLAB_MAX_IN_FLIGHT": "-2",
    "CHATLAB_MAX_RUN_REQUESTS": "many",
    "CHATLAB_MAX_RUN_COST": "nan",
}
DEFAULTS = {
    "read_timeout": 60.0,
    "connect_timeout": 10.0,
    "reply_timeout": 600.0,
    "max_reply_chars": 200_000,
    "discovery_ports": None,
    "allow_custom_base_url": None,
    "base_url_allowlist": None,
    "rate_limit": 60,
    "max_in_flight": 64,
    "max_run_requests": 300,
    "max_run_cost": 5.0,
    "data_dir": "data",
    "env_file": ".env",
    "model": "gpt-4o-mini",
}
CHECKED = set(BAD_VALUES) | {"CHATLAB_DATA_DIR", "CHATLAB_ENV_FILE"}  # any text is a path


@pytest.mark.parametrize(("name", "raw"), BAD_VALUES.items())
def test_a_bad_value_names_its_variable_the_value_and_the_form(name: str, raw: str) -> None:
    with pytest.raises(config.ConfigError) as raised:
        config.settings({name: raw})
    err = raised.value
    assert err.message.startswith(f"{name}={raw!r} is not valid: expected ")
    assert "Fix it in .env" in err.action and not err.retryable


def test_every_bad_value_is_named_at_once_and_the_defaults_are_not_used() -> None:
    env = {"CHATLAB_READ_TIMEOUT": "6o", "CHATLAB_RATE_LIMIT": "x", "CHATLAB_DATA_DIR": "d"}
    with pytest.raises(config.ConfigError) as raised:
        timeouts(env)
    message = raised.value.message
    assert "CHATLAB_READ_TIMEOUT='6o'" in message and "CHATLAB_RATE_LIMIT='x'" in message
    assert "CHATLAB_DATA_DIR" not in message and "Fix them" in raised.value.action


def test_a_long_bad_value_is_shortened() -> None:
    with pytest.raises(config.ConfigError) as raised:
        config.settings({"CHATLAB_RATE_LIMIT": "9" * 50 + "x" * 200})
    assert "x" * 30 + "…'" in raised.value.message and "x" * 200 not in raised.value.message


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"CHATLAB_CONNECT_TIMEOUT": "2.5"}, "connect_timeout", 2.5),
        ({"CHATLAB_MAX_REPLY_CHARS": "1_000"}, "max_reply_chars", 1000),
        ({"CHATLAB_DISCOVERY_PORTS": "8080 11434,1234"}, "discovery_ports", (8080, 11434, 1234)),
        ({"CHATLAB_DISCOVERY_PORTS": ""}, "discovery_ports", ()),  # blank: look nowhere
        ({"CHATLAB_ALLOW_CUSTOM_BASE_URL": "no"}, "allow_custom_base_url", False),
        ({"CHATLAB_BASE_URL_ALLOWLIST": "10.0.0.0/8"}, "base_url_allowlist", "10.0.0.0/8"),
        ({"CHATLAB_MAX_IN_FLIGHT": "0"}, "max_in_flight", 0),
        ({"CHATLAB_MAX_RUN_COST": "$2.50"}, "max_run_cost", 2.5),
        ({"CHATLAB_DATA_DIR": " /srv/chats\u200b"}, "data_dir", "/srv/chats"),
        ({"CHATLAB_RATE_LIMIT": "  "}, "rate_limit", 60),  # blank counts as unset
    ],
)
def test_good_values_parse(env: dict[str, str], field: str, expected: object) -> None:
    assert getattr(config.settings(env), field) == expected


def test_the_defaults_are_unchanged() -> None:
    found = config.settings({})
    assert {name: getattr(found, name) for name in DEFAULTS} == DEFAULTS
    assert found.api_key is None and found.database_url is None
    assert timeouts({}) == Timeouts() and max_reply_chars({}) == MAX_REPLY_CHARS


def test_secrets_never_show() -> None:
    found = config.settings({"OPENAI_API_KEY": "sk-hidden", "DATABASE_URL": "postgresql://u:pw@h"})
    assert "sk-hidden" not in repr(found) and "pw" not in repr(found)
    assert config.database_url({"DATABASE_URL": "postgresql://u:pw@h"}) == "postgresql://u:pw@h"


def test_every_chatlab_variable_the_code_names_is_declared_and_checked() -> None:
    root = Path(__file__).parents[2]
    sources = [*root.glob("chatlab/**/*.py"), *root.glob("components/*.py"), root / ".env.example"]
    named = {m for path in sources for m in re.findall(r"CHATLAB_[A-Z_]+", path.read_text())}
    declared = set(config.VARIABLES)
    assert named <= declared
    assert {name for name in declared if name.startswith("CHATLAB_")} == CHECKED


def test_the_docs_table_is_the_generated_one() -> None:
    """docs/configuration.md holds what ``python -m chatlab.config --markdown`` prints."""
    docs = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    _, _, after = docs.partition("]]] -->\n")
    table, end, _ = after.partition("<!-- [[[end]]] -->")
    assert end, "the cog markers are missing from docs/configuration.md"
    assert table == config.markdown_table(), (
        "docs/configuration.md is out of date: paste `python -m chatlab.config --markdown` "
        "between its markers"
    )
