"""The one place that owns ``st.session_state`` keys.

Everything a browser session holds lives here: the open conversation, the last error,
the pending button action, the API key typed into the sidebar and the per-model quirks
learnt from the server. Nothing here is shared between sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import streamlit as st

from chatlab.client import Quirks
from chatlab.config import DEFAULT_SYSTEM_PROMPT
from chatlab.errors import ChatError
from chatlab.messages import ChatMessage, ChatSettings, Status

Action = Literal["retry", "continue", "trim_and_retry"]
HISTORY_PAGE = 50

# Widget keys (the sidebar's inputs write these).
MODEL = "model"
TEMPERATURE = "temperature"
MAX_TOKENS = "max_tokens"
SYSTEM_PROMPT = "system_prompt"
KEY_INPUT = "api_key_input"
BASE_URL_INPUT = "base_url_input"

# Plain state.
_MESSAGES = "messages"
_ERROR = "error"
_ACTION = "action"
_TYPED_KEY = "typed_api_key"
_QUIRKS = "quirks"
_SHOWN = "history_shown"
_PRIVATE = "private_cache"
_CONVERSATION = "conversation_id"
_URL_READ = "url_read"
_CONFIRM_DELETE = "confirm_delete"
_LISTED = "conversations_listed"
_NOTICE = "notice"
SEARCH = "conversation_search"
TITLE_INPUT = "title_input"
IMPORT_INPUT = "import_file"
LIST_PAGE = 20

SECRET_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")


def init(default_model: str) -> None:
    """Give every key its starting value (once per session)."""
    defaults: dict[str, Any] = {
        _MESSAGES: [],
        _ERROR: None,
        _ACTION: None,
        _TYPED_KEY: None,
        _QUIRKS: {},
        _SHOWN: HISTORY_PAGE,
        _PRIVATE: {},
        _CONVERSATION: None,
        _URL_READ: False,
        _CONFIRM_DELETE: False,
        _LISTED: LIST_PAGE,
        _NOTICE: None,
        MODEL: default_model,
        TEMPERATURE: 0.7,
        MAX_TOKENS: 1024,
        SYSTEM_PROMPT: DEFAULT_SYSTEM_PROMPT,
        BASE_URL_INPUT: "",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def pin(*keys: str) -> None:
    """Resend these widgets' values to the browser on this run.

    A widget whose value came from session state, not from a ``value=`` argument, can lose
    that value in the browser across a long run (seen after a streamed reply): the browser
    then falls back to the widget's built-in default (an empty text, a slider's minimum)
    and sends that back with the next message. Writing the value again before the widget
    is drawn makes Streamlit send it along with the widget, so the browser always shows,
    and sends back, what the server holds.
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def messages() -> list[ChatMessage]:
    """The open conversation (the working copy)."""
    found: list[ChatMessage] = st.session_state[_MESSAGES]
    return found


def new_chat() -> None:
    """Start a new, empty conversation (it is stored once it has a message)."""
    open_conversation(None, [])


def open_conversation(conversation_id: str | None, loaded: list[ChatMessage]) -> None:
    """Make ``loaded`` the open conversation."""
    for message in loaded:
        if message.status == Status.STREAMING:  # the process died mid-reply
            message.status = Status.STOPPED
    st.session_state[_MESSAGES] = loaded
    st.session_state[_CONVERSATION] = conversation_id
    st.session_state[_ERROR] = None
    st.session_state[_SHOWN] = HISTORY_PAGE
    st.session_state[_CONFIRM_DELETE] = False


def conversation_id() -> str | None:
    """The stored id of the open conversation (None until its first message is saved)."""
    found: str | None = st.session_state[_CONVERSATION]
    return found


def set_conversation_id(conversation_id: str) -> None:
    st.session_state[_CONVERSATION] = conversation_id


def first_run_of_session() -> bool:
    """True once: on the first run, the URL says which conversation to open."""
    first = not st.session_state[_URL_READ]
    st.session_state[_URL_READ] = True
    return first


def confirming_delete() -> bool:
    confirming: bool = st.session_state[_CONFIRM_DELETE]
    return confirming


def ask_delete(confirm: bool) -> None:
    st.session_state[_CONFIRM_DELETE] = confirm


def conversations_listed() -> int:
    listed: int = st.session_state[_LISTED]
    return listed


def list_more_conversations() -> None:
    st.session_state[_LISTED] = conversations_listed() + LIST_PAGE


def notice() -> str | None:
    """A one-off message for the user (e.g. from a storage failure), shown once."""
    found: str | None = st.session_state[_NOTICE]
    st.session_state[_NOTICE] = None
    return found


def set_notice(text: str) -> None:
    st.session_state[_NOTICE] = text


def chat_settings() -> ChatSettings:
    """The sidebar's current settings."""
    return ChatSettings(
        model=str(st.session_state[MODEL]).strip(),
        temperature=float(st.session_state[TEMPERATURE]),
        max_tokens=int(st.session_state[MAX_TOKENS]),
        system_prompt=str(st.session_state[SYSTEM_PROMPT]),
    )


def error() -> ChatError | None:
    """The error of the last turn, until the next one starts."""
    found: ChatError | None = st.session_state[_ERROR]
    return found


def set_error(err: ChatError | None) -> None:
    st.session_state[_ERROR] = err


def request_action(action: Action) -> None:
    """Button callback: remember what to do on this rerun."""
    st.session_state[_ACTION] = action


def pop_action() -> Action | None:
    """The pending action, once."""
    action: Action | None = st.session_state[_ACTION]
    st.session_state[_ACTION] = None
    return action


def history_shown() -> int:
    shown: int = st.session_state[_SHOWN]
    return shown


def show_more_history() -> None:
    st.session_state[_SHOWN] = history_shown() + HISTORY_PAGE


def quirks(model: str) -> Quirks | None:
    found: Quirks | None = st.session_state[_QUIRKS].get(model)
    return found


def remember_quirks(model: str, learnt: Quirks) -> None:
    st.session_state[_QUIRKS][model] = learnt


def capture_typed_key() -> None:
    """Key-input callback: keep the key in this session only and clear the field,
    so the key is never sent back to the page."""
    typed = str(st.session_state.get(KEY_INPUT) or "").strip()
    if typed:
        st.session_state[_TYPED_KEY] = typed
    st.session_state[KEY_INPUT] = ""


def forget_typed_key() -> None:
    st.session_state[_TYPED_KEY] = None
    st.session_state[_PRIVATE] = {}


def has_typed_key() -> bool:
    return bool(st.session_state[_TYPED_KEY])


def sidebar_values() -> dict[str, object]:
    """What the sidebar contributes to the endpoint (highest precedence)."""
    return {
        "OPENAI_API_KEY": st.session_state[_TYPED_KEY],
        "OPENAI_BASE_URL": st.session_state[BASE_URL_INPUT],
    }


def private_cache() -> dict[Any, Any]:
    """A per-session cache for things that carry this session's typed key."""
    found: dict[Any, Any] = st.session_state[_PRIVATE]
    return found


def secrets() -> Mapping[str, object]:
    """Our names from ``st.secrets``; a missing or broken secrets.toml counts as empty."""
    try:
        return {name: st.secrets[name] for name in SECRET_NAMES if name in st.secrets}
    except Exception:  # no secrets.toml, or one that does not parse
        return {}
