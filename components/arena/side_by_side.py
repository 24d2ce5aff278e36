"""The side-by-side page's pieces: the columns set up, a session streamed into them, the
vote, "Continue with this one", and the sessions stored, reopened, exported, imported.

Design:

- **Columns.** Each column is a model with its own temperature and max tokens; every
  other setting (system prompt, top_p, seed, ...) is the chat's, as the chat's sidebar
  left it, so one session compares what its columns set and nothing else. A session's
  columns are fixed once it starts (their histories would not mean anything otherwise):
  "New side by side" sets up others.
- **Streaming.** ``chatlab.arena.LiveSession`` streams every column on its own thread; the
  page redraws the last answer of a column whose text moved, every ``POLL`` s, from the
  script thread, until no column is answering, then runs once more to draw the settled
  page (buttons, vote). A button press (Stop, Retry) is a callback, so it acts before the
  page is drawn again; Streamlit ends the drawing loop at its next update.
- **Blind.** Until the vote, a blind session shows "Model A" and "Model B" only: no
  model name, no telemetry (its speed or price could give a model away), no request.
- **Saving** happens off the page: the session is handed to ``_saver`` after each change,
  on the thread that made it (a column's answer settles on its own thread), so a tab
  closed mid-turn still stores its answers. A store that fails is said once, and every
  later change writes the whole session again (a document replaced by id), so nothing
  is lost once the database is back; the session can be downloaded meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st

from chatlab import config
from chatlab.arena import (
    LETTERS,
    MAX_COLUMNS,
    MAX_NAME,
    MAX_TAGS,
    MIN_COLUMNS,
    Answer,
    Column,
    LiveSession,
    SessionError,
    SideBySide,
    Verdict,
    conversation_messages,
    new_session,
    session_from,
    session_json,
    vote_of,
)
from chatlab.config import Endpoint
from chatlab.conversation import Conversation
from chatlab.deadline import Watch
from chatlab.errors import ChatError, ChatLabError
from chatlab.markdown import plain
from chatlab.messages import ChatSettings, Status, new_id
from chatlab.model_names import display_name
from chatlab.params import Param, declared, max_tokens_limit
from chatlab.provider import Quirks, ReplyStream, start_reply
from chatlab.storage import Store
from chatlab.url_policy import UrlPolicy, url_problem
from components import base_url, conversations, model_client, session, spending, voting
from components.reply_text import render_text, telemetry_line

__all__ = [
    "render_columns",
    "render_sessions",
    "render_setup",
    "render_vote",
    "send",
    "start",
]

POLL = 0.1  # seconds between redraws while columns stream
MAX_IMPORT_BYTES = 20 * 1024 * 1024
VERDICTS = {
    Verdict.A: "A is better",
    Verdict.B: "B is better",
    Verdict.TIE: "Tie",
    Verdict.BOTH_BAD: "Both are bad",
}
STATUS_NOTES = {
    Status.STOPPED: "Stopped: what arrived is kept.",
    Status.LENGTH: "Cut off by max tokens.",
    Status.CONTENT_FILTER: "Ended by the server's content filter.",
}


# -- setting up the columns ---------------------------------------------------------------


def render_setup(endpoint: Endpoint, store: Store | None, owner: str) -> None:
    """The columns to start a session with: each a model, a temperature, max tokens."""
    st.markdown("**Set up the columns**")
    count = st.segmented_control(
        "Columns", list(range(MIN_COLUMNS, MAX_COLUMNS + 1)), default=2, key=session.ARENA_COLUMNS
    )
    count = count if isinstance(count, int) else MIN_COLUMNS
    blind = st.toggle(
        "Blind: hide which model is which until I vote",
        key=session.ARENA_BLIND,
        disabled=count != 2,
        help="Two columns, shown as A and B in a random order; the vote reveals them.",
    )
    base = session.chat_settings()
    policy = base_url.url_policy()
    columns = [
        _column_inputs(endpoint, index, base, blind and count == 2, policy)
        for index in range(count)
    ]
    st.caption(
        "Every other setting (system prompt, top_p, seed, ...) is the chat's, as its sidebar "
        "has it. Each column keeps its own history: turn 2 sends A its own reply, B its own."
    )
    if st.button("Start", type="primary", icon=":material/view_column:", key="arena_start"):
        made = new_session(
            [settings for settings, _ in columns],
            blind=blind and count == 2,
            base_urls=[url for _, url in columns],
        )
        start(endpoint, store, owner, made)
        st.rerun()


def _column_inputs(
    endpoint: Endpoint, index: int, base: ChatSettings, blind: bool, policy: UrlPolicy
) -> tuple[ChatSettings, str]:
    """A column's server (when visitors may choose one), model, temperature, max tokens."""
    with st.container(border=True):
        st.markdown(f"**Column {index + 1}**")
        typed = _server_input(index, policy)
        server = column_endpoint(endpoint, typed, index)
        listed = model_client.models(server)
        models = listed if isinstance(listed, list) and listed else []
        if isinstance(listed, ChatError) and typed:
            st.caption(f"Could not list this server's models: {plain(listed.message)}")
        model = _model_input(index, base, models, typed)
        temperature_param = _param("temperature")
        # A number box, not a slider: a main-area slider's value is drawn in the theme's
        # primary colour, too faint on the dark theme's background (axe: colour contrast).
        temperature = st.number_input(
            "Temperature",
            min_value=float(temperature_param.low or 0.0),
            max_value=float(temperature_param.high or 2.0),
            value=base.temperature,
            step=float(temperature_param.step or 0.1),
            format="%.2f",
            key=session.arena_column_key("temperature", index),
        )
        limit = max_tokens_limit(model, model_client.window(server, model))
        max_tokens = st.number_input(
            "Max tokens",
            min_value=1,
            max_value=limit,
            value=min(base.max_tokens, limit),
            key=session.arena_column_key("max_tokens", index),
        )
        if blind:
            st.caption("Shown as A or B, at random, until you vote.")
    settings = replace(base, model=model, temperature=temperature, max_tokens=int(max_tokens))
    return settings, typed


