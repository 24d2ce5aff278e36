"""One turn: the user's message drawn at once, then the reply streamed under it.

Nothing is lost: the reply joins the conversation before the request is sent and its
text is copied back in a ``finally``, so an error, the Stop button (Streamlit raises
``StopException`` at the next element update) or a rerun all leave the partial reply
in the history, marked with how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from chatlab.client import start_reply
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.messages import (
    ChatMessage,
    ChatSettings,
    Status,
    api_messages,
    drop_oldest_turns,
    is_blank,
)
from chatlab.stream import ReplyStream
from components import model_client, session
from components.conversations import Keeper
from components.history import render_footer
from components.reply import draw_stream

CONTINUE_PROMPT = (
    "Continue exactly where your last message stopped. Do not repeat anything, "
    "do not add a preamble."
)
SAVE_EVERY = 1.0  # seconds: a killed process loses at most this much of a reply
FINISH_STATUS = {"length": Status.LENGTH, "content_filter": Status.CONTENT_FILTER}


@dataclass
class Turn:
    """A reply about to be streamed; ``continuing`` appends to text it already has."""

    reply: ChatMessage
    continuing: bool = False


def begin(prompt: str | None, action: session.Action | None, keeper: Keeper) -> Turn | None:
    """Update the history for what the user asked, before it is drawn."""
    history = session.messages()
    if prompt is not None and not is_blank(prompt):
        parent = history[-1].id if history else None
        history.append(ChatMessage(role="user", content=prompt, parent_id=parent))
        keeper.save(history[-1])  # the user's words are stored before anything can fail
    elif action == "continue" and history and history[-1].role == "assistant":
        return Turn(history.pop(), continuing=True)
    elif action in ("retry", "trim_and_retry") and history:
        if history[-1].role == "assistant":
            keeper.forget(history.pop())  # a failed or stopped partial gives way to the new reply
        if action == "trim_and_retry":
            # Only the working copy (and so the request) loses the oldest turns; the
            # stored conversation keeps them.
            history[:] = drop_oldest_turns(history)
    else:
        return None
    if not history or history[-1].role != "user":
        return None
    return Turn(ChatMessage("assistant", "", Status.STREAMING, parent_id=history[-1].id))


def run(endpoint: Endpoint, settings: ChatSettings, planned: Turn, keeper: Keeper) -> None:
    """Stream the planned reply under the history, saving it as it grows."""
    _reply(endpoint, settings, planned, keeper)


def _reply(endpoint: Endpoint, settings: ChatSettings, planned: Turn, keeper: Keeper) -> None:
    reply, continuing = planned.reply, planned.continuing
    history = session.messages()
    request = api_messages(settings.system_prompt, history + ([reply] if continuing else []))
    if continuing:
        request.append({"role": "user", "content": CONTINUE_PROMPT})
    prefix = reply.content
    history.append(reply)
    reply.status, reply.settings = Status.STREAMING, settings
    session.set_error(None)
    stream: ReplyStream | None = None
    slot = st.empty()  # emptied again if the reply ends with nothing to show
    with slot.container(), st.chat_message("assistant"):
        try:
            with st.spinner("Waiting for the first token…"):
                stream, learnt = start_reply(
                    model_client.client(endpoint),
                    settings,
                    request,
                    quirks=session.quirks(settings.model),
                )
            session.remember_quirks(settings.model, learnt)
            draw_stream(_saving(stream, reply, prefix, keeper), prefix)
            reply.status = FINISH_STATUS.get(stream.finish_reason or "", Status.COMPLETE)
        except ChatError as err:
            reply.status = Status.FAILED
            session.set_error(err)
        finally:
            _settle(history, reply, prefix, stream, keeper)
        if reply.content:
            render_footer(reply)
    if not reply.content:
        slot.empty()


def _saving(stream: ReplyStream, reply: ChatMessage, prefix: str, keeper: Keeper) -> Iterator[str]:
    """Pass the deltas on, saving the partial reply every ``SAVE_EVERY`` seconds."""
    saved_at = time.monotonic()
    for delta in stream:
        yield delta
        if time.monotonic() - saved_at >= SAVE_EVERY:
            reply.content = prefix + stream.text
            keeper.save(reply)
            saved_at = time.monotonic()


def _settle(
    history: list[ChatMessage],
    reply: ChatMessage,
    prefix: str,
    stream: ReplyStream | None,
    keeper: Keeper,
) -> None:
    """Copy what arrived into the message and save it; a reply cut short says so.

    Runs on Stop too, when Streamlit refuses ``st`` calls and session-state access:
    so it touches only plain objects and the store.
    """
    if stream is not None:
        stream.close()
        reply.content = prefix + stream.text
        reply.stats = stream.stats()
        reply.notices = stream.notices
    if reply.status == Status.STREAMING:
        reply.status = Status.STOPPED
    if reply.content:
        keeper.save(reply)
        return
    if history and history[-1] is reply:
        history.pop()
    keeper.forget(reply)
