"""Configuration. This is the one module that reads the environment.

Where a value comes from, highest first: the sidebar (typed into this browser session
only), ``st.secrets`` (passed in as a plain mapping by the page), then the process
environment, which ``load_env_file`` fills from ``.env`` without overriding what is
already set. Blank values count as unset everywhere, so an empty ``OPENAI_API_KEY=``
line in ``.env`` does not hide a key in ``secrets.toml``.

Every variable is declared once, in ``Settings``: its type and bounds, its default, what
it means and the form it takes. Parsing (pydantic), the error for a bad value and the
table in docs/configuration.md (``python -m chatlab.config --markdown``) all read that
declaration. A bad value is never replaced by the default: ``CHATLAB_READ_TIMEOUT=6o``
raises ``ConfigError``, which names the variable, the value (unless it is a secret) and
the form expected, and each page shows it instead of starting (``components.page``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import load_dotenv
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo

from chatlab.errors import ChatLabError
from chatlab.url_policy import UrlPolicy, listens_locally, parse_allowlist, parse_rule

OPENAI_BASE_URL = "https://api.openai.com/v1"  # where requests go when no base URL is set
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
KeySource = Literal["sidebar", "secrets", "environment", "none"]


def load_env_file() -> None:
    """Load ``.env`` (or the file named by ``CHATLAB_ENV_FILE``) into the environment."""
    # Read raw, before the rest is checked: any path names a file (a missing one is fine).
    path = _clean(os.environ.get("CHATLAB_ENV_FILE")) or ".env"
    load_dotenv(Path(path), override=False)


# Invisible characters a copy from a web page (or from this one, where ``markdown.plain``
# puts word joiners into ":word:" patterns) can carry into a pasted value.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u2068\u2069"))


def _clean(value: object) -> str | None:
    text = str(value).translate(_INVISIBLE).strip() if value is not None else ""
    return text or None


def _first(
    *sources: tuple[KeySource, Mapping[str, object]], name: str
) -> tuple[str | None, KeySource]:
    for source, values in sources:
        found = _clean(values.get(name))
        if found:
            return found, source
    return None, "none"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and the key they carry. ``repr`` never shows the key.

    ``policy`` is set for a base URL a visitor typed: only ``chatlab.url_policy``'s guarded
    transport may reach it. None for the operator's own endpoint, which is trusted.
    """

    api_key: str | None
    base_url: str | None
    key_source: KeySource
    policy: UrlPolicy | None = None

    @property
    def usable(self) -> bool:
        """A key, or a base URL of a server that may need none."""
        return bool(self.api_key or self.base_url)

    @property
    def shared(self) -> bool:
        """True when the key is the server's own, so caches may be shared across sessions."""
        return self.key_source != "sidebar"

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"Endpoint(base_url={self.base_url!r}, key={key}, key_source={self.key_source!r})"


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout, the longest wait for the next piece of a reply, and a whole reply.

    ``read`` holds even against a server that trickles bytes without sending a piece
    (see ``chatlab.deadline``); ``reply`` bounds a reply that keeps streaming.
    """

    connect: float = 10.0
    read: float = 60.0
    reply: float = 600.0


def resolve_endpoint(
    sidebar: Mapping[str, object],
    secrets: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
    *,
    policy: UrlPolicy | None = None,
) -> Endpoint:
    """Pick the key and base URL, sidebar first, then secrets, then the environment.

    A base URL typed into the sidebar counts only when ``policy`` lets visitors type one,
    and then carries that policy. It gets only a key typed there too (or none): the
    server's own key (secrets, environment) never goes to a host a visitor chose.
    """
    env = os.environ if environ is None else environ
    sources: tuple[tuple[KeySource, Mapping[str, object]], ...] = (
        ("sidebar", sidebar),
        ("secrets", secrets),
        ("environment", env),
    )
    typed = policy is not None and policy.allow_custom
    base_url, url_source = _first(*(sources if typed else sources[1:]), name="OPENAI_BASE_URL")
    allowed = sources[:1] if url_source == "sidebar" else sources
    api_key, key_source = _first(*allowed, name="OPENAI_API_KEY")
    guard = policy if url_source == "sidebar" else None
    return Endpoint(api_key=api_key, base_url=base_url, key_source=key_source, policy=guard)


def default_model(secrets: Mapping[str, object], environ: Mapping[str, str] | None = None) -> str:
    """The model selected when a session starts."""
    env = os.environ if environ is None else environ
    found, _ = _first(("secrets", secrets), ("environment", env), name="OPENAI_MODEL")
    return found or DEFAULT_MODEL


# -- the settings: one declaration -----------------------------------------------------------

MAX_REPLY_CHARS = 200_000  # ~50,000 tokens: longer than any model's usual output cap
RATE_LIMIT = 60  # requests a minute per visitor: brisk chatting, or a sweep at a steady pace
MAX_IN_FLIGHT = 64  # requests open at once across every session of the process
MAX_RUN_REQUESTS = 300  # requests one Compare run may send: 120 cells and a judge for each
MAX_RUN_COST = 5.0  # USD one Compare run may cost at most, at list prices
# Variables where a blank value says something (look nowhere), not "unset".
_BLANK_MEANS_NONE = {"CHATLAB_DISCOVERY_PORTS"}
_SHOWN_CHARS = 80  # of a bad value, in the error


def _var(
    name: str, default: Any, meaning: str, form: str, *, shown: str = "", **bounds: Any
) -> Any:
    """One variable: its name, default, meaning (Markdown, for the docs) and the form its
    value takes (plain words, for the error); ``shown``: the default as the docs say it."""
    if not shown and default is not None:
        shown = f"`{default:g}`" if isinstance(default, float) else f"`{default}`"
    extra: JsonDict = {"form": form, "shown": shown}
    return Field(default, alias=name, description=meaning, json_schema_extra=extra, **bounds)


_SECONDS = "seconds (a number above 0, e.g. 60 or 2.5)"
_COUNT = "a whole number, 0 or more (0: no limit; _ may separate thousands)"


class Settings(BaseModel):
    """Every environment variable Chat Lab reads, in the order the docs list them."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    api_key: SecretStr | None = _var(
        "OPENAI_API_KEY",
        None,
        "Your key. Leave blank for a local server that needs none.",
        "the key",
        shown="none",
    )
    base_url: str | None = _var(
        "OPENAI_BASE_URL",
        None,
        "Any OpenAI-compatible server ([local servers](local-servers.md)).",
        "a URL",
        shown="api.openai.com",
    )
    model: str = _var(
        "OPENAI_MODEL", DEFAULT_MODEL, "The model selected when the app opens.", "a model id"
    )
    read_timeout: float = _var(
        "CHATLAB_READ_TIMEOUT",
        Timeouts.read,
        "Longest wait, in seconds, for the next piece of a reply. Keep-alive bytes do not "
        "count as a piece: a server that trickles them still times out.",
        _SECONDS,
        gt=0,
        allow_inf_nan=False,
    )
    connect_timeout: float = _var(
        "CHATLAB_CONNECT_TIMEOUT",
        Timeouts.connect,
        "Longest wait to connect, in seconds.",
        _SECONDS,
        gt=0,
        allow_inf_nan=False,
    )
    reply_timeout: float = _var(
        "CHATLAB_REPLY_TIMEOUT",
        Timeouts.reply,
        "Longest time for a whole reply, in seconds.",
        _SECONDS,
        gt=0,
        allow_inf_nan=False,
    )
    max_reply_chars: int = _var(
        "CHATLAB_MAX_REPLY_CHARS",
        MAX_REPLY_CHARS,
        "A reply is cut at this many characters, with a message saying so.",
        "a whole number above 0 (_ may separate thousands)",
        shown=f"`{MAX_REPLY_CHARS:_}`",
        gt=0,
    )
    discovery_ports: tuple[Annotated[int, Field(ge=1, le=65535)], ...] | None = _var(
        "CHATLAB_DISCOVERY_PORTS",
        None,
        "Where the setup panel looks for local servers on 127.0.0.1. Blank: nowhere.",
        "port numbers (1 to 65535) separated by commas or spaces, or blank for none",
        shown="`11434,1234,8080,8000`",
    )
    allow_custom_base_url: bool | None = _var(
        "CHATLAB_ALLOW_CUSTOM_BASE_URL",
        None,
        "`1` / `0`: may a visitor type a Base URL in the sidebar? See "
        "[Security](security.md#typed-base-urls-and-where-the-app-listens).",
        "yes or no (1, true, yes, on or 0, false, no, off)",
        shown="yes only when the app listens on loopback alone (`make run`)",
    )
    base_url_allowlist: str | None = _var(
        "CHATLAB_BASE_URL_ALLOWLIST",
        None,
        "When set, the only servers a typed Base URL may reach: hosts, `host:port`, "
        "addresses or CIDRs, comma- or space-separated.",
        "hosts, host:port, addresses or CIDRs (e.g. api.groq.com, 10.0.0.0/8), "
        "separated by commas or spaces",
        shown="none: on loopback alone any address, else public ones",
    )
    rate_limit: int = _var(
        "CHATLAB_RATE_LIMIT",
        RATE_LIMIT,
        "Requests a minute per visitor (signed-in user, else browser session); 0: no limit.",
        _COUNT,
        ge=0,
    )
    max_in_flight: int = _var(
        "CHATLAB_MAX_IN_FLIGHT",
        MAX_IN_FLIGHT,
        "Requests open at once across every session of the process; 0: no bound.",
        _COUNT,
        ge=0,
    )
    max_run_requests: int = _var(
        "CHATLAB_MAX_RUN_REQUESTS",
        MAX_RUN_REQUESTS,
        "Requests one Compare run may send; 0: no limit.",
        _COUNT,
        ge=0,
    )
    max_run_cost: float = _var(
        "CHATLAB_MAX_RUN_COST",
        MAX_RUN_COST,
        "USD one Compare run may cost at most, at list prices; 0: no limit.",
        "US dollars, 0 or more (0: no limit), e.g. 5 or $2.50",
        ge=0,
        allow_inf_nan=False,
    )
    data_dir: str = _var(
        "CHATLAB_DATA_DIR",
        "data",
        "The folder of the SQLite file `chatlab.db` (unless `DATABASE_URL` is set).",
        "a folder",
        shown="`./data`",
    )
    database_url: SecretStr | None = _var(
        "DATABASE_URL",
        None,
        "A SQLAlchemy URL (PostgreSQL: `postgresql+psycopg://...`) used instead of SQLite.",
        "a SQLAlchemy database URL",
        shown="none: SQLite",
    )
    env_file: str = _var(
        "CHATLAB_ENV_FILE", ".env", "The file of variables loaded at start.", "a file path"
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        cleaned = {name: _clean(value) or "" for name, value in data.items()}
        return {n: v for n, v in cleaned.items() if v or n in _BLANK_MEANS_NONE}

    @field_validator("discovery_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("max_run_cost", mode="before")
    @classmethod
    def _dollars(cls, value: Any) -> Any:
        return value.removeprefix("$").strip() if isinstance(value, str) else value

    @field_validator("base_url_allowlist")
    @classmethod
    def _rules(cls, value: str | None) -> str | None:
        bad = [e for e in (value or "").replace(",", " ").split() if parse_rule(e) is None]
        if bad:
            raise ValueError(f"not a host, address or CIDR: {', '.join(bad)}")
        return value


_FIELDS: dict[str, FieldInfo] = {str(f.alias): f for f in Settings.model_fields.values()}
VARIABLES = tuple(_FIELDS)  # every variable's name, in the docs' order
_SECRETS = {name for name, f in _FIELDS.items() if f.annotation == SecretStr | None}


class ConfigError(ChatLabError):
    """An environment variable with a value Chat Lab cannot read."""

    def __init__(self, problems: list[str]) -> None:
        them = "them" if len(problems) > 1 else "it"
        super().__init__(
            " ".join(problems),
            f"Fix {them} in .env or the environment, then restart Chat Lab.",
            retryable=False,
        )


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Every variable read and checked; raises ``ConfigError`` naming each bad one."""
    env = os.environ if environ is None else environ
    return _parsed(tuple((name, env[name]) for name in _FIELDS if name in env))


@lru_cache(maxsize=32)  # read on every request; the same environment parses the same
def _parsed(items: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings.model_validate(dict(items))
    except ValidationError as exc:
        raw = dict(items)
        problems = [_problem(str(e["loc"][0]), raw.get(str(e["loc"][0]))) for e in exc.errors()]
        raise ConfigError(list(dict.fromkeys(problems))) from None


def _problem(name: str, raw: str | None) -> str:
    """The sentence for one bad value: the variable, the value (not a secret's), the form."""
    extra = _FIELDS[name].json_schema_extra
    form = extra.get("form") if isinstance(extra, dict) else None
    if name in _SECRETS or raw is None:
        return f"{name} is not valid (its value is not shown): expected {form}."
    value = raw.strip()
    shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
    return f"{name}={shown!r} is not valid: expected {form}."


def timeouts(environ: Mapping[str, str] | None = None) -> Timeouts:
    """Timeouts from ``CHATLAB_CONNECT_TIMEOUT``, ``_READ_TIMEOUT``, ``_REPLY_TIMEOUT`` (s)."""
    found = settings(environ)
    return Timeouts(found.connect_timeout, found.read_timeout, found.reply_timeout)


def max_reply_chars(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_REPLY_CHARS``: a reply is cut there (default 200,000 characters)."""
    return settings(environ).max_reply_chars


def discovery_ports(environ: Mapping[str, str] | None = None) -> tuple[int, ...] | None:
    """``CHATLAB_DISCOVERY_PORTS`` (comma-separated; blank: look nowhere), None when unset."""
    return settings(environ).discovery_ports


def allow_custom_base_url(
    listen_address: str | None, environ: Mapping[str, str] | None = None
) -> bool:
    """``CHATLAB_ALLOW_CUSTOM_BASE_URL``: may a visitor type a Base URL? Unset: only when
    the app listens on loopback alone (Streamlit's ``server.address``)."""
    said = settings(environ).allow_custom_base_url
    return listens_locally(listen_address) if said is None else said


def url_policy(listen_address: str | None, environ: Mapping[str, str] | None = None) -> UrlPolicy:
    """What a typed Base URL may reach: ``CHATLAB_ALLOW_CUSTOM_BASE_URL`` and
    ``CHATLAB_BASE_URL_ALLOWLIST`` (hosts, host:port, addresses or CIDRs)."""
    return UrlPolicy(
        allow_custom=allow_custom_base_url(listen_address, environ),
        local=listens_locally(listen_address),
        allowlist=parse_allowlist(settings(environ).base_url_allowlist),
    )


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL``, else a SQLite file ``chatlab.db`` in ``CHATLAB_DATA_DIR`` (``./data``)."""
    found = settings(environ)
    if found.database_url is not None:
        return found.database_url.get_secret_value()
    # Absolute, so the store does not depend on the directory Streamlit was started from
    # after the first call, and error messages can show the full path.
    folder = Path(found.data_dir).expanduser().resolve()
    return f"sqlite:///{folder / 'chatlab.db'}"


# -- spending limits (chatlab.guard.limits, chatlab.compare.budget) ---------------------------


def rate_limit(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_RATE_LIMIT``: requests a minute per visitor (default 60; 0: no limit)."""
    return settings(environ).rate_limit


def max_in_flight(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_IN_FLIGHT``: requests open at once in the process (64; 0: no bound)."""
    return settings(environ).max_in_flight


def max_run_requests(environ: Mapping[str, str] | None = None) -> int:
    """``CHATLAB_MAX_RUN_REQUESTS``: requests one Compare run may send (300; 0: no limit)."""
    return settings(environ).max_run_requests


def max_run_cost(environ: Mapping[str, str] | None = None) -> float:
    """``CHATLAB_MAX_RUN_COST``: USD one Compare run may cost at most (default 5; 0: no limit)."""
    return settings(environ).max_run_cost


# -- the docs' table and the start-up check -----------------------------------------------------


def markdown_table() -> str:
    """The table of every variable for docs/configuration.md, from ``Settings``."""
    lines = ["| variable | default | what it does |", "| --- | --- | --- |"]
    for name, found in _FIELDS.items():
        extra = found.json_schema_extra
        shown = extra.get("shown") if isinstance(extra, dict) else ""
        lines.append(f"| `{name}` | {shown} | {found.description} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """``--markdown``: print the docs' table; ``--check``: load .env, check every value."""
    if argv == ["--markdown"]:
        print(markdown_table(), end="")
        return 0
    if argv == ["--check"]:
        load_env_file()
        try:
            settings()
        except ConfigError as err:
            print(f"Chat Lab cannot start: {err}", file=sys.stderr)
            return 2
        return 0
    print("usage: python -m chatlab.config --markdown | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
