"""The chat's live end, a fragment: the turns since the page was last drawn whole, the
reply streaming, what to do next, and the chat box.

A message sent from the box reruns this fragment alone. The history above it and the
sidebar are not sent to the browser again, so the first word of a reply waits behind a
handful of elements, however long the conversation (the browser worked through every
message on screen, and its buttons, before it drew the first token). Once a reply has
ended, the whole page is drawn again (after Stop too: ``components/after_stop.py``): the
turn joins the history and the sidebar's numbers (the context budget, the conversation
list) catch up. So when the page is idle after a reply, this fragment holds no message.

Held here instead, the turn would be drawn again before the next reply's first word (a
turn's elements and buttons cost the browser about as much as the whole page's did), and
the server would save little: a run of this fragment with two turns in it costs about what
the page's redraw does (``benchmarks/balancer.py``'s CPU row, measured both ways).

A full run (a button, a setting, a reload) plans its turn before the history is drawn,
as before, and passes it in: the page it draws is whole already, and is not drawn again.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from chatlab.chat import Plan
from chatlab.config import Endpoint
from chatlab.messages import ChatMessage
from components import after_stop, conversations, page, session
from components.chat import branches, turn
from components.chat.history import render_history
from components.chat.notices import render_continue, render_error
from components.chat.prompt import render_box, take_prompt
from components.chat.welcome import render_welcome


def drawn_by_history(messages: list[ChatMessage]) -> None:
    """Remember the last message the full run's history drew (the fragment draws the rest)."""
    session.chat().drawn_upto = messages[-1].id if messages else None


LIVE_KEY = "chat-live"  # its container's key: the browser tests tell its turns apart by it
# Its key while a reply of its own run streams, after which the page is drawn whole: the
# browser tests wait for it to go (the page settled), not for a moment with no run, which
# comes for an instant between the two runs.
REDRAWN_KEY = "chat-live-then-page"


@st.fragment
def render_live(
    plan: Plan | None, endpoint: Endpoint, saving: conversations.NotePlace | None
) -> None:
    """Stream ``plan`` (a full run's), or on a rerun of its own, the message just sent."""
    alone = page.fragment_rerun()
    if alone and not session.message_waiting():
        # A button in here (Continue, Retry, an example, a tail message's own): the whole
        # page, as before, which plans it. Their callbacks may change sidebar widgets,
        # which this fragment does not redraw.
        st.rerun()
    if alone:  # the arguments are the last full run's: its plan has been drawn
        page.show_notices()
        plan = turn.take_turn(take_prompt(), endpoint)
        conversations.sync_url()  # a chat's first message names it: a reload reopens it
    # Pinned under the page (as a chat box outside any fragment is), and drawn first:
    # a Stop ends this run where it is, and what the run did not draw again is removed.
    with st.bottom:
        render_box()
    current = session.chat()
    conversation = current.conversation
    path = conversation.path()
    tail = _after(path, current.drawn_upto)
    if tail is None:  # the history's last message left the path meanwhile
        st.rerun()
    redraw = alone and plan is not None
    with st.container(key=REDRAWN_KEY if redraw else LIVE_KEY):
        drawn = tail[:-1] if plan is not None else tail  # the reply in ``plan`` streams below
        render_history(drawn, len(drawn), branches.tools_for(conversation, path))
        if plan is not None:
            try:
                turn.stream(plan, saving)
            except StopException:  # Stop, or a newer run: the reply is kept either way
                after_stop.draw_again()  # for Stop, the page whole with the stopped reply
                raise
        elif not path:
            render_welcome()  # an empty chat: what the lab is for, and the ways into it
        if (err := current.error) is not None:
            render_error(err)
        else:
            render_continue(conversation.leaf)
    if redraw:
        st.rerun()  # the reply has ended: the whole page, with the turn in its history


def _after(path: list[ChatMessage], last: str | None) -> list[ChatMessage] | None:
    """The messages of ``path`` after ``last`` (all of them for None); None if it is gone."""
    if last is None:
        return path
    for index, message in enumerate(path):
        if message.id == last:
            return path[index + 1 :]
    return None
