"""Compare runs: starting one, the stored ones to reopen, and a result taken into the chat.

Nothing here waits for the database on the run that draws the page: a run is stored by
its ``RunSaver`` (behind the page, retried until the store answers, told once), and a
result taken into the chat is kept by the session's outbox like any chat turn.
"""

from __future__ import annotations

import weakref
from datetime import UTC

import streamlit as st

from chatlab.compare import (
    SAVE_BACKOFF,
    RunSaver,
    Sweep,
    assertion_data,
    evaluator,
    reply_judge,
)
from chatlab.config import Endpoint
from chatlab.conversation import Conversation
from chatlab.deadline import Watch
from chatlab.grid import Cell, Result, Run, State, new_run
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, ChatSettings, Status, finish_status
from chatlab.provider import Quirks, ReplyStream, capacity_reason, fitting_concurrency, start_reply
from chatlab.storage import RunSummary, StorageError, Store
from chatlab.tokens import estimate_prompt_tokens
from components import conversations, model_client, session, spending
from components.compare import estimate_line
from components.compare.form import SweepRequest

LISTED = 20
FIRST_SAVE_WAIT = 1.0  # seconds Run waits for the new run's first save, at most
# The saver of each run still sweeping or saving (process-wide, by run id; no session state).
_savers: weakref.WeakValueDictionary[str, RunSaver] = weakref.WeakValueDictionary()
RESULT_STATUS = {State.FAILED: Status.FAILED, State.STOPPED: Status.STOPPED}


def start(endpoint: Endpoint, request: SweepRequest, store: Store | None, owner: str) -> None:
    """Store the new run and start its sweep; it becomes the page's run."""
    client = model_client.client(endpoint)
    learnt: dict[str, Quirks] = session.connection().quirks  # what each model rejects, shared
    messages = request.messages

    def send(settings: ChatSettings, sent: list[dict[str, str]], watch: Watch) -> ReplyStream:
        stream, quirks = start_reply(
            client, settings, sent, quirks=learnt.get(settings.model), watch=watch
        )
        learnt[settings.model] = quirks  # later cells of this model go right the first time
        return stream

    def start_cell(cell: Cell, watch: Watch) -> ReplyStream:
        return send(cell.settings, list(cell.messages or messages), watch)

    # An evaluation's cells send their variant filled from their row (request.compose).
    asserts = [assertion_data(assertion) for assertion in request.asserts]
    planned = new_run(
        request.grid, request.prompt, messages, compose=request.compose, asserts=asserts
    )
    run = spending.checked_run(
        endpoint,
        planned,
        judges=request.judges,
        speeds=estimate_line.measured_speeds(),
        concurrency=request.concurrency,
    )
    if run is None:
        return  # refused, and said why
    save = saver(store, owner, session.page().notices, run.id)
    admit = spending.admit(owner, pace=True)
    bound, why = sized(endpoint, run, request.concurrency)
    judge = reply_judge(send, admit=admit)
    evaluate = evaluator(request.asserts, run.grid, judge) if request.asserts else None

    def begin() -> Sweep:
        save(run)
        return Sweep(
            run,
            start_cell,
            concurrency=bound,
            on_change=save,
            admit=admit,
            sizing=why,
            evaluate=evaluate,
        )

    sweep = spending.sweep_slot().start(begin)
    if sweep is None:
        st.warning("A run is in progress: stop it, or wait for it to end, to start another.")
        return
    session.compare().run = sweep
    save.wait(FIRST_SAVE_WAIT)  # so the stored runs list it at once, when the store answers


def sized(endpoint: Endpoint, run: Run, wanted: int) -> tuple[int, str | None]:
    """The requests to run at once so that they fit the server, and why when fewer."""
    found = model_client.capacity(endpoint)
    largest = max(result.cell.settings.max_tokens for result in run.results)
    prompt = max(estimate_prompt_tokens(r.cell.messages or run.messages) for r in run.results)
    bound = fitting_concurrency(wanted, found, prompt, largest)
    if found is None or bound >= wanted:
        return bound, None
    return bound, capacity_reason(found, bound, prompt, largest)


