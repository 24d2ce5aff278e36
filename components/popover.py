"""A popover whose content is drawn only while it is open.

Streamlit sends a popover's content on every run, open or not. Under each message on
screen that is several elements per message per run, which the browser works through
before it can show the next token. With ``on_change="rerun"``, opening it reruns the page
and only then is its content drawn.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def when_open(label: str, *, key: str, icon: str, help: str | None = None) -> DeltaGenerator | None:
    """A small (tertiary) popover; the container to draw its content in, or None if closed."""
    popover = st.popover(label, icon=icon, help=help, type="tertiary", key=key, on_change="rerun")
    return popover if popover.open else None