def _server_input(index: int, policy: UrlPolicy) -> str:
    """A Base URL for this column alone (blank: the page's connection), and its key."""
    if not policy.allow_custom:
        return ""
    typed = st.text_input(
        "Server (Base URL)",
        key=session.arena_column_key("base_url", index),
        placeholder="blank: this page's connection",
        help="Another OpenAI-compatible server for this column, e.g. a local llama.cpp at "
        "http://127.0.0.1:8080/v1. It gets only the key typed below, never the app's own.",
    ).strip()
    if typed:
        problem = url_problem(typed)
        if problem is not None:
            st.caption(f":red[{plain(problem)}]")
            return ""
        st.text_input(
            "API key for this server",
            key=session.arena_column_key("api_key", index),
            type="password",
            help="Only if the server asks for one. Kept in this browser session alone.",
        )
    return typed


def _model_input(index: int, base: ChatSettings, models: list[str], server: str) -> str:
    # A picker per server: another server's list is another picker (a choice from the
    # last server's list would not be among this one's).
    model_key = session.arena_column_key("model", index)
    if server:
        model_key += "_" + hashlib.sha256(server.encode()).hexdigest()[:12]
    if not models:
        typed = st.text_input("Model", value=base.model, key=model_key)
        return typed.strip() or base.model
    # The chat's model first, then the server's others: two columns, two models.
    candidates = [base.model, *(m for m in models if m != base.model)]
    default = candidates[index % len(candidates)]
    options = models if default in models else [default, *models]
    chosen = st.selectbox(
        "Model",
        options,
        index=options.index(default),
        key=model_key,
        accept_new_options=True,
        format_func=display_name,  # options are drawn as plain text
    )
    return (chosen or base.model).strip() or base.model


def column_endpoint(page: Endpoint, typed_url: str, index: int | None) -> Endpoint:
    """The endpoint a column is asked on: the page's, or its own typed server with only
    the key typed for it (``chatlab.config.resolve_endpoint``'s rule: the app's own key
    never goes to a host a visitor chose), under the typed-URL policy."""
    if not typed_url:
        return page
    key = (
        session.widget_value(session.arena_column_key("api_key", index))
        if index is not None
        else None
    )
    typed = {"OPENAI_BASE_URL": typed_url, "OPENAI_API_KEY": str(key or "").strip() or None}
    return config.resolve_endpoint(typed, {}, {}, policy=base_url.url_policy())


def _param(name: str) -> Param:
    return next(found.param for found in declared() if found.name == name)


