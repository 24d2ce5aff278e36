"""Under a message: its alternatives (``< 2/3 >``) and what can be done with it.

Edit resends a question as a new branch; Regenerate asks again for a reply; the menu
copies the message as Markdown or deletes it with what follows on its branch.

A retried or regenerated reply, or a message written in another tab at the same point,
is a sibling in the conversation tree; the switcher shows which one is on screen (and
sent as context) and reaches every other, so no branch is ever out of sight.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatlab.chat import turns
from chatlab.conversation import Conversation
from chatlab.messages import ChatMessage
from chatlab.provider import fork_refusal
from chatlab.storage import Store
from components import conversations, model_client, session
from components.chat import probabilities_view, request_view
from components.popover import when_open

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
    """Alternatives, Edit (a question) or Regenerate (a reply), the views, copy, delete."""
    if unanswered:
        st.caption(f":orange[{UNANSWERED}]")
    chat = session.chat()
    if message.role == "user" and chat.editing == message.id:
        _edit_box(message)
        return
    if chat.showing_source == message.id:
        st.code(message.content, language="markdown", wrap_lines=True)  # with a copy button
    if chat.deleting == message.id:
        _confirm_delete(message)
    siblings = conversation.siblings(message)
    regenerable = message.role == "assistant" and bool(message.content or message.tool_calls)
    page = session.page()
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        if len(siblings) > 1:
            _switcher(page.store, page.owner, siblings, message)
        if message.role == "user":
            st.button(
                "Edit",
                key=f"edit-{message.id}",
                icon=":material/edit:",
                help="Edit and resend: the edited question starts a new branch here; this "
                "one stays as an alternative.",
                type="tertiary",
                on_click=session.start_edit,
                args=(message.id, message.content),
            )
            _compare_button(message)
        if regenerable:
            st.button(
                "Regenerate",
                key=f"regenerate-{message.id}",
                icon=":material/refresh:",
                help="Regenerate: a new reply with the sidebar's settings; this one stays "
                "as an alternative.",
                type="tertiary",
                on_click=session.request_action,
                args=("regenerate", message.id),
            )
        request_view.render_button(message)
        probabilities_view.render_button(message)
        _more(message)
    if chat.viewing is not None and chat.viewing[1] == message.id:  # the open view, full width
        _open_view(message, chat.viewing[0])


def _open_view(message: ChatMessage, view: str) -> None:
    endpoint = request_view.current_endpoint()
    if view == request_view.VIEW:
        request_view.render_request(message, endpoint.base_url)
    elif view == probabilities_view.VIEW:
        refusal = fork_refusal(model_client.server_family(endpoint))
        probabilities_view.render_probabilities(message, refusal)


def _compare_button(message: ChatMessage) -> None:
    """Open Compare with this question, what came before it as context, and the model."""
    if st.button(
        "Compare this prompt",
        key=f"compare-{message.id}",
        icon=":material/compare_arrows:",
        help="Open Compare with this question (the conversation before it as context, the "
        "sidebar's model and settings) to run it at several settings side by side.",
        type="tertiary",
        on_click=session.compare_prompt,
        args=(message.id,),
    ):
        st.switch_page("pages/compare.py")


def _more(message: ChatMessage) -> None:
    """Copying and deleting, out of the way in a small menu (drawn only while open)."""
    menu = when_open("More", key=f"{session.MORE_MENU}-{message.id}", icon=":material/more_horiz:")
    if menu is None:
        return
    with menu:
        verb = "Sent" if message.role == "user" else "Written"
        st.caption(f"{verb} {message.created_at:%Y-%m-%d %H:%M:%S} UTC")
        st.button(
            "Hide the Markdown"
            if session.chat().showing_source == message.id
            else "Copy as Markdown",
            key=f"source-{message.id}",
            icon=":material/content_copy:",
            type="tertiary",
            on_click=session.toggle_source,
            args=(message.id,),
        )
        st.button(
            "Delete…",
            key=f"delete-{message.id}",
            icon=":material/delete:",
            type="tertiary",
            on_click=session.ask_delete_message,
            args=(message.id,),
        )


def _confirm_delete(message: ChatMessage) -> None:
    page = session.page()
    st.warning("Delete this message and everything after it on this branch, for good?")
    with st.container(horizontal=True, gap="small"):
        st.button(
            "Delete",
            key=f"confirm-delete-{message.id}",
            type="primary",
            on_click=conversations.delete_message,
            args=(page.store, page.owner, message.id),
        )
        st.button(
            "Cancel",
            key=f"cancel-delete-{message.id}",
            on_click=session.ask_delete_message,
            args=(None,),
        )


def _edit_box(message: ChatMessage) -> None:
    st.text_area("Edit your message", key=session.EDIT_INPUT, label_visibility="collapsed")
    with st.container(horizontal=True, gap="small"):
        st.button(
            "Send",
            key=f"send-edit-{message.id}",
            icon=":material/send:",
            type="primary",
            on_click=session.send_edit,
            args=(message.id,),
        )
        st.button("Cancel", key=f"cancel-edit-{message.id}", on_click=session.cancel_edit)


def _switcher(
    store: Store | None, owner: str, siblings: list[ChatMessage], message: ChatMessage
) -> None:
    index = next(i for i, sibling in enumerate(siblings) if sibling.id == message.id)
    # Text labels: an icon-only button is announced by its icon's name ("chevron_left
    # icon"), and ``help`` is only a tooltip, not the button's name.
    st.button(
        "Previous",
        key=f"previous-{message.id}",
        icon=":material/chevron_left:",
        help="Previous alternative",
        type="tertiary",
        disabled=index == 0,
        on_click=conversations.select,
        args=(store, owner, siblings[max(0, index - 1)].id),
    )
    st.caption(f"{index + 1}/{len(siblings)}", width="content")
    st.button(
        "Next",
        key=f"next-{message.id}",
        icon=":material/chevron_right:",
        icon_position="right",
        help="Next alternative",
        type="tertiary",
        disabled=index == len(siblings) - 1,
        on_click=conversations.select,
        args=(store, owner, siblings[min(len(siblings) - 1, index + 1)].id),
    )
