"""Popovers and collapsed sections whose content is drawn only while they are open.

Streamlit sends a popover's or an expander's content on every run, open or not. Under
each message on screen that is several elements per message per run, which the browser
works through before it can show the next token; in the sidebar, a first page that waits
for the code of widgets nobody has opened yet (a file uploader's), and a server that draws
every setting on every run after every reply (each keyed input also scans the session's
whole state: Streamlit's ``filtered_state``). With ``on_change="rerun"``, opening one
reruns the page (or the fragment it is in) and only then is its content drawn.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import session

# A widget in a section drawn only while it is open keeps its value while the section is
# shut (Streamlit drops an undrawn widget's value at the end of the run otherwise).
KEPT: Literal["session"] = "session"


def when_open(
    label: str,
    *,
    key: str,
    icon: str,
    help: str | None = None,
    type: Literal["secondary", "tertiary"] = "tertiary",
    width: Literal["content", "stretch"] = "content",
) -> DeltaGenerator | None:
    """A popover (small: tertiary, by default); the container to draw its content in, or
    None while it is closed. What is typed in it and not yet saved is gone once it closes:
    keep them to short forms (a name, a file to import)."""
    popover = st.popover(
        label, icon=icon, help=help, type=type, width=width, key=key, on_change="rerun"
    )
    return popover if popover.open else None


def section_when_open(label: str, *, key: str, icon: str) -> DeltaGenerator | None:
    """An expander, collapsed at first; the container to draw its content in, or None
    while it is collapsed.

    Its widgets are not drawn while it is collapsed: those whose value must outlive that
    are drawn with ``persist_state="session"``. Its label may change (a count in it): a
    new label is a new expander to Streamlit, which then opens as the old one was left.
    """
    session.pin(key)  # its state, held by key: a new label's expander takes it
    section = st.expander(label, icon=icon, key=key, on_change="rerun")
    return section if section.open else None