def start(
    endpoint: Endpoint,
    store: Store | None,
    owner: str,
    made: SideBySide,
    *,
    save_now: bool = False,
) -> LiveSession:
    """Make ``made`` the page's session: its columns answer through this endpoint
    (``save_now``: store it at once, as an import is; others are stored as they change)."""
    clients = {
        column.base_url: model_client.client(column_endpoint(endpoint, column.base_url, index))
        for index, column in enumerate(made.columns)
    }
    learnt: dict[str, Quirks] = session.connection().quirks  # what each model rejects

    def send_column(column: Column, sent: list[dict[str, str]], watch: Watch) -> ReplyStream:
        settings = column.settings
        stream, quirks = start_reply(
            clients[column.base_url], settings, sent, quirks=learnt.get(settings.model), watch=watch
        )
        learnt[settings.model] = quirks
        return stream

    save = _saver(store, owner, session.page().notices)
    live = LiveSession(made, send_column, admit=spending.admit(owner), on_change=save)
    if save_now:
        save(made)
    state = session.arena()
    if state.live is not None:
        state.live.stop()  # the session left behind stops answering; it is stored as is
    state.live = live
    return live


def _saver(store: Store | None, owner: str, notices: list[str]) -> Callable[[SideBySide], None]:
    """Stores each newest copy of the session; a failure is said once, until one works."""
    failing = [store is None]

    def save(current: SideBySide) -> None:
        if store is None:
            return
        try:
            store.save_side_by_side(
                owner,
                current.id,
                current.title,
                current.created_at,
                current.updated_at,
                session_json(current),
            )
        except ChatLabError as err:
            if not failing[0]:
                notices.append(
                    f"This side-by-side session could not be saved: {err} It is saved again "
                    "with each change; download it meanwhile to keep a copy."
                )
            failing[0] = True
            return
        failing[0] = False

    return save


# -- a turn ---------------------------------------------------------------------------------


def send(live: LiveSession, prompt: str | None) -> None:
    """Send ``prompt`` to every column (unless a column is still answering)."""
    if prompt is None or not prompt.strip():
        return
    if live.streaming():
        session.add_notice("The columns are still answering: stop them, or wait, to send.")
        return
    live.send(prompt)


def render_columns(live: LiveSession) -> bool:
    """Every column, its history and actions; streams until no column answers. True if
    "Continue with this one" opened a conversation (switch to the chat then)."""
    current = live.session
    letters = _letters(current)
    if live.streaming():
        st.button(
            "Stop all", icon=":material/stop_circle:", key="arena_stop_all", on_click=live.stop
        )
    places = st.columns(len(current.columns), gap="medium")
    tails: dict[int, st.delta_generator.DeltaGenerator] = {}
    for position, index in enumerate(current.order):
        with places[position]:
            tails[index] = _render_column(live, current, index, letters[index])
    if live.streaming():
        _stream(live, tails)
        st.rerun()  # the settled page: buttons, the vote
    return session.take_continued()


def _letters(current: SideBySide) -> dict[int, str]:
    return {index: LETTERS[position] for position, index in enumerate(current.order)}


def _render_column(
    live: LiveSession, current: SideBySide, index: int, letter: str
) -> st.delta_generator.DeltaGenerator:
    column = current.columns[index]
    st.markdown(f"**{letter}** · {_who(current, column)}")
    last = len(current.prompts) - 1
    for turn, prompt in enumerate(current.prompts):
        with st.chat_message("user"):
            render_text(prompt)
        if turn < last:
            _render_answer(current, _answer(column, turn))
    tail = st.empty()
    if last >= 0:
        with tail.container():
            _render_answer(current, _answer(column, last))
    _render_actions(live, current, index, letter)
    return tail


def _who(current: SideBySide, column: Column) -> str:
    if not current.revealed:
        return "hidden until you vote"
    settings = column.settings
    name = plain(display_name(settings.model), empty="(unnamed model)")
    return f"{name} · temperature {settings.temperature:g} · max {settings.max_tokens:,} tokens"


def _answer(column: Column, turn: int) -> Answer:
    return column.answers[turn] if turn < len(column.answers) else Answer()


