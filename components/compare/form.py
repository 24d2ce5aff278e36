"""The compare page's form: the prompts, what to vary, the models, the samples, the bound,
and an evaluation's test set and assertions (``evaluation_inputs``) and spec (``spec_file``).

The form sits in an expander that folds when Run is pressed and while a run is shown, so
the run's report starts near the top of the page; Run and what it refuses stay outside
it, visible either way, with the run's estimate under Run (``estimate_line``). The
form is checked as it is typed, so the estimate, the spec and Run's refusal come from one
request (``_planned``). The expander's open state is a widget value set only when what
the page shows changes: in between, it stays as the user left it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from chatlab.chat import request_messages
from chatlab.compare import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Assertion,
    EvalSpec,
    PromptVariant,
    Setup,
    render,
)
from chatlab.config import Endpoint
from chatlab.errors import ChatError
from chatlab.grid import (
    DEFAULT_SAMPLES,
    DEFAULT_TEMPERATURES,
    MAX_SAMPLES,
    Compose,
    Grid,
    GridError,
    cells,
    parse_values,
    sweepable,
    variant_label,
)
from chatlab.markdown import plain
from chatlab.messages import ChatMessage, is_blank
from chatlab.structured import schema_problem
from components import model_client, session
from components.compare import estimate_line, spec_file
from components.compare.evaluation_inputs import (
    EvaluationInputs,
    render_evaluation,
    render_variants,
    test_set_of,
)

SHOWN_FIRST = ("temperature",)  # the rest sit under "More parameters"
VALUES_HELP = (
    "Values separated by commas, e.g. 0, 0.7, 1.4. Blank: not varied (the sidebar's "
    "setting is used). Every combination of the values you give is run."
)


Axes = tuple[tuple[str, tuple[object, ...]], ...]  # each varied parameter and its values


@dataclass(frozen=True)
class SweepRequest:
    """What the user asked to run.

    ``grid``, ``prompt`` and ``messages`` mean what they always did for a run of one prompt
    without variables, so such a run is sent as before. An evaluation (several prompt
    variants, or a test set) has its variants and rows in the grid as well, ``compose``
    makes each cell's messages from its variant and row, and ``prompt`` and ``messages``
    are prompt A's (filled from row 1).
    """

    grid: Grid
    prompt: str
    messages: list[dict[str, str]]
    concurrency: int
    variants: tuple[PromptVariant, ...] = ()  # A first
    columns: tuple[str, ...] = ()  # the test set's; empty: no test set
    rows: tuple[tuple[str, ...], ...] = ()
    asserts: tuple[Assertion, ...] = ()
    threshold: float | None = None
    compose: Compose | None = None  # None: every cell sends ``messages``
    judges: tuple[str, ...] = ()  # each llm-rubric's judge model: one request per cell each


@dataclass(frozen=True)
class Blocked:
    """Why Run cannot go ahead, said under it (an error, or a warning)."""

    message: str
    error: bool = False


RUN_PRESSED = "run pressed"  # what the form follows on the run Run starts


def render_form(
    endpoint: Endpoint, *, shown: str | None, running: bool, setup: Setup | None = None
) -> SweepRequest | None:
    """Draw the form, folded while run ``shown`` is on the page (opened again when none
    is), starting from ``setup`` (a link's, or a question the chat sent), Run and the
    estimate under it; the request when Run was pressed and the form is valid."""
    pressed = session.widget_value(session.COMPARE_RUN) is True
    _fold(RUN_PRESSED if pressed else shown)
    box = st.expander(
        "Prompt and settings", key=session.COMPARE_FORM, on_change="rerun", icon=":material/tune:"
    )
    with box:
        fields = _fields(endpoint, setup or Setup())
    request, blocked = _planned(fields)
    with box, st.expander("Spec (YAML): download, load", icon=":material/description:"):
        threshold = spec_file.render_threshold()
        request = replace(request, threshold=threshold) if request is not None else None
        spec = _spec(request) if request is not None and blocked is None else None
        session.compare().evaluation.spec = spec
        spec_file.render_files(spec, blocked.message if blocked is not None else None)
    run = st.button(
        "Run",
        type="primary",
        icon=":material/play_arrow:",
        disabled=running,
        key=session.COMPARE_RUN,
    )
    # Under Run, said while the form is in use: once Run is pressed the run's own check
    # says its figures, and while a run is shown with the form folded the report starts
    # right here. (Under Run, not above it: a phone scrolled down to Run keeps the report's
    # top in view once the form folds.)
    if not pressed and (shown is None or session.widget_value(session.COMPARE_FORM)):
        estimate_line.render_estimate(endpoint, request, blocked)
    if not run:
        return None
    if blocked is not None:
        if blocked.error:
            st.error(plain(blocked.message), icon=":material/error:")
        else:
            st.warning(plain(blocked.message))
        return None
    return request


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

    variants: tuple[PromptVariant, ...]
    use_conversation: bool
    models: tuple[str, ...]
    axes: Axes | None  # None: a value that does not parse (said beside its field)
    samples: int
    bound: int
    evaluation: EvaluationInputs
    context: tuple[ChatMessage, ...] = ()  # what "use as context" would send


def _fields(endpoint: Endpoint, setup: Setup) -> _Typed:
    """The form's inputs as typed, starting from ``setup``."""
    base = session.chat_settings()
    variants = render_variants(setup.prompt, base.system_prompt)
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
    session.seed_widget(session.COMPARE_SAMPLES, setup.samples or DEFAULT_SAMPLES)
    samples = left.number_input("Samples per setting", 1, MAX_SAMPLES, key=session.COMPARE_SAMPLES)
    bound = right.number_input(
        "Requests at once",
        1,
        MAX_CONCURRENCY,
        DEFAULT_CONCURRENCY,
        key=session.COMPARE_CONCURRENCY,
        help="How many requests run at the same time; the rest wait their turn.",
    )
    evaluation = render_evaluation(variants)
    return _Typed(
        variants,
        use_conversation,
        models,
        axes,
        int(samples),
        int(bound),
        evaluation,
        tuple(conversation),
    )


def _planned(typed: _Typed) -> tuple[SweepRequest | None, Blocked | None]:
    """The request the form makes (None when it makes none), and why Run may not go
    ahead (None: it may). A blank prompt can still be estimated; a missing variable,
    an invalid assertion or an unreadable value cannot."""
    if typed.axes is None:
        return None, Blocked("A value to vary cannot be read: open the form above to see which.")
    evaluation = typed.evaluation
    if evaluation.blocking:
        return None, Blocked(" ".join(evaluation.blocking))
    first = typed.variants[0]
    path = list(typed.context) if typed.use_conversation else []
    base = replace(session.chat_settings(), system_prompt=first.system)
    problem = schema_problem(base.response_format)  # the sidebar's response format
    if problem is not None:
        words = f"{problem.message} Fix it in the sidebar's Advanced settings."
        return None, Blocked(words, error=True)
    grid = Grid(base, typed.axes, typed.models, typed.samples)
    columns = evaluation.columns
    rows = tuple(tuple(value or "" for value in row) for row in evaluation.rows) if columns else ()
    compose: Compose | None = None
    if len(typed.variants) > 1 or columns:
        grid = replace(grid, variants=typed.variants, columns=columns, rows=rows)
        compose = _composer(path)
        messages = list(compose(first, grid.row_values(1 if rows else 0)))
    else:
        messages = request_messages(first.system, [*path, ChatMessage("user", first.user)])
    try:
        cells(grid)  # refuses a grid too big to send before anything is stored
    except GridError as err:
        return None, Blocked(str(err), error=True)
    judges = tuple(a.model or base.model for a in evaluation.asserts if a.type == "llm-rubric")
    request = SweepRequest(
        grid,
        first.user,
        messages,
        typed.bound,
        variants=typed.variants,
        columns=columns,
        rows=rows,
        asserts=evaluation.asserts,
        compose=compose,
        judges=judges,
    )
    return request, _blank_prompt(typed.variants)


def _spec(request: SweepRequest) -> EvalSpec:
    """The request as a spec (``chatlab.compare.dump_spec`` writes it)."""
    grid = request.grid
    return EvalSpec(
        prompts=request.variants,
        tests=test_set_of(request.columns, request.rows),
        models=grid.models or (grid.base.model,),
        params=grid.axes,
        samples=grid.samples,
        asserts=request.asserts,
        threshold=request.threshold,
        response_format=grid.base.response_format,
    )


def _blank_prompt(variants: tuple[PromptVariant, ...]) -> Blocked | None:
    blank = [variant_label(i) for i, variant in enumerate(variants) if is_blank(variant.user)]
    if not blank:
        return None
    if len(variants) == 1:
        return Blocked("Type a prompt to run.")
    return Blocked(f"Prompt {', '.join(blank)} is empty: type it, or remove it.")


def _composer(context: Sequence[ChatMessage]) -> Compose:
    """What each cell of an evaluation sends: ``context``, then its variant's user prompt,
    under its system prompt, both filled from its test row."""

    def compose(variant: PromptVariant, row: Mapping[str, str]) -> list[dict[str, Any]]:
        question = ChatMessage("user", render(variant.user, row))
        return request_messages(render(variant.system, row), [*context, question])

    return compose


def _pick_models(endpoint: Endpoint, current: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    listed = model_client.models(endpoint)
    held = session.widget_value(session.COMPARE_MODELS)  # a loaded spec's may be unlisted
    if isinstance(listed, ChatError) or not listed or isinstance(held, str):
        session.seed_widget(session.COMPARE_MODELS, ", ".join(wanted) or current)
        typed = st.text_input("Models", key=session.COMPARE_MODELS, help="Model ids, by commas.")
        return tuple(dict.fromkeys(m.strip() for m in typed.split(",") if m.strip()))
    options = listed if current in listed else [current, *listed]
    if isinstance(held, list):
        options = [*options, *(str(m) for m in held if m not in options)]
    default = [m for m in wanted if m in options] or [current]  # a link's unknown ids: left out
    session.seed_widget(session.COMPARE_MODELS, default)
    chosen = st.multiselect("Models", options, key=session.COMPARE_MODELS)
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
    session.seed_widget(session.COMPARE_VALUES + name, default)
    return str(st.text_input(label, key=session.COMPARE_VALUES + name, help=VALUES_HELP + hint))
