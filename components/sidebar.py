"""The sidebar: where requests go, and the knobs that shape the next reply."""

from __future__ import annotations

import streamlit as st

from chatlab import config, controls
from chatlab.bounds import BOUNDS, max_tokens_limit
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.logprobs import MAX_TOP_LOGPROBS
from chatlab.markdown import plain
from chatlab.messages import (
    MAX_STOP_LENGTH,
    MAX_STOP_SEQUENCES,
    REASONING_EFFORTS,
    ChatSettings,
)
from chatlab.storage import Store
from chatlab.tokens import estimate_prompt_tokens
from chatlab.turns import request_messages
from components import base_url, conversations, model_client, presets, session
from components.server_check import render_server_check

TEMPERATURE_HELP = (
    "How adventurous the wording is. Lower (0–0.5): focused and consistent, good for "
    "facts and code. Higher (1–2): more varied and creative, and more likely to wander. "
    f"0.5–1.0 is the usual range; the default is {ChatSettings.temperature}."
)
MAX_TOKENS_HELP = (
    "The cap on the reply's length, in tokens (about ¾ of a word each). A reply that "
    f"hits it is cut off mid-sentence; use {controls.CONTINUE} to get the rest."
)
TOP_P_HELP = (
    "Sample only from the most likely tokens whose probabilities add up to p: 0.1 keeps "
    "the top tenth of the probability, 1 keeps everything. Lower is more focused. Change "
    "this or temperature, not both; 0.8–1.0 is the usual range. Not set: the server's own "
    "default (1 on OpenAI, often 0.9–0.95 on local servers)."
)
SEED_HELP = (
    "The same seed with the same request and settings asks for the same reply again: "
    "repeatable on most local servers, best effort on OpenAI. Blank: a fresh random draw "
    "each time."
)
STOP_HELP = (
    f"Up to {MAX_STOP_SEQUENCES} sequences, one per line (at most {MAX_STOP_LENGTH} "
    "characters each): the reply ends just before the first one it would write, and that "
    "text is left out. Blank: none."
)
PRESENCE_PENALTY_HELP = (
    "Positive values discourage repeating anything already said, however often, nudging "
    "the model towards new topics; negative values encourage it. −2 to 2, 0.1–1 is the "
    "usual range; 0 is the default and is not sent."
)
FREQUENCY_PENALTY_HELP = (
    "Positive values discourage repeating a token the more often it has appeared, cutting "
    "word-for-word repetition; negative values encourage it. −2 to 2, 0.1–1 is the usual "
    "range; 0 is the default and is not sent."
)
REASONING_EFFORT_HELP = (
    "For reasoning models (o-series, gpt-5): how long they think before answering. Lower "
    "is faster and cheaper, higher is more thorough; not every model takes every value. "
    "Default: not sent, the model's own (usually medium). Other models reject it, and "
    "the reply then says so."
)
PROBABILITIES_HELP = (
    "Ask for each token's probability (logprobs) and its likeliest alternatives, shown "
    "under the reply token by token, with the reply's mean log-probability and perplexity. "
    "OpenAI, vLLM, llama.cpp and recent Ollama send them; other servers ignore or refuse "
    "it, and the reply then says so."
)
TOP_LOGPROBS_HELP = (
    f"How many alternatives to get for each token, 0–{MAX_TOP_LOGPROBS}; "
    f"{session.DEFAULT_TOP_LOGPROBS} is plenty to see where the reply could have gone."
)
NO_EFFECT = "No effect with this model: the server rejected it."
# Every range below is the one declaration in ``chatlab.bounds`` (Compare's values use it too).
TEMPERATURE, TOP_P, SEED = BOUNDS["temperature"], BOUNDS["top_p"], BOUNDS["seed"]
MAX_SEED = int(SEED.high)


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
    st.slider(
        controls.TEMPERATURE,
        TEMPERATURE.low,
        TEMPERATURE.high,
        step=TEMPERATURE.step,
        key=session.TEMPERATURE,
        help=TEMPERATURE_HELP,
    )
    st.slider(controls.MAX_TOKENS, 1, limit, step=1, key=session.MAX_TOKENS, help=MAX_TOKENS_HELP)
    st.text_area("System prompt", key=session.SYSTEM_PROMPT, height=100)
    _advanced_settings()
    _context_budget(endpoint)


