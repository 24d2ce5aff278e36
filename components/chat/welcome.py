"""The empty chat's welcome: what Chat Lab is for, and the ways into the lab.

A new user saw a blank page with a message box and found neither Compare nor the
token probabilities. The examples are sent exactly as a typed message is (the button
hands its text to the same place the chat box's ``on_submit`` does), so what follows,
saving and streaming included, is the chat's one path.
"""

from __future__ import annotations

import streamlit as st

from components import session

__all__ = ["EXAMPLES", "render_welcome"]

EXAMPLES = (
    "Explain what the temperature setting does, in two sentences.",
    "Write a four-line poem about a lighthouse.",
    "Give me three names for a bakery, one per line.",
)


def render_welcome() -> None:
    """What the lab is for, three prompts to send, and the ways into Compare and
    Probabilities."""
    with st.container(border=True, key="welcome"):
        st.markdown("##### Welcome to Chat Lab")
        st.markdown(
            "Talk to a model and **see what its settings do**: change the temperature or "
            "the system prompt in the sidebar, regenerate a reply and compare the "
            "alternatives, see how sure the model was of each word, and run one prompt "
            "at several settings side by side."
        )
        st.caption("Try one of these, or type your own below:")
        for index, text in enumerate(EXAMPLES):
            st.button(
                text,
                key=f"welcome-example-{index}",
                icon=":material/send:",
                on_click=session.send_example,
                args=(text,),
            )
        with st.container(horizontal=True, gap="small"):
            st.page_link(
                "pages/compare.py",
                label="Compare settings side by side",
                icon=":material/compare_arrows:",
            )
            _probabilities_switch()


def _probabilities_switch() -> None:
    if session.widget_value(session.LOGPROBS):
        st.caption(
            ":material/check: Probabilities are on: each reply can be shown word by word, "
            "shaded by how sure the model was."
        )
        return
    st.button(
        "Switch on Probabilities",
        key="welcome-probabilities",
        icon=":material/percent:",
        help="Ask for each token's probability (the sidebar's Advanced › Probabilities), "
        "to see how sure the model was of each word.",
        on_click=session.switch_on_probabilities,
    )