def _render_answer(current: SideBySide, answer: Answer) -> None:
    with st.chat_message("assistant"):
        if answer.text:
            render_text(answer.text)
        elif answer.status == Status.STREAMING:
            st.caption("Waiting for the server…")
        if answer.status == Status.FAILED:
            st.error(plain(answer.error or "This answer failed."), icon=":material/error:")
        elif (note := STATUS_NOTES.get(answer.status)) is not None:
            st.caption(note)
        if answer.stats is not None and current.revealed and answer.finished:
            st.caption(telemetry_line(answer.stats))


def _render_actions(live: LiveSession, current: SideBySide, index: int, letter: str) -> None:
    if not current.prompts:
        return
    if live.streaming(index):
        st.button(
            f"Stop {letter}",
            icon=":material/stop_circle:",
            key=f"arena_stop_{index}",
            on_click=live.stop,
            args=(index,),
        )
        return
    failed = _answer(current.columns[index], len(current.prompts) - 1).status == Status.FAILED
    st.button(
        f"Retry {letter}" if failed else f"Regenerate {letter}",
        icon=":material/refresh:",
        key=f"arena_redo_{index}",
        on_click=live.redo,
        args=(index,),
        help="Ask this column the last prompt again; the other columns keep their answers.",
    )
    if current.revealed:
        st.button(
            "Continue with this one",
            icon=":material/chat:",
            key=f"arena_continue_{index}",
            on_click=_continue,
            args=(current, index),
            help="A new conversation in the chat: this column's turns, its settings.",
            disabled=not any(a.text for a in current.columns[index].answers),
        )


def _continue(current: SideBySide, index: int) -> None:
    """This column as a conversation of its own, saved like a chat turn, then opened."""
    messages = conversation_messages(current, index)
    if not messages:
        return
    session.open_conversation(Conversation.of(messages))
    keeper = conversations.keeper()  # for the conversation just opened
    for message in messages:
        keeper.save(message)
    session.arena().continued = True


def _stream(live: LiveSession, tails: dict[int, st.delta_generator.DeltaGenerator]) -> None:
    """Redraw each column's last answer as it grows, until no column is answering."""
    drawn: dict[int, Answer] = {}
    seen: tuple[int, ...] = ()
    while True:
        version = live.version
        if version != seen:
            seen = version
            current = live.session
            for index, tail in tails.items():
                answer = _answer(current.columns[index], len(current.prompts) - 1)
                if drawn.get(index) != answer:
                    drawn[index] = answer
                    with tail.container():
                        _render_answer(current, answer)
        if not live.streaming():
            return
        time.sleep(POLL)


# -- the vote ---------------------------------------------------------------------------------


def render_vote(live: LiveSession, store: Store | None, owner: str) -> None:
    """A vote on a two-column session once every answer is in; it reveals blind names."""
    current = live.session
    if len(current.columns) != 2 or not current.prompts:
        if len(current.columns) > 2 and current.prompts:
            st.caption("Votes compare two columns: start a two-column session to vote.")
        return
    if not current.can_vote:
        return
    if current.blind and current.verdict is None:
        st.caption("Which answered better? The models are revealed once you vote.")
    tags = _tags_input(current)
    chosen = st.segmented_control(
        "Your verdict",
        list(VERDICTS),
        format_func=VERDICTS.__getitem__,
        default=current.verdict,
        key=f"arena_verdict_{current.id}_{current.vote_id or 'none'}",
    )
    state = session.arena()
    retagged = current.verdict is not None and state.vote_tags.get(current.id) != tags
    if chosen is not None and (chosen != current.verdict or retagged):
        vote = vote_of(current, Verdict(chosen), vote_id=current.vote_id or None, tags=tags)
        if voting.cast(store, owner, vote):
            live.vote(vote.verdict, vote.id)
            state.vote_tags[current.id] = tags
        st.rerun()
    if current.verdict is not None:
        a, b = current.shown
        st.success(
            f"You voted: {VERDICTS[current.verdict]}. A was {_revealed(a)}; B was "
            f"{_revealed(b)}. Voting again replaces this vote.",
            icon=":material/how_to_vote:",
        )
        if st.button("Withdraw the vote", icon=":material/undo:", key="arena_withdraw"):
            if voting.withdraw(store, owner, current.vote_id):
                live.vote(None)
            st.rerun()


