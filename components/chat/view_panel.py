"""A view under a reply (Probabilities, Request): a button among its tools, a panel below.

Not a popover: at 1280x800 a popover showed about 150 px of 950 px of content and covered
the sidebar and the chat box. Not a modal dialog either: it would block the chat box
while open. A panel in the page flow is as wide as the reply, scrolls with the
conversation and leaves the chat box free. As with the popover before it, the content is
drawn only while the panel is open: a long reply has thousands of tokens, and each
request repeats the conversation before it. One view is open at a time
(``ChatState.viewing``), so opening one closes the other.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import session

__all__ = ["is_open", "panel", "view_button"]


def is_open(view: str, message_id: str) -> bool:
    """Whether ``view`` is open under the reply ``message_id``."""
    return session.chat().viewing == (view, message_id)


def view_button(view: str, message_id: str, *, label: str, icon: str, help: str) -> None:
    """The button that opens (or closes) ``view``; highlighted while it is open."""
    st.button(
        label,
        key=f"{view}-{message_id}",
        icon=icon,
        help=help,
        type="secondary" if is_open(view, message_id) else "tertiary",
        on_click=session.toggle_view,
        args=(view, message_id),
    )


def panel(view: str, message_id: str, title: str) -> DeltaGenerator:
    """The open view's bordered container, headed by its title and a Close button."""
    box = st.container(border=True, key=f"{view}-panel-{message_id}")
    with box.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{title}**", width="stretch")
        st.button(
            "",
            key=f"close-{view}-{message_id}",
            icon=":material/close:",
            help=f"Close {title}",
            type="tertiary",
            on_click=session.toggle_view,
            args=(view, message_id),
        )
    return box
