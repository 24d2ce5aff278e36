"""The one place that owns ``st.session_state``.

A browser session's own state is one typed ``ChatState`` under one key: the open
conversation, the last error, the pending button action, the API key typed into the
sidebar, the per-model quirks learnt from the server, the reply in flight. Widgets keep
their values under the keys named here. Nothing here is shared between sessions.

Functions that only read are named for what they return; those that change state say
so (``take_notice`` returns the notice and clears it).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import streamlit as st

from chatlab.background import BackgroundReply
from chatlab.client import Quirks
from chatlab.conversation import Conversation
from chatlab.errors import ChatError
from chatlab.messages import ChatMessage, ChatSettings, Status, new_id
from chatlab.params import from_widgets, switch_key, widget_key, widget_keys, widget_values
from chatlab.server_check import ServerReport
from chatlab.storage import Outbox, Store
from chatlab.sweep import Run, Sweep
from chatlab.sweep_slot import SweepSlot
from chatlab.turns import Plan

# Messages drawn when a conversation opens: every run redraws each with its tools (about
# six elements), and the browser's work for them is what the next first token waits on.
HISTORY_FIRST = 20
HISTORY_PAGE = 50  # added by each "Show earlier messages"
LIST_PAGE = 20
SECRET_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL")

# Widget keys (the inputs write these).
MODEL = "model"
SYSTEM_PROMPT = "system_prompt"
# Each sampling parameter's control is keyed by its name (``chatlab.params.widget_key``;
# top_p's "Set top_p" switch by ``switch_key``).
TEMPERATURE = widget_key("temperature")
MAX_TOKENS = widget_key("max_tokens")
TOP_P_SET = switch_key("top_p")
TOP_P = widget_key("top_p")
SEED = widget_key("seed")
STOP = widget_key("stop")
PRESENCE_PENALTY = widget_key("presence_penalty")
FREQUENCY_PENALTY = widget_key("frequency_penalty")
REASONING_EFFORT = widget_key("reasoning_effort")
LOGPROBS = widget_key("logprobs")  # the Probabilities toggle
TOP_LOGPROBS = widget_key("top_logprobs")
ADVANCED = widget_keys(advanced=True)  # the controls under "Advanced", switches first
KEY_INPUT = "api_key_input"
BASE_URL_INPUT = "base_url_input"
PROMPT = "prompt"
SEARCH = "conversation_search"
TITLE_INPUT = "title_input"
IMPORT_INPUT = "import_file"
# The presets (components.presets): the picker, the name to save under, the file to import.
PRESET_PICK = "preset_pick"
PRESET_NAME = "preset_name"
PRESET_IMPORT = "preset_import"
_STATE = "chatlab"
_SAVING = "chatlab_saving"

ActionKind = Literal["retry", "continue", "trim_and_retry", "regenerate", "edit"]
EDIT_INPUT = "edit_text"  # the edit box of the message being edited
MORE_MENU = "more"  # + "-<message id>": whether that message's More menu is open


@dataclass(frozen=True)
class Action:
    """A button's request, carried out by the next run."""

    kind: ActionKind
    message_id: str | None = None
    text: str = ""  # an edited question's new text


@dataclass
class ChatState:
    """Everything one browser session holds besides its widgets' values."""

    conversation: Conversation = field(default_factory=Conversation)
    error: ChatError | None = None
    action: Action | None = None
    typed_key: str | None = None
    quirks: dict[str, Quirks] = field(default_factory=dict)
    history_shown: int = HISTORY_FIRST
    private_cache: dict[Any, Any] = field(default_factory=dict)
    url_read: bool = False
    confirm_delete: bool = False
    listed: int = LIST_PAGE
    # Messages for the user from anything that failed quietly (a save, a load), shown once.
    # A plain list the store-writing code appends to: it must not touch session state.
    problems: list[str] = field(default_factory=list)
    # The reply whose request is out, and the lock its run holds while drawing it until
    # it is saved: a newer run (a second click on Continue) waits for it instead of
    # racing it.
    in_flight: Started | None = None
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    owner: str = ""
    store: Store | None = None
    max_tokens_limit: int = 0  # the max-tokens slider's range when last drawn
    sent: str | None = None  # a message the chat box's on_submit caught, until it is planned
    sent_files: tuple[tuple[str, bytes], ...] = ()  # and the (name, bytes) attached to it
    server_report: ServerReport | None = None  # the last "Check this server" result
    editing: str | None = None  # the id of the question being edited
    deleting: str | None = None  # the message whose deletion waits for a confirmation
    showing_source: str | None = None  # the message shown as Markdown source, to copy
    # The compare page's run: a live sweep (it runs on, across pages, until it ends or is
    # stopped) or a stored run reopened.
    compare: Sweep | Run | None = None
    page_runs: int = 0  # full runs of any page so far (a stopped run may be a rerun)
    # This browser session's own id: the visitor whose rate is counted when sign-in is off.
    visitor: str = field(default_factory=new_id)
    # The one sweep this session may run at a time (stopped when the session ends).
    sweeps: SweepSlot = field(default_factory=SweepSlot)


