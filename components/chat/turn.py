"""One turn: plan it, then stream the reply under the history, saving it as it grows.

The decisions are ``chatlab.chat.turns``'s; this draws, streams and saves. Nothing is lost:
the user's message is stored before the request is sent, the reply is saved every
second, and a ``finally`` records how it ended — an error, the Stop button (Streamlit
raises ``StopException`` at the next element update) or a newer run all leave the
partial reply in the conversation, marked. One writer per reply: a newer run that wants
a turn (a second click on Continue) first closes the reply in flight and waits until
its run has saved it, so two runs never race on one message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatlab.attachments import Prompt
from chatlab.chat import Plan, progress_line, turns, whole_words
from chatlab.config import Endpoint
from chatlab.deadline import Watch
from chatlab.errors import ChatError
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.provider import BackgroundReply, Quirks, ReplyStream, prefix_fields, start_reply
from chatlab.structured import schema_problem
from components import conversations, model_client, session, spending
from components.chat import branches
from components.chat.history import render_footer, render_message, render_thinking
from components.chat.reply import draw_stream
from components.chat.tool_calls import render_tool_calls
from components.response_format import json_check, render_json_reply

SAVE_EVERY = 1.0  # seconds: a killed process loses at most this much of a reply
SUPERSEDE_WAIT = 5.0  # seconds a newer run waits for the reply in flight to be saved
HEAD_START = 0.05  # seconds the page waits for the request to be out before drawing on
PACE_EVERY = 0.5  # seconds between two workings-out of the line under a streaming reply


def take_turn(prompt: Prompt | None, endpoint: Endpoint) -> Plan | None:
    """Plan what the user asked for, store their message and send the request.

    It runs before anything else is drawn, so the page draws itself while the server
    thinks; ``stream`` then draws the reply. None when nothing was asked.
    """
    _settle_abandoned()
    action = session.take_action()
    if prompt is None and action is None:
        return None
    _supersede()
    current = session.chat()
    conversation, settings = current.conversation, session.chat_settings()
    problem = schema_problem(settings.response_format)
    if problem is not None:  # refused before anything is sent (a typed message: read_prompt)
        session.add_notice(f"{problem.message} Nothing was sent.")
        return None
    if prompt is not None:
        plan = turns.plan_send(conversation, prompt.text, settings, prompt.attachments)
    elif action is None:
        plan = None
    elif action.kind == "continue":
        plan = turns.plan_continue(conversation, settings)
    elif action.kind == "trim_and_retry":
        plan = turns.plan_trim_and_retry(conversation, settings)
    elif action.kind == "regenerate" and action.message_id:
        plan = turns.plan_regenerate(conversation, action.message_id, settings)
    elif action.kind == "fork" and action.message_id:
        plan = turns.plan_fork(conversation, action.message_id, action.text, settings)
    elif action.kind == "tool_results" and action.message_id:
        plan = turns.plan_tool_results(conversation, action.message_id, action.results, settings)
    elif action.kind == "edit" and action.message_id:
        plan = turns.plan_edit(conversation, action.message_id, action.text, settings)
    else:
        plan = turns.plan_retry(conversation, settings)
    if plan is None:
        return None
    turns.begin(conversation, plan)
    keeper = conversations.keeper()
    current.error = None
    started = current.in_flight = _send(endpoint, plan, keeper) if endpoint.usable else None
    if started is not None:
        # Saving or drawing now would hold the GIL while the worker builds and sends the
        # request (a thread waits up to 5 ms for it): let the request out first; servers
        # answer with their headers at once.
        started.worker.wait_answered(HEAD_START)
    if plan.answered is not None:
        keeper.save(plan.answered)  # the results the user gave, before the reply to them
    if plan.user is not None:
        # Stored while the server thinks, before anything (its failure included) can be
        # shown, and before any Streamlit call that a Stop could interrupt.
        keeper.save(plan.user)
    return plan


def _send(endpoint: Endpoint, plan: Plan, keeper: session.Keeper) -> session.Started:
    """Send the request on a worker thread; its reply waits there to be drawn."""
    settings = plan.settings
    client, known = model_client.client(endpoint), session.connection().quirks.get(settings.model)
    learnt: list[Quirks] = []
    # A fork's prefix is continued on some servers only when the body says so (vLLM).
    extra = prefix_fields(model_client.server_family(endpoint)) if plan.continues_prefix else {}
    extra = {**extra, **session.tool_set().request_fields()}  # tools, when any are defined

    def start(watch: Watch) -> ReplyStream:
        opened, quirks = start_reply(
            client, settings, plan.request, quirks=known, watch=watch, extra_body=extra
        )
        learnt.append(quirks)
        plan.reply.request = opened.request  # saved with the reply, shown under it
        return opened

    admit = spending.admit(session.page().owner)  # over the rate: an error, nothing sent
    return session.Started(plan, BackgroundReply(start, admit=admit), keeper, learnt)


def _supersede() -> None:
    """Close the reply still streaming in an older run and wait until it is saved."""
    current = session.chat()
    if current.in_flight is not None:
        current.in_flight.worker.close()
    _settle_abandoned()
    if current.turn_lock.acquire(timeout=SUPERSEDE_WAIT):
        current.turn_lock.release()


def _settle_abandoned() -> None:
    """A reply whose run ended before it began drawing (Stop, or a newer run, came in
    that moment): hang up and keep what arrived, as a stopped reply would be kept."""
    current, connection = session.chat(), session.connection()
    started = current.in_flight
    if started is None or not started.worker.claim():
        return  # none, or its page is drawing it (and will settle it)
    _settle(started, failed=False)
    current.in_flight = None
    _learn(connection, started)


def _learn(connection: session.ConnectionState, started: session.Started) -> None:
    """Keep what the server turned out to need (a plain object: safe after Stop)."""
    if started.learnt:
        connection.quirks[started.plan.settings.model] = started.learnt[0]


def stream(plan: Plan, saving: conversations.NotePlace | None = None) -> None:
    """Draw the reply to ``plan`` as it streams, saving it as it grows and settling it
    however it ends (and saying in ``saving`` if saving pauses meanwhile)."""
    # Both held now: after Stop, the ``finally`` below cannot reach session state.
    current, connection = session.chat(), session.connection()
    started = current.in_flight
    if started is None or started.plan is not plan:
        return  # nothing was sent (no usable endpoint)
    keeper = started.keeper
    slot = st.empty()  # emptied again if the reply ends with nothing to show
    with current.turn_lock, slot.container(), st.chat_message("assistant"):
        if not started.worker.claim():
            return  # a newer run settled it already
        thinking = Thinking(st.container())
        text = st.empty()  # the streamed text; a JSON reply's indented form replaces it
        failed = False
        try:
            deltas = _saving(started.worker, plan, keeper, thinking, saving)
            with text.container():
                draw_stream(deltas, plan.prefix, _progress(started.worker))
        except ChatError as err:
            failed, current.error = True, err
        finally:
            kept = _settle(started, failed=failed)
            current.in_flight = None
            _learn(connection, started)
        if kept:
            thinking.done(plan.reply.reasoning)
            render_tool_calls(plan.reply)
            checked = json_check(plan.reply)  # the JSON asked for, indented and checked
            if checked is not None:
                with text.container():
                    render_json_reply(plan.reply, checked)
            render_footer(plan.reply)
            branches.render_message_tools(keeper.conversation, plan.reply)
    if not kept:
        _show_instead(slot, keeper.conversation.leaf)


def _progress(worker: BackgroundReply) -> Callable[[], str]:
    """The line under the streaming reply: seconds waited for the first token (the
    silence deltas redraw it), then the pace; worked out at most every ``PACE_EVERY`` s
    (the token estimate reads the whole text)."""
    began = time.monotonic()
    said: list[tuple[float, str]] = []

    def line() -> str:
        now = time.monotonic()
        if said and now - said[0][0] < PACE_EVERY:
            return said[0][1]
        opened = worker.stream
        answered = opened is not None and opened.first_token_at is not None
        pace = opened.stats().tokens_per_second if opened is not None and answered else None
        said[:] = [(now, progress_line(now - began, answered=answered, tokens_per_second=pace))]
        return said[0][1]

    return line


class Thinking:
    """The model's thinking above the answer: its latest whole words while it streams
    (redrawn a few times a second), then one collapsed block.

    Its place is an empty container, filled only if thinking arrives: an ``st.empty``
    left empty under every reply would be marked stale by each settings-panel rerun.
    """

    EVERY = 0.25  # seconds between redraws
    TAIL = 300  # characters shown while it streams

    def __init__(self, place: DeltaGenerator) -> None:
        self.place = place
        self.slot: DeltaGenerator | None = None
        self.shown, self.drawn_at = 0, 0.0

    def show(self, reasoning: str) -> None:
        if len(reasoning) == self.shown or time.monotonic() - self.drawn_at < self.EVERY:
            return
        self.shown, self.drawn_at = len(reasoning), time.monotonic()
        tail = whole_words(reasoning, self.TAIL)  # a cut word would read as another word
        self.slot = self.slot or self.place.empty()
        self.slot.caption(f"Thinking… {plain(tail)}")

    def done(self, reasoning: str) -> None:
        if not reasoning:
            if self.slot is not None:
                self.slot.empty()
            return
        self.slot = self.slot or self.place.empty()
        with self.slot.container():
            render_thinking(reasoning)


def _show_instead(slot: DeltaGenerator, leaf: ChatMessage | None) -> None:
    """A retry that brought nothing: the reply it was to replace is shown again."""
    if leaf is None or leaf.role != "assistant":
        slot.empty()
        return
    with slot.container():
        render_message(
            leaf,
            lambda message: branches.render_message_tools(session.chat().conversation, message),
        )


def _saving(
    worker: BackgroundReply,
    plan: Plan,
    keeper: session.Keeper,
    thinking: Thinking,
    note: conversations.NotePlace | None,
) -> Iterator[str]:
    """Pass the deltas on, showing the thinking as it grows and saving the partial reply
    every ``SAVE_EVERY`` seconds (thinking included: it was billed too); a pause in saving
    shows in ``note`` as it happens, not at the next run."""
    outbox = session.saving().outbox
    paused = outbox.outage is not None
    saved_at, saved_size = time.monotonic(), 0
    for delta in worker.deltas():
        yield delta
        opened = worker.stream
        if opened is None:
            continue
        thinking.show(opened.reasoning)
        size = len(opened.text) + len(opened.reasoning) + opened.tool_characters
        if size > saved_size and time.monotonic() - saved_at >= SAVE_EVERY:
            plan.reply.content = plan.prefix + opened.text
            plan.reply.tool_calls = opened.tool_calls or plan.reply.tool_calls
            plan.reply.reasoning = turns.joined_reasoning(plan, opened.reasoning)
            keeper.save(plan.reply)
            saved_at, saved_size = time.monotonic(), size
            if note is not None and (outbox.outage is not None) != paused:
                conversations.saving_note(note, outbox)
                paused = not paused


def _settle(started: session.Started, *, failed: bool) -> bool:
    """Record what arrived and how it ended, and save it; False if nothing arrived.

    Runs on Stop too, when Streamlit refuses ``st`` calls and session-state access:
    so it touches only plain objects and the store.
    """
    worker, plan, keeper = started.worker, started.plan, started.keeper
    worker.close()
    outcome = worker.outcome()
    kept = turns.settle(
        keeper.conversation,
        plan,
        outcome.text,
        finish_reason=None if failed else outcome.finish_reason,
        failed=failed,
        stats=outcome.stats,
        notices=outcome.notices,
        reasoning=outcome.reasoning,
        tool_calls=outcome.tool_calls,
    )
    # Continue: the earlier part's tokens come first.
    plan.reply.token_logprobs = (*plan.reply.token_logprobs, *outcome.token_logprobs)
    if kept:
        keeper.save(plan.reply)  # its request leaves the session once stored (outbox)
    return kept
