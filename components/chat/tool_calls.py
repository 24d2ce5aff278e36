"""A reply's tool calls as cards: the tool's name, its arguments pretty-printed and checked
against the tool's schema, and the result given (or a box to give it).

The cards of the reply the conversation ends with, while any call waits for its result,
sit in one form: each call's box starts with its tool's canned result, and "Send results"
answers them all at once (the request needs every call's result, in order). Everything
the server sent (names, arguments, problems) is drawn literally: ``st.code`` or
``chatlab.markdown.plain``.
"""

from __future__ import annotations

import streamlit as st

from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.tools import NAME, ToolCall, ToolSet, check_arguments
from components import session

SEND_RESULTS = "Send results"
SHOWN_CHARS = 20_000  # of a call's arguments or result drawn on its card (all is kept and sent)


def render_tool_calls(message: ChatMessage) -> None:
    """The reply's calls; a form to answer them when it is the open conversation's last reply."""
    chat = session.chat()
    tools = session.tool_set()
    waiting = (
        not message.answered and chat.conversation.leaf_id == message.id and chat.in_flight is None
    )
    if not waiting:
        for call in message.tool_calls:
            _card(call, tools)
        return
    with st.form(f"tool-results-{message.id}", border=False):
        for place, call in enumerate(message.tool_calls):
            _card(call, tools, answer_key=f"{session.TOOL_RESULT}-{message.id}-{place}")
        st.form_submit_button(
            SEND_RESULTS,
            icon=":material/send:",
            type="primary",
            on_click=session.send_tool_results,
            args=(message.id, len(message.tool_calls)),
        )


def _card(call: ToolCall, tools: ToolSet, answer_key: str | None = None) -> None:
    """One call: name, arguments and what is wrong with them, then its result."""
    check = check_arguments(call, tools)
    with st.container(border=True):
        st.markdown(f":material/build: **{plain(call.name) or '(no name)'}**")
        st.caption(f"Call {plain(call.id)}")
        _code(check.pretty, "json" if check.ok else None)
        for problem in check.problems:
            st.caption(f":orange[{plain(problem)}]")
        if answer_key is not None:
            tool = tools.named(call.name)
            st.text_area(
                _result_label(call, answer_key),
                value=tool.canned_result if tool is not None else "",
                key=answer_key,
                height=80,
                placeholder="What the tool returned (sent as the tool message's content)",
            )
        elif call.result is not None:
            st.caption("Result")
            _code(call.result or " ", None)
        else:
            st.caption(":orange[Not answered: this call was not sent back to the model.]")


def _code(text: str, language: str | None) -> None:
    """Text drawn literally, at most ``SHOWN_CHARS`` of it (the rest is said, not drawn)."""
    st.code(text[:SHOWN_CHARS], language=language)
    if len(text) > SHOWN_CHARS:
        st.caption(f"The first {SHOWN_CHARS:,} of {len(text):,} characters are shown.")


def _result_label(call: ToolCall, key: str) -> str:
    """ "Result of get_weather": a name of letters, digits, ``_`` and ``-`` only (no Markdown
    but emphasis can come of it, and the label reads as typed to a screen reader); any
    other name the server sent is not put in a label: "Result of call 2"."""
    if NAME.fullmatch(call.name):
        return f"Result of {call.name}"
    return f"Result of call {int(key.rsplit('-', 1)[-1]) + 1}"
