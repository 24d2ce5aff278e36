"""The one place that owns ``st.session_state``.

A browser session's own state is one small typed object per feature, each behind one
accessor and made on its first use in that session (nothing here is shared between
sessions, and nothing is made at import):

- ``chat()``: the open conversation, the turn in flight, what a button asked for, and
  which of the chat's boxes and lists are open;
- ``compare()``: the compare page's run, the one sweep this session may run, and the
  evaluation form's tables and variants (``EvaluationForm``);
- ``arena()``: the side-by-side page's open session, its answers streaming in;
- ``connection()``: the API key typed into the sidebar (held there and nowhere else),
  what each model turned out to need, the last server check;
- ``page()``: who is signed in, where conversations live, this visitor's id, the runs
  so far and the one-off notices;
- ``saving()``: what is not stored yet, and a link that could not be opened yet.

Callers read and write those objects' fields directly. The functions here do what a
field alone cannot: read or set a widget's value (only this module touches
``st.session_state``), take a value and clear it, or change several things together.
Functions that only read are named for what they return; those that change state say
so (``take_notices`` returns the notices and clears them). Widgets keep their values
under the keys named here, beside their feature's state.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import streamlit as st

from chatlab.arena import LiveSession
from chatlab.chat import Plan
from chatlab.compare import EvalSpec, Setup, Sweep, SweepSlot
from chatlab.conversation import Conversation
from chatlab.errors import ChatError
from chatlab.grid import Run
from chatlab.messages import ChatMessage, ChatSettings, Status, new_id
from chatlab.params import (
    from_widgets,
    schema_key,
    switch_key,
    widget_key,
    widget_keys,
    widget_values,
)
from chatlab.provider import BackgroundReply, Quirks, SamplingReport, ServerReport
from chatlab.storage import Outbox, StorageError, Store
from chatlab.tools import ChoiceMode, Tool, ToolChoice, ToolSet

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
RESPONSE_FORMAT = widget_key("response_format")  # text, json_object or json_schema
RESPONSE_SCHEMA = schema_key("response_format")  # the JSON Schema's editor
ADVANCED = widget_keys(advanced=True)  # the controls under "Advanced", switches first
KEY_INPUT = "api_key_input"
BASE_URL_INPUT = "base_url_input"

# The presets (components.presets): the picker, the name to save under, the file to import.
PRESET_PICK = "preset_pick"
PRESET_NAME = "preset_name"
PRESET_IMPORT = "preset_import"
# Whether the preset popovers are open (their content is drawn only then: components/popover.py)
PRESET_SAVE_MENU = "preset_save_menu"
PRESET_MANAGE_MENU = "preset_manage_menu"
# The tools (components.tools): the tool_choice picker, and each call's result box
# (+ "-<reply id>-<call's place>").
TOOL_CHOICE = "tool_choice"
TOOL_RESULT = "tool_result"
TOOL_MODES: dict[str, ChoiceMode] = {"auto": "auto", "none": "none", "required": "required"}

# The response format's example picker (components.response_format).
RESPONSE_FORMAT_EXAMPLE = "response_format_example"

T = TypeVar("T")


def _held(kind: type[T]) -> T:
    """This session's ``kind`` of state, made on its first use in the session.

    No lock: only a session's own runs reach its state, and Streamlit refuses session
    state to a run it is stopping, so two threads never make one session's state at once.
    (A lock shared by all sessions could deadlock: Streamlit holds each session's own
    lock while that session's callbacks run, and callbacks come here.)
    """
    key = state_key(kind)
    if key not in st.session_state:
        st.session_state[key] = kind()
    found: T = st.session_state[key]
    return found


def state_key(kind: type[object]) -> str:
    """The ``st.session_state`` key a feature's state is kept under."""
    return f"chatlab.{kind.__name__}"


# -- the chat ----------------------------------------------------------------------------------

ActionKind = Literal[
    "retry", "continue", "trim_and_retry", "regenerate", "edit", "fork", "tool_results"
]
# The chat's widget keys.
PROMPT = "prompt"  # the chat box
EDIT_INPUT = "edit_text"  # the edit box of the message being edited
MORE_MENU = "more"  # + "-<message id>": whether that message's More menu is open
SEARCH = "conversation_search"
TITLE_INPUT = "title_input"  # + "-<conversation id>"
IMPORT_INPUT = "import_file"
IMPORT_MENU = "import_menu"  # whether the import popover is open (its uploader is drawn then)
# Whether each collapsed sidebar section is open (its content is drawn only then)
ADVANCED_SECTION = "advanced_section"
TOOLS_SECTION = "tools_section"
CONVERSATION_SECTION = "conversation_section"


@dataclass(frozen=True)
class Action:
    """A button's request, carried out by the next run."""

    kind: ActionKind
    message_id: str | None = None
    text: str = ""  # an edited question's new text; a fork's prefix
    results: tuple[str, ...] = ()  # a reply's tool calls' results, in order


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


@dataclass
class ChatState:
    """The chat: the open conversation, the turn in flight, and what is open on screen."""

    conversation: Conversation = field(default_factory=Conversation)
    error: ChatError | None = None  # the last turn's, until the next one starts
    action: Action | None = None  # a button's request, for the next run
    sent: str | None = None  # a message the chat box's on_submit caught, until it is planned
    sent_files: tuple[tuple[str, bytes], ...] = ()  # and the (name, bytes) attached to it
    # The reply whose request is out, and the lock its run holds while drawing it until
    # it is saved: a newer run (a second click on Continue) waits for it instead of
    # racing it.
    in_flight: Started | None = None
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    history_shown: int = HISTORY_FIRST  # the open conversation's messages drawn
    # The last message the page's last full run drew in the history; the turn fragment
    # (components/chat/live.py) draws what came after it.
    drawn_upto: str | None = None
    listed: int = LIST_PAGE  # the sidebar's conversations listed
    url_read: bool = False  # the URL's ``?c=`` is read on a session's first run only
    confirm_delete: bool = False  # the open conversation's deletion waits for a confirmation
    editing: str | None = None  # the id of the question being edited
    deleting: str | None = None  # the message whose deletion waits for a confirmation
    showing_source: str | None = None  # the message shown as Markdown source, to copy
    viewing: tuple[str, str] | None = None  # (view, reply id): the panel open under a reply
    # The tools a request offers (``chatlab.tools``; not sampling parameters, so not on
    # ChatSettings); None until read from the store (``components.tools``), for ``tools_of``.
    tools: tuple[Tool, ...] | None = None
    tools_of: str | None = None  # the owner whose tools those are (sign-in may change it)


def chat() -> ChatState:
    """This session's chat."""
    return _held(ChatState)


# -- the widgets' starting values --------------------------------------------------------------


def init(default_model: str) -> None:
    """Give every key its starting value (once per session)."""
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


def new_chat() -> None:
    """Start a new, empty conversation (it is stored once it has a message)."""
    open_conversation(Conversation())


def open_conversation(opened: Conversation) -> None:
    """Make ``opened`` the open conversation."""
    for message in opened.messages.values():
        if message.status == Status.STREAMING:  # the process died mid-reply
            message.status = Status.STOPPED
    current = chat()
    current.conversation = opened
    made = [m.settings for m in opened.path() if m.role == "assistant" and m.settings]
    if made:  # the conversation goes on as it was last made
        apply_settings(made[-1])
    current.error = None
    current.history_shown = HISTORY_FIRST
    current.confirm_delete = False


def read_url_once() -> bool:
    """True on a session's first run only (then the URL says which conversation to open)."""
    current = chat()
    first = not current.url_read
    current.url_read = True
    return first


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


def set_widget(key: str, value: object) -> None:
    """Set a widget's value before it is drawn (or in its callback)."""
    st.session_state[key] = value


def seed_widget(key: str, value: object) -> None:
    """A widget's starting value, unless it holds one: instead of ``value=`` beside ``key=``,
    which Streamlit warns about once the value was also set here (``set_widget``)."""
    st.session_state.setdefault(key, value)


def clear_widget(key: str) -> None:
    """Empty a widget (a picker back to its placeholder): in its callback, or before it is drawn."""
    st.session_state[key] = None


# -- the chat's turns and buttons --------------------------------------------------------------


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
    current = chat()
    # With files accepted the box's value is a ChatInputValue (text and files); read now:
    # the uploaded files are gone once the run that sent them ends.
    current.sent = str(getattr(value, "text", value) or "")
    files = getattr(value, "files", None) or ()
    current.sent_files = tuple((str(f.name), bytes(f.getvalue())) for f in files)


def send_example(text: str) -> None:
    """An example prompt's button: sent as the chat box sends a typed message."""
    current = chat()
    current.sent, current.sent_files = text, ()


def switch_on_probabilities() -> None:
    """The welcome's button: the sidebar's Probabilities toggle, on."""
    st.session_state[LOGPROBS] = True


def message_waiting() -> bool:
    """True while a message the chat box caught has not been planned yet."""
    return chat().sent is not None


def take_sent() -> str | None:
    """The message the chat box caught, if any; clears it."""
    current = chat()
    sent, current.sent = current.sent, None
    return sent


def take_sent_files() -> tuple[tuple[str, bytes], ...]:
    """The (name, bytes) of the files sent with the message the chat box caught; clears them."""
    current = chat()
    files, current.sent_files = current.sent_files, ()
    return files


def request_action(kind: ActionKind, message_id: str | None = None) -> None:
    """Button callback: remember what to do on this rerun."""
    chat().action = Action(kind, message_id)


def request_fork(message_id: str, prefix: str) -> None:
    """ "Continue from this alternative": a new alternative of a reply, from ``prefix``."""
    chat().action = Action("fork", message_id, prefix)
    chat().viewing = None


def send_tool_results(message_id: str, calls: int) -> None:
    """ "Send results": each call's result box, in order, answers the reply's calls."""
    results = tuple(
        str(st.session_state.get(f"{TOOL_RESULT}-{message_id}-{i}") or "") for i in range(calls)
    )
    chat().action = Action("tool_results", message_id, results=results)


def tool_set() -> ToolSet:
    """The tools defined and the choice picked (a choice naming a tool: ``tool:<name>``)."""
    tools = chat().tools or ()
    picked = str(st.session_state.get(TOOL_CHOICE) or "auto")
    if picked.startswith("tool:"):
        return ToolSet(tools, ToolChoice("named", picked.removeprefix("tool:")))
    return ToolSet(tools, ToolChoice(TOOL_MODES.get(picked, "auto")))


def take_action() -> Action | None:
    """The pending action; clears it."""
    current = chat()
    action, current.action = current.action, None
    return action


def raise_max_tokens_and_retry(limit: int) -> None:
    """A reply that spent every token thinking: allow four times as many, then retry."""
    set_max_tokens(min(limit, max(4 * max_tokens(), 4096)))
    request_action("retry")


def start_edit(message_id: str, text: str) -> None:
    """Edit button: open the edit box of a question, filled with its text."""
    chat().editing = message_id
    st.session_state[EDIT_INPUT] = text


def cancel_edit() -> None:
    """The edit box's Cancel."""
    chat().editing = None


def send_edit(message_id: str) -> None:
    """The edit box's Send: resend the question as edited, as a new branch."""
    current = chat()
    current.editing = None
    current.action = Action("edit", message_id, str(st.session_state.get(EDIT_INPUT) or ""))


def ask_delete_message(message_id: str | None) -> None:
    """Delete button: ask for a confirmation (None: the user cancelled)."""
    chat().deleting = message_id


def toggle_source(message_id: str) -> None:
    """Show (or hide again) a message's Markdown source, to copy."""
    current = chat()
    current.showing_source = None if current.showing_source == message_id else message_id


def toggle_view(view: str, message_id: str) -> None:
    """Open a view (Probabilities, Request) under a reply, closing any other; or close it."""
    current = chat()
    shown = (view, message_id)
    current.viewing = None if current.viewing == shown else shown


def ask_delete(confirm: bool) -> None:
    """The open conversation's Delete (True) and its Cancel (False)."""
    chat().confirm_delete = confirm


# -- lists that grow a page at a time -----------------------------------------------------------


def show_more_history() -> None:
    chat().history_shown += HISTORY_PAGE


def list_more_conversations() -> None:
    chat().listed += LIST_PAGE


# -- compare ----------------------------------------------------------------------------------

# Compare's widget keys (components.compare.form, and the result taken into the chat).
COMPARE_PROMPT = "compare_prompt"
COMPARE_SYSTEM_PROMPT = "compare_system_prompt"
COMPARE_USE_CONVERSATION = "compare_use_conversation"
COMPARE_MODELS = "compare_models"
COMPARE_SAMPLES = "compare_samples"
COMPARE_CONCURRENCY = "compare_concurrency"
COMPARE_VALUES = "compare_values_"  # + the parameter's name
COMPARE_TAKE = "compare_take"
COMPARE_FORM = "compare_form"  # the form's expander: open while no run is shown
COMPARE_RUN = "compare_run"
# The evaluation's inputs (components.compare.evaluation_inputs, spec_file).
COMPARE_VARIANT = "compare_variant_"  # + the variant's id + "_user" / "_system" (B, C, ...)
COMPARE_TESTS = "compare_tests_"  # + the table's version: the test set's editor
COMPARE_TESTS_FILE = "compare_tests_file"
COMPARE_TESTS_OPEN = "compare_tests_open"
COMPARE_TESTSET_PICK = "compare_testset_pick"  # a saved test set to load
COMPARE_TESTSET_NAME = "compare_testset_name"  # the name to save the test set as
COMPARE_ASSERTS = "compare_asserts_"  # + the table's version: the assertions' editor
COMPARE_SPEC_FILE = "compare_spec_file"
COMPARE_THRESHOLD = "compare_threshold"
USAGE_SOURCE = "usage_source"  # the usage page's "Sent from" filter
LEADERBOARD_DATES = "leaderboard_dates"  # the leaderboard's filters and what it ranks
LEADERBOARD_TAG = "leaderboard_tag"
LEADERBOARD_CONVERSATION = "leaderboard_conversation"
LEADERBOARD_RANK = "leaderboard_rank"


@dataclass
class EvaluationForm:
    """The Compare form's evaluation inputs that no one widget holds.

    A data editor starts from a table that must stay the same from run to run (its edits
    are kept against it), so each editor's starting table is kept here, and a new one (an
    upload, a spec, a new variable's column) comes with a new version, which is a new
    editor. A cell never typed is None.
    """

    variant_ids: list[str] = field(default_factory=list)  # B, C, ... (A: the prompt fields)
    columns: tuple[str, ...] = ()  # the test set's starting table
    rows: tuple[tuple[str | None, ...], ...] = ((),)  # the default: one empty row
    tests_version: int = 0
    asserts: tuple[dict[str, object], ...] = ()  # the assertions' starting rows
    asserts_version: int = 0
    tests_refused: str | None = None  # why the last test file changed nothing
    spec_refused: str | None = None  # why the last spec changed nothing
    spec: EvalSpec | None = None  # the form's setup as a spec, when it makes one
    speeds: dict[str, float] | None = None  # measured tokens/s per model (Usage)
    speeds_read: float | None = None  # time.monotonic() when they were last asked for
    estimated: tuple[object, object] | None = None  # (what was estimated, its estimate)


@dataclass
class CompareState:
    """The compare page's run, and the one sweep this session may run at a time."""

    # A live sweep (it runs on, across pages, until it ends or is stopped) or a stored
    # run reopened.
    run: Sweep | Run | None = None
    sweeps: SweepSlot = field(default_factory=SweepSlot)  # stopped when the session ends
    form_follows: str | None = None  # the run (or Run press) the form last opened/closed for
    form_setup: Setup | None = None  # the setup it last opened for (a new one opens it)
    # What the form starts from: a link's setup, or a question the chat sent here.
    setup: Setup | None = None
    link_written: dict[str, str] | None = None  # the query the page last put in the URL
    evaluation: EvaluationForm = field(default_factory=EvaluationForm)
    # The votes cast on pairs of cards (components.compare.vote): (run id, first card,
    # second card) -> (vote id, verdict), so a changed verdict replaces the vote.
    votes: dict[tuple[str, int, int], tuple[str, str]] = field(default_factory=dict)


def compare() -> CompareState:
    """This session's compare page."""
    return _held(CompareState)


def compare_prompt(message_id: str) -> None:
    """The "Compare this prompt" button: Compare starts from this question, the conversation
    before it as context and the sidebar's model (the other settings are the sidebar's)."""
    path = chat().conversation.path(message_id)
    if not path or path[-1].id != message_id:
        return
    *before, question = path
    compare().setup = Setup(question.content, models=(model(),), context=tuple(before))


# -- side by side (chatlab.arena) ------------------------------------------------------------------

# The side-by-side page's widgets: the columns' count, blind mode, the sessions' import.
ARENA_COLUMNS = "arena_columns"
ARENA_BLIND = "arena_blind"
ARENA_IMPORT = "arena_import"


def arena_column_key(field_name: str, column: int) -> str:
    """The widget key of column ``column``'s ``field_name`` control (model, temperature...)."""
    return f"arena_{field_name}_{column}"


@dataclass
class ArenaState:
    """The side-by-side page's open session (live: its answers may still be streaming)."""

    live: LiveSession | None = None
    listed: int = LIST_PAGE  # stored sessions listed in the sidebar
    continued: bool = False  # "Continue with this one" opened a conversation: go to the chat
    imported: int | None = None  # the uploader's file last imported (it stays in the widget)
    vote_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by session, as cast


def arena() -> ArenaState:
    """This session's side-by-side page."""
    return _held(ArenaState)


def take_continued() -> bool:
    """Whether "Continue with this one" opened a conversation since last asked; clears it."""
    state = arena()
    found, state.continued = state.continued, False
    return found


# -- the connection: the key typed into the sidebar, and what the server needs -------------------
# Its widget keys, KEY_INPUT and BASE_URL_INPUT, are with the settings' (above).


@dataclass
class ConnectionState:
    """The typed key and what was learnt about the server.

    The key, and everything built with it, lives in this object only: out of its repr
    too, so that no log line or error page can show it.
    """

    typed_key: str | None = field(default=None, repr=False)
    # Things that carry the typed key (its client, what it listed), for this session only.
    private_cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    # What each model turned out to reject. Compare's workers add to it from their
    # threads (one dict item each), so the chat and later cells go right the first time.
    quirks: dict[str, Quirks] = field(default_factory=dict)
    server_report: ServerReport | None = None  # the last "Check this server" result
    # The sampling check's last report per (base URL, model): ``chatlab.provider.report_key``.
    sampling_reports: dict[tuple[str, str], SamplingReport] = field(default_factory=dict)
    max_tokens_limit: int = 0  # the max-tokens slider's range when last drawn


def connection() -> ConnectionState:
    """This session's connection."""
    return _held(ConnectionState)


def capture_typed_key() -> None:
    """Key-input callback: keep the key in this session only and clear the field,
    so the key is never sent back to the page."""
    typed = str(st.session_state.get(KEY_INPUT) or "").strip()
    if typed:
        connection().typed_key = typed
    st.session_state[KEY_INPUT] = ""


def forget_typed_key() -> None:
    current = connection()
    current.typed_key = None
    current.private_cache = {}


def has_typed_key() -> bool:
    """Whether a key was typed (callers learn that much; only ``sidebar_values`` reads it)."""
    return bool(connection().typed_key)


def sidebar_values() -> dict[str, object]:
    """What the sidebar contributes to the endpoint (highest precedence)."""
    return {
        "OPENAI_API_KEY": connection().typed_key,
        "OPENAI_BASE_URL": st.session_state[BASE_URL_INPUT],
    }


def secrets() -> Mapping[str, object]:
    """Our names from ``st.secrets``; a missing or broken secrets.toml counts as empty."""
    try:
        return {name: st.secrets[name] for name in SECRET_NAMES if name in st.secrets}
    except Exception:  # no secrets.toml, or one that does not parse
        return {}


# -- the page: who, where, and what to tell them -------------------------------------------------


@dataclass
class PageState:
    """Who is signed in, where conversations live, and the notices for the next run."""

    owner: str = ""
    store: Store | None = None
    # This browser session's own id: the visitor whose rate is counted when sign-in is off.
    visitor: str = field(default_factory=new_id)
    page_runs: int = 0  # full runs of any page so far (a stopped run may be a rerun)
    # Messages for the user from anything that failed quietly (a save, a load), shown once.
    # A plain list that code on other threads (a sweep's saves) appends to: it must not
    # touch session state, and ``take_notices`` loses nothing appended meanwhile.
    notices: list[str] = field(default_factory=list)


def page() -> PageState:
    """This session's page context."""
    return _held(PageState)


def set_page_context(owner: str, store: Store | None) -> None:
    """Who is signed in and where conversations live (set before every page runs)."""
    current = page()
    current.owner, current.store = owner, store
    current.page_runs += 1


def take_notices() -> list[str]:
    """One-off messages for the user (e.g. from a storage failure); clears them."""
    notices = page().notices
    count = len(notices)  # what another thread appends from here on waits for the next run
    found = notices[:count]
    del notices[:count]
    return found


def add_notice(text: str) -> None:
    page().notices.append(text)


# -- saving behind the page (chatlab.storage.outbox) ----------------------------------------------


@dataclass
class SavingState:
    """What this session has not stored yet, and a link it could not open yet."""

    outbox: Outbox = field(default_factory=Outbox)
    # A ``?c=`` id that could not be opened because the store failed: kept in the URL and
    # tried again on every run until it opens (or turns out not to exist).
    waiting_url: str | None = None
    # Why the store could not be opened on this run (None once it is open): the saving
    # note says it, and the messages wait in the outbox meanwhile.
    unopened: StorageError | None = None


def saving() -> SavingState:
    """This session's saving state."""
    return _held(SavingState)