def saver(store: Store | None, owner: str, notices: list[str], run_id: str) -> RunSaver:
    """The saver of one run (see ``RunSaver``), found by the run's id while it lives: its
    sweep's, or a rating's later, share one, so copies are written in order (Delete stops
    it, so that no late copy brings the deleted run back)."""
    found = _savers.get(run_id)
    if found is not None:
        return found
    made = RunSaver(store, owner, notices, SAVE_BACKOFF)
    _savers[run_id] = made
    return made


def render_stored(store: Store | None, owner: str) -> None:
    """The owner's stored runs, newest first: open one, or delete the one shown."""
    if store is None:
        unopened = session.saving().unopened
        st.caption(f"Runs are not being saved. {plain(str(unopened)) if unopened else ''}")
        return
    try:
        listed = store.list_runs(owner, limit=LISTED)
    except StorageError as err:
        st.caption(plain(str(err)))
        return
    if not listed:
        st.caption("No runs yet.")
    for summary in listed:
        when = summary.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        st.button(
            f"{plain(summary.title)} · {summary.requests} requests{_outcome(summary)} · {when}",
            key=f"compare_open_{summary.id}",
            on_click=_open,
            args=(store, owner, summary.id),
            width="stretch",
        )


def _outcome(summary: RunSummary) -> str:
    """`` · 3 failed · stopped`` for a run that did not simply complete, else nothing."""
    said = f" · {summary.failed} failed" if summary.failed else ""
    said += " · stopped" if summary.stopped else ""
    return said + (" · unfinished" if summary.unfinished and not summary.stopped else "")


def _open(store: Store, owner: str, run_id: str) -> None:
    try:
        found = store.load_run(owner, run_id)
    except StorageError as err:
        session.add_notice(str(err))
        return
    if found is None:
        session.add_notice("That run is gone, or it cannot be read.")
        return
    session.compare().run = found


def delete(store: Store | None, owner: str, run: Run) -> None:
    """Delete the shown run (its sweep is stopped first) and show none."""
    current = session.compare().run
    if isinstance(current, Sweep):
        current.stop()
        current.wait(5.0)
    if (saving := _savers.get(run.id)) is not None:
        saving.cancel(5.0)  # its last save must not bring the row back
    if store is not None:
        try:
            store.delete_run(owner, run.id)
        except StorageError as err:
            session.add_notice(str(err))
            return
    session.compare().run = None


def render_take_to_chat(run: Run) -> bool:
    """Choose a result and open it in the chat; True once it is open (switch page then)."""
    with_text = [result for result in run.results if result.text]
    if not with_text:
        return False
    labels = [f"{r.cell.setting} · sample {r.cell.sample}" for r in with_text]
    st.selectbox(
        "Continue a result in the chat",
        range(len(with_text)),
        format_func=labels.__getitem__,  # options are drawn as plain text
        key=session.COMPARE_TAKE,
        help="A new conversation: the prompt and this reply as its first exchange.",
    )
    return st.button(
        "Open in chat",
        icon=":material/chat:",
        key="compare_take_button",
        # A callback: opening a conversation sets the sidebar's widgets to its settings,
        # which Streamlit allows only before they are drawn.
        on_click=_take_chosen,
        args=(run, with_text),
    )


def _take_chosen(run: Run, with_text: list[Result]) -> None:
    chosen = session.widget_value(session.COMPARE_TAKE)
    index = chosen if isinstance(chosen, int) and 0 <= chosen < len(with_text) else 0
    take_to_chat(run, with_text[index])


def take_to_chat(run: Run, result: Result) -> None:
    """A new conversation: the prompt and this result as its first exchange, then open it.

    Saved like a chat turn, behind the page (``conversations.keeper``): a locked or
    unreachable database neither holds up the click nor leaves the conversation with
    messages the store lacks; they wait in the session's outbox and are written in order.
    """
    settings = result.cell.settings
    question = ChatMessage("user", run.prompt)
    reply = ChatMessage(
        "assistant",
        result.text,
        RESULT_STATUS.get(result.state, _finish_status(result)),
        parent_id=question.id,
        settings=settings,
        stats=result.stats,
        request=result.request,
    )
    session.open_conversation(Conversation.of([question, reply]))
    keeper = conversations.keeper()  # for the conversation just opened
    keeper.save(question)
    keeper.save(reply)


def _finish_status(result: Result) -> Status:
    return finish_status(result.stats.finish_reason if result.stats is not None else None)
