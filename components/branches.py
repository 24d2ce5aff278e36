"""Under a message: its alternatives (``< 2/3 >``) and what can be done with it.

A retried or regenerated reply, or a message written in another tab at the same point,
is a sibling in the conversation tree; the switcher shows which one is on screen (and
sent as context) and reaches every other, so no branch is ever out of sight.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatlab import turns
from chatlab.conversation import Conversation
from chatlab.messages import ChatMessage
from chatlab.storage import Store
from components import conversations, session

UNANSWERED = "No reply came to this message, so it is left out of what the model sees."
NOT_SENT = "Earlier messages are no longer sent as context (dropped to fit the window)."


def tools_for(conversation: Conversation, path: list[ChatMessage]) -> Callable[[ChatMessage], None]:
    """What to draw under each message of ``path``."""
    unanswered = turns.unanswered(path)
    first_sent = turns.dropped(path, conversation.context_from)
    cut = path[first_sent].id if first_sent else None

    def draw(message: ChatMessage) -> None:
        if message.id == cut:
            st.caption(f":orange[{NOT_SENT}]")
        render_message_tools(conversation, message, unanswered=message.id in unanswered)

    return draw


def render_message_tools(
    conversation: Conversation, message: ChatMessage, *, unanswered: bool = False
) -> None:
    """The switcher between alternatives, and Regenerate for a reply."""
    if unanswered:
        st.caption(f":orange[{UNANSWERED}]")
    siblings = conversation.siblings(message)
    regenerable = message.role == "assistant" and bool(message.content)
    if len(siblings) < 2 and not regenerable:
        return
    current = session.state()
    with st.container(horizontal=True, gap="small"):
        if len(siblings) > 1:
            _switcher(current.store, current.owner, siblings, message)
        if regenerable:
            st.button(
                "",
                key=f"regenerate-{message.id}",
                icon=":material/refresh:",
                help="Regenerate: a new reply with the sidebar's settings; this one stays "
                "as an alternative.",
                type="tertiary",
                on_click=session.request_action,
                args=("regenerate", message.id),
            )


def _switcher(
    store: Store | None, owner: str, siblings: list[ChatMessage], message: ChatMessage
) -> None:
    index = next(i for i, sibling in enumerate(siblings) if sibling.id == message.id)
    st.button(
        "",
        key=f"previous-{message.id}",
        icon=":material/chevron_left:",
        help="Previous alternative",
        type="tertiary",
        disabled=index == 0,
        on_click=conversations.select,
        args=(store, owner, siblings[max(0, index - 1)].id),
    )
    st.caption(f"{index + 1}/{len(siblings)}")
    st.button(
        "",
        key=f"next-{message.id}",
        icon=":material/chevron_right:",
        help="Next alternative",
        type="tertiary",
        disabled=index == len(siblings) - 1,
        on_click=conversations.select,
        args=(store, owner, siblings[min(len(siblings) - 1, index + 1)].id),
    )
