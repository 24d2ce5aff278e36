"""A popover whose content is drawn only while it is open.

Streamlit sends a popover's content on every run, open or not. Under each message on
screen that is several elements per message per run, which the browser works through
before it can show the next token; in the sidebar, a first page that waits for the code of
widgets nobody has opened yet (a file uploader's). With ``on_change="rerun"``, opening it
reruns the page (or the fragment it is in) and only then is its content drawn.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


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