class Keeper(Protocol):
    """What saves a conversation's messages (``components.conversations.Keeper``)."""

    conversation: Conversation

    def save(self, message: ChatMessage) -> bool: ...


@dataclass
class Started:
    """A turn whose request was sent first thing in its run, before the page was drawn."""

    plan: Plan
    worker: BackgroundReply
    keeper: Keeper
    learnt: list[Quirks] = field(default_factory=list)  # what the server turned out to need


def init(default_model: str) -> None:
    """Give every key its starting value (once per session)."""
    st.session_state.setdefault(_STATE, ChatState())
    defaults = ChatSettings(model=default_model)
    for key, value in {**_widget_values(defaults), BASE_URL_INPUT: ""}.items():
        st.session_state.setdefault(key, value)


def _widget_values(settings: ChatSettings) -> dict[str, object]:
    """What the settings widgets hold for ``settings`` (the inverse of ``chat_settings``)."""
    return {
        MODEL: settings.model,
        SYSTEM_PROMPT: settings.system_prompt,
        **widget_values(settings),  # each parameter's controls (chatlab.params)
    }


def apply_settings(settings: ChatSettings) -> None:
    """Set the sidebar to ``settings`` (a reopened conversation's last turn)."""
    for key, value in _widget_values(settings).items():
        st.session_state[key] = value


def state() -> ChatState:
    """This session's state."""
    found: ChatState = st.session_state[_STATE]
    return found


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


# -- the open conversation -----------------------------------------------------------------


def conversation() -> Conversation:
    """The open conversation."""
    return state().conversation


def new_chat() -> None:
    """Start a new, empty conversation (it is stored once it has a message)."""
    open_conversation(Conversation())


def open_conversation(opened: Conversation) -> None:
    """Make ``opened`` the open conversation."""
    for message in opened.messages.values():
        if message.status == Status.STREAMING:  # the process died mid-reply
            message.status = Status.STOPPED
    current = state()
    current.conversation = opened
    made = [m.settings for m in opened.path() if m.role == "assistant" and m.settings]
    if made:  # the conversation goes on as it was last made
        apply_settings(made[-1])
    current.error = None
    current.history_shown = HISTORY_FIRST
    current.confirm_delete = False


def conversation_id() -> str | None:
    """The stored id of the open conversation (None until its first message is saved)."""
    return state().conversation.id


def read_url_once() -> bool:
    """True on a session's first run only (then the URL says which conversation to open)."""
    current = state()
    first = not current.url_read
    current.url_read = True
    return first


def set_page_context(owner: str, store: Store | None) -> None:
    """Who is signed in and where conversations live (set before every page runs)."""
    current = state()
    current.owner, current.store = owner, store
    current.page_runs += 1


# -- the sidebar's settings --------------------------------------------------------------------


def chat_settings() -> ChatSettings:
    """The sidebar's current settings; an Advanced control left alone is "not set"."""
    values = st.session_state
    return ChatSettings(
        model=str(values[MODEL]).strip(),
        system_prompt=str(values[SYSTEM_PROMPT]),
        **from_widgets(values),  # each parameter's controls (chatlab.params)
    )


def model() -> str:
    return str(st.session_state[MODEL])


def set_model(name: str) -> None:
    st.session_state[MODEL] = name


def max_tokens() -> int:
    return int(st.session_state[MAX_TOKENS])


def set_max_tokens(value: int) -> None:
    st.session_state[MAX_TOKENS] = value


def set_base_url(url: str) -> None:
    st.session_state[BASE_URL_INPUT] = url


def widget_value(key: str) -> object:
    """A widget's current value (None when it has none yet)."""
    return st.session_state.get(key)


def clear_widget(key: str) -> None:
    """Empty a widget (a picker back to its placeholder): in its callback, or before it is drawn."""
    st.session_state[key] = None


# -- turns, errors and notices ---------------------------------------------------------------


def keep_sent() -> None:
    """The chat box's on_submit: keep the message until the page plans a turn for it.

    Streamlit's browser sends the widget changes of one event-loop task in one rerun,
    scoped to the first fragment among them (``WidgetStateManager.scheduleFlush``,
    streamlit/streamlit#12747): a message sent in the same moment a sidebar setting
    applies arrives with the settings fragment's rerun, which never reaches the page,
    and would be lost. Callbacks run on every rerun, so it is caught here, and the
    fragment (``message_waiting``) asks for the full run that sends it.
    """
    value = st.session_state.get(PROMPT)
    # With files accepted the box's value is a ChatInputValue (text and files); read now:
    # the uploaded files are gone once the run that sent them ends.
    state().sent = str(getattr(value, "text", value) or "")
    files = getattr(value, "files", None) or ()
    state().sent_files = tuple((str(f.name), bytes(f.getvalue())) for f in files)


def message_waiting() -> bool:
    """True while a message the chat box caught has not been planned yet."""
    return state().sent is not None


