"""The compare page's form: the prompt, what to vary, the models, the samples, the bound.

The form sits in an expander that folds when Run is pressed and while a run is shown, so
the run's report starts near the top of the page; Run and what it refuses stay outside
it, visible either way. The expander's open state is a widget value set only when what
the page shows changes: in between, it stays as the user left it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from chatlab.chat import request_messages
from chatlab.compare import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Assertion, Setup
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.grid import (
    DEFAULT_SAMPLES,
    DEFAULT_TEMPERATURES,
    MAX_SAMPLES,
    Grid,
    GridError,
    cells,
    parse_values,
    sweepable,
)
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, is_blank
from components import model_client, session

SHOWN_FIRST = ("temperature",)  # the rest sit under "More parameters"
VALUES_HELP = (
    "Values separated by commas, e.g. 0, 0.7, 1.4. Blank: not varied (the sidebar's "
    "setting is used). Every combination of the values you give is run."
)


Axes = tuple[tuple[str, tuple[object, ...]], ...]  # each varied parameter and its values


@dataclass(frozen=True)
class SweepRequest:
    """What the user asked to run."""

    grid: Grid
    prompt: str
    messages: list[dict[str, str]]
    concurrency: int
    context: tuple[dict[str, Any], ...] = ()  # the conversation's turns sent before the prompt
    asserts: tuple[Assertion, ...] = ()  # checked on every result


RUN_PRESSED = "run pressed"  # what the form follows on the run Run starts


def render_form(
    endpoint: Endpoint, *, shown: str | None, running: bool, setup: Setup | None = None
) -> SweepRequest | None:
    """Draw the form, folded while run ``shown`` is on the page (opened again when none
    is), starting from ``setup`` (a link's, or a question the chat sent), and Run under
    it; the request when Run was pressed and the form is valid."""
    pressed = session.widget_value(session.COMPARE_RUN) is True
    _fold(RUN_PRESSED if pressed else shown)
    with st.expander(
        "Prompt and settings", key=session.COMPARE_FORM, on_change="rerun", icon=":material/tune:"
    ):
        fields = _fields(endpoint, setup or Setup())
    run = st.button(
        "Run",
        type="primary",
        icon=":material/play_arrow:",
        disabled=running,
        key=session.COMPARE_RUN,
    )
    if not run:
        return None
    return _checked(fields)


def _fold(follows: str | None) -> None:
    """Open the form while no run is shown, fold it on Run or when a run is shown, and
    open it when a setup arrives (a link, or "Compare this prompt" in the chat) so its
    prompt is in view; in between it stays as the user left it."""
    state = session.compare()
    arrived = state.setup is not None and state.setup is not state.form_setup
    state.form_setup = state.setup
    if (
        arrived
        or state.form_follows != follows
        or session.widget_value(session.COMPARE_FORM) is None
    ):
        state.form_follows = follows
        session.set_widget(session.COMPARE_FORM, follows is None or arrived)


@dataclass(frozen=True)
class _Typed:
    """The form's inputs as typed, before they are checked."""

    prompt: str
    system_prompt: str
    use_conversation: bool
    models: tuple[str, ...]
    axes: Axes | None  # None: a value that does not parse (said beside its field)
    samples: int
    bound: int
    context: tuple[ChatMessage, ...] = ()  # what "use as context" would send


def _fields(endpoint: Endpoint, setup: Setup) -> _Typed:
    """The form's inputs as typed, starting from ``setup``."""
    base = session.chat_settings()
    prompt = st.text_area(
        "Prompt",
        value=setup.prompt,
        key=session.COMPARE_PROMPT,
        placeholder="One prompt, run over the grid",
    )
    system_prompt = st.text_area(
        "System prompt", value=base.system_prompt, key=session.COMPARE_SYSTEM_PROMPT
    )
    sent = setup.context is not None  # by "Compare this prompt": what came before it
    conversation = list(setup.context or ()) if sent else session.chat().conversation.path()
    use_conversation = st.checkbox(
        f"Use the {len(conversation)} message{'' if len(conversation) == 1 else 's'} before "
        "this prompt as context"
        if sent
        else "Use the open conversation as context",
        value=bool(setup.context),
        key=session.COMPARE_USE_CONVERSATION,
        disabled=not conversation,
        help="Send the open chat's messages before the prompt, as the chat would.",
    )
    models = _pick_models(endpoint, base.model, setup.models)
    axes = _values(setup.values)
    left, right = st.columns(2)
    samples = left.number_input(
        "Samples per setting",
        1,
        MAX_SAMPLES,
        setup.samples or DEFAULT_SAMPLES,
        key=session.COMPARE_SAMPLES,
    )
    bound = right.number_input(
        "Requests at once",
        1,
        MAX_CONCURRENCY,
        DEFAULT_CONCURRENCY,
        key=session.COMPARE_CONCURRENCY,
        help="How many requests run at the same time; the rest wait their turn.",
    )
    return _Typed(
        prompt,
        system_prompt,
        use_conversation,
        models,
        axes,
        int(samples),
        int(bound),
        tuple(conversation),
    )


def _checked(typed: _Typed) -> SweepRequest | None:
    """The request, or None with a message under Run (the form may be folded)."""
    prompt, system_prompt, axes = typed.prompt, typed.system_prompt, typed.axes
    if axes is None:
        st.warning("A value to vary cannot be read: open the form above to see which.")
        return None
    if is_blank(prompt):
        st.warning("Type a prompt to run.")
        return None
    base = session.chat_settings()
    grid = Grid(replace(base, system_prompt=system_prompt), axes, typed.models, typed.samples)
    try:
        cells(grid)  # refuses a grid too big to send before anything is stored
    except GridError as err:
        st.error(plain(str(err)), icon=":material/error:")
        return None
    path = list(typed.context) if typed.use_conversation else []
    messages = request_messages(system_prompt, [*path, ChatMessage("user", prompt)])
    context = tuple(request_messages("", path))
    return SweepRequest(grid, prompt, messages, typed.bound, context)


def _pick_models(endpoint: Endpoint, current: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    listed = model_client.models(endpoint)
    if isinstance(listed, ChatError) or not listed:
        typed = st.text_input(
            "Models",
            value=", ".join(wanted) or current,
            key=session.COMPARE_MODELS,
            help="Model ids, by commas.",
        )
        return tuple(dict.fromkeys(m.strip() for m in typed.split(",") if m.strip()))
    options = listed if current in listed else [current, *listed]
    default = [m for m in wanted if m in options] or [current]  # a link's unknown ids: left out
    chosen = st.multiselect("Models", options, default=default, key=session.COMPARE_MODELS)
    return tuple(chosen) or (current,)


def _values(wanted: Mapping[str, str]) -> Axes | None:
    """The varied parameters and their values; None (with a message) if one is bad."""
    typed: dict[str, str] = {}
    for name in SHOWN_FIRST:
        typed[name] = _value_input(name, wanted.get(name))
    more = any(name not in SHOWN_FIRST for name in wanted)
    with st.expander("More parameters", expanded=more):
        for name in sweepable():
            if name not in SHOWN_FIRST:
                typed[name] = _value_input(name, wanted.get(name))
    axes = []
    for name, text in typed.items():
        try:
            values = parse_values(name, text)
        except GridError as err:
            st.error(plain(str(err)), icon=":material/error:")
            return None
        if values:
            axes.append((name, values))
    return tuple(axes)


def _value_input(name: str, wanted: str | None) -> str:
    default = ", ".join(f"{t:g}" for t in DEFAULT_TEMPERATURES) if name == "temperature" else ""
    default = default if wanted is None else wanted
    kind = sweepable()[name].kind
    hint = f" One of: {', '.join(kind)}." if isinstance(kind, tuple) else ""
    label = name.replace("_", " ").capitalize()
    return str(
        st.text_input(
            label, value=default, key=session.COMPARE_VALUES + name, help=VALUES_HELP + hint
        )
    )