def _advanced_settings() -> None:
    """The sampling parameters people change less often; each is sent only when set."""
    known = session.connection().quirks.get(session.model())
    rejected = known.dropped if known is not None else frozenset()
    with st.expander("Advanced", icon=":material/science:"):
        st.checkbox("Set top_p", key=session.TOP_P_SET, help=TOP_P_HELP)
        top_p_set = bool(session.widget_value(session.TOP_P_SET))
        st.slider(
            controls.TOP_P,
            TOP_P.low,
            TOP_P.high,
            step=TOP_P.step,
            key=session.TOP_P,
            disabled=not top_p_set,
        )
        _no_effect("top_p", rejected)
        st.number_input(
            controls.SEED,
            min_value=int(SEED.low),
            max_value=MAX_SEED,
            # Blank means "not set": without value=None a cleared field reads as 0.
            value=None,
            step=1,
            key=session.SEED,
            placeholder="random",
            help=SEED_HELP,
        )
        _no_effect("seed", rejected)
        st.text_area(
            controls.STOP,
            key=session.STOP,
            height=100,
            placeholder="one per line",
            help=STOP_HELP,
        )
        _stop_note(str(session.widget_value(session.STOP) or ""))
        _no_effect("stop", rejected)
        for label, key, help_text in (
            (controls.PRESENCE_PENALTY, session.PRESENCE_PENALTY, PRESENCE_PENALTY_HELP),
            (controls.FREQUENCY_PENALTY, session.FREQUENCY_PENALTY, FREQUENCY_PENALTY_HELP),
        ):
            penalty = BOUNDS[key]
            st.slider(label, penalty.low, penalty.high, step=penalty.step, key=key, help=help_text)
            _no_effect(key, rejected)
        st.selectbox(
            controls.REASONING_EFFORT,
            [session.EFFORT_NOT_SET, *REASONING_EFFORTS],
            key=session.REASONING_EFFORT,
            help=REASONING_EFFORT_HELP,
        )
        _no_effect("reasoning_effort", rejected)
        _probabilities_settings(known is not None and known.no_logprobs)


def _probabilities_settings(refused: bool) -> None:
    st.toggle("Probabilities", key=session.LOGPROBS, help=PROBABILITIES_HELP)
    st.number_input(
        "Top alternatives per token",
        min_value=0,
        max_value=MAX_TOP_LOGPROBS,
        step=1,
        key=session.TOP_LOGPROBS,
        disabled=not session.widget_value(session.LOGPROBS),
        help=TOP_LOGPROBS_HELP,
    )
    if refused:
        st.caption(f":orange[{NO_EFFECT}]")


def _no_effect(param: str, rejected: frozenset[str]) -> None:
    if param in rejected:
        st.caption(f":orange[{NO_EFFECT}]")


def _stop_note(typed: str) -> None:
    """Say so when the stop sequences sent are not quite what was typed."""
    lines = [line for line in typed.split("\n") if line.strip()]
    if len(lines) > MAX_STOP_SEQUENCES:
        st.caption(f":orange[Only the first {MAX_STOP_SEQUENCES} lines are sent.]")
    if any(len(line.rstrip("\r")) > MAX_STOP_LENGTH for line in lines):
        st.caption(f":orange[A line is cut at {MAX_STOP_LENGTH} characters.]")


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
    used = estimate_prompt_tokens(request)
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
    with st.expander("This conversation", icon=":material/tune:"):
        conversations.render_actions(store, owner)