def _tags_input(current: SideBySide) -> tuple[str, ...]:
    """The vote's tags (the leaderboard filters by them): typed by commas, cleaned."""
    typed = st.text_input(
        "Tags for this vote (optional)",
        key=f"arena_tags_{current.id}",
        placeholder="e.g. coding, french",
        help="By commas. The leaderboard can rank the votes of one tag alone.",
    )
    words = (" ".join(part.split())[:MAX_NAME] for part in typed.split(","))
    return tuple(dict.fromkeys(word for word in words if word))[:MAX_TAGS]


def _revealed(column: Column) -> str:
    settings = column.settings
    name = plain(display_name(settings.model), empty="(unnamed model)")
    return f"{name} (temperature {settings.temperature:g})"


# -- the stored sessions --------------------------------------------------------------------


def render_sessions(endpoint: Endpoint, store: Store | None, owner: str) -> None:
    """The sidebar's side-by-side sessions: new, the stored ones to reopen, export, import."""
    state = session.arena()
    st.button(
        "New side by side", icon=":material/add:", key="arena_new", on_click=_new, width="stretch"
    )
    if state.live is not None:
        current = state.live.session
        st.download_button(
            "Download this session (JSON)",
            json.dumps(session_json(current), ensure_ascii=False, indent=2),
            file_name=f"side-by-side-{current.created_at:%Y%m%d-%H%M%S}.json",
            mime="application/json",
            icon=":material/download:",
            key="arena_download",
            on_click="ignore",
        )
    if state.live is not None and store is not None:
        st.button(
            "Delete this session",
            icon=":material/delete:",
            key="arena_delete",
            on_click=_delete,
            args=(store, owner),
            help="Its votes stay on the leaderboard: withdraw them there.",
        )
    upload = st.file_uploader(
        "Import a session (JSON)", type=["json"], key=session.ARENA_IMPORT, max_upload_size=20
    )
    if upload is not None:
        _import(endpoint, store, owner, upload.getvalue())
    if store is None:
        st.caption("Sessions are not stored: the database is not available.")
        return
    try:
        stored = store.list_side_by_sides(owner, limit=state.listed)
    except ChatLabError as err:
        st.caption(f"The stored sessions cannot be listed now: {plain(str(err))}")
        return
    if not stored:
        st.caption("No stored sessions yet.")
        return
    shown = state.live.id if state.live is not None else None
    for summary in stored:
        st.button(
            f"{plain(summary.title)} · {summary.updated_at:%d %b %H:%M}",  # a label is Markdown
            key=f"arena_open_{summary.id}",
            on_click=_open,
            args=(endpoint, store, owner, summary.id),
            disabled=summary.id == shown,
            width="stretch",
        )


def _delete(store: Store, owner: str) -> None:
    state = session.arena()
    if state.live is None:
        return
    state.live.stop()
    try:
        store.delete_side_by_side(owner, state.live.id)
    except ChatLabError as err:
        session.add_notice(f"The session was not deleted. {err}")
        return
    state.live = None
    session.add_notice("Session deleted.")


def _new() -> None:
    state = session.arena()
    if state.live is not None:
        state.live.stop()
    state.live = None


def _open(endpoint: Endpoint, store: Store, owner: str, session_id: str) -> None:
    try:
        document = store.load_side_by_side(owner, session_id)
        opened = session_from(document) if document is not None else None
    except (ChatLabError, SessionError) as err:
        session.add_notice(str(err))
        return
    if opened is None:
        session.add_notice("That session is gone: it was deleted elsewhere.")
        return
    start(endpoint, store, owner, opened)


def _import(endpoint: Endpoint, store: Store | None, owner: str, data: bytes) -> None:
    state = session.arena()
    marker = hash(data)
    if state.imported == marker:
        return  # the same file, still in the uploader: imported once
    state.imported = marker
    try:
        if len(data) > MAX_IMPORT_BYTES:
            raise SessionError("the file", "is larger than 20 MB")
        opened = session_from(json.loads(data))
    except SessionError as err:
        session.add_notice(str(err))
        return
    except (ValueError, RecursionError):
        session.add_notice("This file is not a side-by-side session: it is not valid JSON.")
        return
    now = datetime.now(UTC)
    start(endpoint, store, owner, replace(opened, id=new_id(), updated_at=now), save_now=True)
    session.add_notice(f"Imported: {opened.title}")
