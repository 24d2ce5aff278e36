"""The sidebar: where requests go, and the knobs that shape the next reply.

Each sampling parameter's control is drawn from its declaration (``chatlab.params``):
label, range, step, help and key; a parameter declared on ``ChatSettings`` appears here
(under Advanced unless declared otherwise) without a change to this file.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatlab import config, controls
from chatlab.chat import request_messages
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.markdown import plain
from chatlab.params import Declared, declared, max_tokens_limit, switch_key, widget_key
from chatlab.provider import Quirks
from chatlab.storage import Store
from chatlab.tokens import estimate_prompt_tokens
from components import base_url, conversations, model_client, presets, response_format, session
from components.popover import KEPT, section_when_open
from components.sampling_check import parameter_notes
from components.server_check import render_server_check

NO_EFFECT = "No effect with this model: the server rejected it."


def endpoint() -> Endpoint:
    """The endpoint the sidebar's inputs (or the configuration) name; draws nothing."""
    # Full runs only (this is not in the fragment): pinning on the settings fragment's own
    # reruns would send a slider's previous value back while the user is still moving it.
    session.pin(
        session.BASE_URL_INPUT,
        session.MODEL,
        session.TEMPERATURE,
        session.MAX_TOKENS,
        session.SYSTEM_PROMPT,
        *session.ADVANCED,
    )
    policy = base_url.url_policy()
    return config.resolve_endpoint(session.sidebar_values(), session.secrets(), policy=policy)


def endpoint_panel(endpoint: Endpoint) -> None:
    """Key and base-URL inputs, and New chat."""
    with st.sidebar:
        st.button("New chat", icon=":material/add:", on_click=session.new_chat, width="stretch")
        # Open while there is nothing to talk to: the setup panel points here.
        with st.expander("Connection", expanded=not endpoint.usable):
            _key_input()
            base_url.render_input(base_url.url_policy())
            current = session.connection()
            found = render_server_check(endpoint, session.model(), current.server_report)
            if found is not None:
                current.server_report = found


def _key_input() -> None:
    if session.has_typed_key():
        st.caption("API key set for this browser session.")
        st.button("Forget key", on_click=session.forget_typed_key)
        return
    st.text_input(
        controls.API_KEY,
        type="password",
        key=session.KEY_INPUT,
        on_change=session.capture_typed_key,
        placeholder="sk-…",
        help="Kept in this browser session only: never saved, logged or shared.",
    )


@st.fragment
def settings_panel(endpoint: Endpoint) -> None:
    """Model, sliders and system prompt; reruns alone so the chat is not redrawn."""
    if session.message_waiting():
        st.rerun()  # a message came in with this panel's rerun: the page must send it
    _model_picker(endpoint)
    model = session.model()
    limit = max_tokens_limit(
        model, model_client.window(endpoint, model) if endpoint.usable else None
    )
    if session.max_tokens() > limit or limit != session.connection().max_tokens_limit:
        # A new range: keep the value (clamped into it) and resend it, or the browser
        # falls back to the slider's minimum (see ``session.pin``).
        session.set_max_tokens(min(session.max_tokens(), limit))
        session.connection().max_tokens_limit = limit
    presets.render_presets(session.page().store, session.page().owner)
    notes = parameter_notes(endpoint, model)  # what the sampling check found ignored
    for found in declared():
        if not found.param.advanced:  # temperature, max tokens (within this model's limit)
            _control(found, high=limit if found.name == "max_tokens" else None)
            _sampling_note(notes.get(found.name))
    st.text_area("System prompt", key=session.SYSTEM_PROMPT, height=100)
    _advanced_settings(notes)
    _context_budget(endpoint)


def _advanced_settings(notes: dict[str, str]) -> None:
    """The sampling parameters people change less often; each is sent only when set."""
    known = session.connection().quirks.get(session.model())
    section = section_when_open("Advanced", key=session.ADVANCED_SECTION, icon=":material/science:")
    if section is None:
        return
    with section:
        for found in declared():
            if found.param.advanced:
                _control(found)
                if _rejected(found, known):
                    st.caption(f":orange[{NO_EFFECT}]")
                _sampling_note(notes.get(found.name))


def _sampling_note(note: str | None) -> None:
    """Under a control: the sampling check found the server ignores (or rejects) it."""
    if note:
        st.caption(f":orange[{plain(note)}]")