def take_sent() -> str | None:
    """The message the chat box caught, if any; clears it."""
    current = state()
    sent, current.sent = current.sent, None
    return sent


def take_sent_files() -> tuple[tuple[str, bytes], ...]:
    """The (name, bytes) of the files sent with the message the chat box caught; clears them."""
    current = state()
    files, current.sent_files = current.sent_files, ()
    return files


def request_action(kind: ActionKind, message_id: str | None = None) -> None:
    """Button callback: remember what to do on this rerun."""
    state().action = Action(kind, message_id)


def start_edit(message_id: str, text: str) -> None:
    """Edit button: open the edit box of a question, filled with its text."""
    state().editing = message_id
    st.session_state[EDIT_INPUT] = text


def cancel_edit() -> None:
    state().editing = None


def send_edit(message_id: str) -> None:
    """The edit box's Send: resend the question as edited, as a new branch."""
    state().editing = None
    state().action = Action("edit", message_id, str(st.session_state.get(EDIT_INPUT) or ""))


def ask_delete_message(message_id: str | None) -> None:
    """Delete button: ask for a confirmation (None: the user cancelled)."""
    state().deleting = message_id


def deleting() -> str | None:
    return state().deleting


def toggle_source(message_id: str) -> None:
    """Show (or hide again) a message's Markdown source, to copy."""
    current = state()
    current.showing_source = None if current.showing_source == message_id else message_id


def showing_source() -> str | None:
    return state().showing_source


def compare_run() -> Sweep | Run | None:
    """The compare page's run: live, or reopened from storage."""
    return state().compare


def set_compare_run(run: Sweep | Run | None) -> None:
    state().compare = run


def editing() -> str | None:
    """The id of the question whose edit box is open."""
    return state().editing


def raise_max_tokens_and_retry(limit: int) -> None:
    """A reply that spent every token thinking: allow four times as many, then retry."""
    set_max_tokens(min(limit, max(4 * max_tokens(), 4096)))
    request_action("retry")


def take_action() -> Action | None:
    """The pending action; clears it."""
    current = state()
    action, current.action = current.action, None
    return action


def error() -> ChatError | None:
    """The error of the last turn, until the next one starts."""
    return state().error


def set_error(err: ChatError | None) -> None:
    state().error = err


def take_notices() -> list[str]:
    """One-off messages for the user (e.g. from a storage failure); clears them."""
    problems = state().problems
    found = list(problems)
    problems.clear()
    return found


def has_notices() -> bool:
    return bool(state().problems)


def add_notice(text: str) -> None:
    state().problems.append(text)


def quirks(model_name: str) -> Quirks | None:
    return state().quirks.get(model_name)


def remember_quirks(model_name: str, learnt: Quirks) -> None:
    state().quirks[model_name] = learnt


# -- lists that grow a page at a time -----------------------------------------------------------


def history_shown() -> int:
    return state().history_shown


def show_more_history() -> None:
    state().history_shown += HISTORY_PAGE


def conversations_listed() -> int:
    return state().listed


def list_more_conversations() -> None:
    state().listed += LIST_PAGE


def confirming_delete() -> bool:
    return state().confirm_delete


def ask_delete(confirm: bool) -> None:
    state().confirm_delete = confirm


# -- the key typed into the sidebar ---------------------------------------------------------------


def capture_typed_key() -> None:
    """Key-input callback: keep the key in this session only and clear the field,
    so the key is never sent back to the page."""
    typed = str(st.session_state.get(KEY_INPUT) or "").strip()
    if typed:
        state().typed_key = typed
    st.session_state[KEY_INPUT] = ""


def forget_typed_key() -> None:
    current = state()
    current.typed_key = None
    current.private_cache = {}


def has_typed_key() -> bool:
    return bool(state().typed_key)


def sidebar_values() -> dict[str, object]:
    """What the sidebar contributes to the endpoint (highest precedence)."""
    return {
        "OPENAI_API_KEY": state().typed_key,
        "OPENAI_BASE_URL": st.session_state[BASE_URL_INPUT],
    }


def private_cache() -> dict[Any, Any]:
    """A per-session cache for things that carry this session's typed key."""
    return state().private_cache


def secrets() -> Mapping[str, object]:
    """Our names from ``st.secrets``; a missing or broken secrets.toml counts as empty."""
    try:
        return {name: st.secrets[name] for name in SECRET_NAMES if name in st.secrets}
    except Exception:  # no secrets.toml, or one that does not parse
        return {}


# -- saving behind the page (chatlab.storage.outbox) ----------------------------------------------


@dataclass
class SavingState:
    """What this session has not stored yet, and a link it could not open yet."""

    outbox: Outbox = field(default_factory=Outbox)
    # A ``?c=`` id that could not be opened because the store failed: kept in the URL and
    # tried again on every run until it opens (or turns out not to exist).
    waiting_url: str | None = None


def saving() -> SavingState:
    """This session's saving state."""
    found: SavingState = st.session_state.setdefault(_SAVING, SavingState())
    return found


def outbox() -> Outbox:
    return saving().outbox