def _control(found: Declared, high: float | None = None) -> None:
    """Parameter ``found``'s control, as declared (``chatlab.params``)."""
    param, key = found.param, widget_key(found.name)
    help_text: str | None = found.help
    disabled = False
    if param.switch:  # the switch carries the help; the control waits for it
        st.checkbox(param.switch, key=switch_key(found.name), help=help_text, persist_state=KEPT)
        disabled, help_text = not session.widget_value(switch_key(found.name)), None
    if param.needs:
        disabled = not session.widget_value(widget_key(param.needs))
    if param.control == "slider":
        low, top, step = _numbers(found, high)
        st.slider(
            param.label,
            low,
            top,
            step=step,
            key=key,
            disabled=disabled,
            help=help_text,
            persist_state=KEPT,
        )
    elif param.control == "number":
        _number_input(found, disabled, help_text)
    elif param.control == "lines":
        st.text_area(
            param.label,
            key=key,
            height=100,
            placeholder=param.placeholder,
            help=help_text,
            persist_state=KEPT,
        )
        _lines_note(found, str(session.widget_value(key) or ""))
    elif param.control == "choice":
        words = found.kind if isinstance(found.kind, tuple) else ()
        st.selectbox(
            param.label,
            [param.shown_unset, *words],
            key=key,
            help=help_text,
            persist_state=KEPT,
        )
    elif param.control == "format":  # structured output: its type and a JSON Schema
        response_format.render_control(found, help_text)
    else:
        st.toggle(param.label, key=key, help=help_text, persist_state=KEPT)


def _numbers(found: Declared, high: float | None) -> tuple[Any, Any, Any]:
    """The control's low, high and step, whole numbers for an int parameter."""
    param = found.param
    numbers = (param.low, param.high if high is None else high, param.step)
    if found.kind is int:
        return tuple(int(n) for n in numbers if n is not None)  # type: ignore[return-value]
    return numbers


def _number_input(found: Declared, disabled: bool, help_text: str | None) -> None:
    param = found.param
    low, high, step = _numbers(found, None)
    # Blank means "not set" where nothing else stands for it: without value=None a cleared
    # field reads as 0.
    blank: dict[str, Any] = {"value": None} if param.shown_unset is None else {}
    st.number_input(
        param.label,
        min_value=low,
        max_value=high,
        step=step,
        key=widget_key(found.name),
        placeholder=param.placeholder,
        disabled=disabled,
        help=help_text,
        persist_state=KEPT,
        **blank,
    )


def _rejected(found: Declared, known: Quirks | None) -> bool:
    """Whether this model rejected the parameter: said under it (under the last control of
    the Probabilities pair, which go and are refused together)."""
    if known is None:
        return False
    if found.param.sending == "with logprobs":
        return known.no_logprobs and found.param.needs is not None
    if found.param.control == "format":  # refused for one format type, or for all
        return known.drops(found.field, {"type": session.widget_value(widget_key(found.name))})
    return found.param.sending == "when set" and found.field in known.dropped


def _lines_note(found: Declared, typed: str) -> None:
    """Say so when the lines sent (stop sequences) are not quite what was typed."""
    most, longest = int(found.param.high or 0), found.param.max_length or 0
    lines = [line for line in typed.split("\n") if line.strip()]
    if len(lines) > most:
        st.caption(f":orange[Only the first {most} lines are sent.]")
    if any(len(line.rstrip("\r")) > longest for line in lines):
        st.caption(f":orange[A line is cut at {longest} characters.]")


def _model_picker(endpoint: Endpoint) -> None:
    listed = model_client.models(endpoint) if endpoint.usable else []
    current = session.model()
    if isinstance(listed, ChatError) or not listed:
        st.text_input("Model", key=session.MODEL, help="The model id to send.")
        if isinstance(listed, ChatError):
            st.caption(f"Could not list models: {plain(listed.message)}")
        return
    if current not in listed and current == config.default_model(session.secrets()):
        # The configured model is not on this server: take the server's own.
        session.set_model(listed[0])
        st.caption(f"{plain(current)} is not offered by this server; using {plain(listed[0])}.")
        current = listed[0]
    options = listed if current in listed else [current, *listed]
    st.selectbox(
        "Model", options, key=session.MODEL, accept_new_options=True, format_func=_model_label
    )


def _model_label(model_id: str) -> str:
    # Options are drawn as plain text (unlike labels, no Markdown). A model id can be a
    # file path (llama.cpp): its last segment is the name people know.
    return model_id.rstrip("/").rsplit("/", 1)[-1] or model_id


def _context_budget(endpoint: Endpoint) -> None:
    chat = session.chat_settings()
    conversation = session.chat().conversation
    request = request_messages(chat.system_prompt, conversation.path(), conversation.context_from)
    used = estimate_prompt_tokens(request) + session.tool_set().prompt_tokens()  # tools: sent too
    window = model_client.window(endpoint, chat.model) if endpoint.usable else None
    if window is None:
        st.caption(f"Context: ≈ {used:,} tokens so far (this model's window is unknown).")
        return
    share = min(1.0, (used + chat.max_tokens) / window)
    st.progress(share, text=f"Context: ≈ {used:,} + {chat.max_tokens:,} reply of {window:,}")


def conversations_panel(store: Store, owner: str) -> None:
    """Saved conversations, and what can be done with the open one."""
    with st.expander("Conversations", icon=":material/forum:", expanded=True):
        conversations.render_list(store, owner)
    section = section_when_open(
        "This conversation", key=session.CONVERSATION_SECTION, icon=":material/tune:"
    )
    if section is not None:
        with section:
            conversations.render_actions(store, owner)
