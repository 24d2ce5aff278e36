"""Running an evaluation: each cell's messages, and each finished result's checks.

A cell of an evaluation sends its prompt variant filled from its test row (``compose``):
the variant's system prompt, then the context the run was given (an open conversation's
turns, as the request would carry them), then the variant's user prompt. Values are
inserted literally (``variables.render``): a value holding ``{{x}}`` stays text.

A finished result is checked by every assertion of the run, in order (``evaluator``):
the plain ones on the spot (``assertions.check``), each ``llm-rubric`` by a judge request
(``judge_messages`` -> a model -> ``parse_verdict``). A judge that fails, or whose reply is
not a verdict, gives a check that is neither passed nor failed (``passed=None``) with the
reason: the result is not a pass. Every judge request's telemetry is kept on the result
(``Result.judged``), counted as ``judge`` in Usage and priced like any request.

``reply_judge`` sends a judge request through the same path as every other request
(``BackgroundReply``, so it waits its turn under the spending limits like a cell), at
temperature 0 and ``JUDGE_MAX_TOKENS``; the page and the command line both use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from chatlab.compare.assertions import Assertion
from chatlab.compare.assertions import check as check_assertion
from chatlab.compare.judge import judge_messages, parse_verdict
from chatlab.compare.sweep import Evaluate
from chatlab.compare.variables import render
from chatlab.deadline import Watch
from chatlab.errors import ChatLabError
from chatlab.grid import Check, Compose, Grid, PromptVariant, Result
from chatlab.messages import ChatSettings, ReplyStats, is_blank
from chatlab.provider import Admit, BackgroundReply, ReplyStream

__all__ = [
    "JUDGE_MAX_TOKENS",
    "Judge",
    "assertion_name",
    "composer",
    "evaluator",
    "reply_judge",
]

JUDGE_MAX_TOKENS = 300  # a verdict and a one-line reason, with room for a preamble
NAMED = 50  # characters of an assertion's value in its name

# A judge model and its messages -> the reply's text and telemetry; ChatLabError on failure.
Judge = Callable[[str, list[dict[str, str]]], tuple[str, ReplyStats | None]]
# Settings, messages and a watch -> an open stream (``chatlab.provider.start_reply``).
StartJudge = Callable[[ChatSettings, list[dict[str, str]], Watch], ReplyStream]


def composer(context: Sequence[Mapping[str, Any]] = ()) -> Compose:
    """Each variant-and-row cell's messages, after ``context`` (a request's turns)."""
    turns = [dict(message) for message in context if message.get("role") != "system"]

    def compose(variant: PromptVariant, row: Mapping[str, str]) -> list[dict[str, Any]]:
        system = render(variant.system, row)
        messages: list[dict[str, Any]] = []
        if not is_blank(system):
            messages.append({"role": "system", "content": system})
        return [*messages, *turns, {"role": "user", "content": render(variant.user, row)}]

    return compose


def assertion_name(assertion: Assertion) -> str:
    """How a check is named on cards and in the matrix: ``contains "{{expected}}"``."""
    value = assertion.value
    if value is None or isinstance(value, Mapping):
        return assertion.type if value is None else f"{assertion.type} (schema)"
    text = str(value)
    shown = text if len(text) <= NAMED else text[: NAMED - 1] + "…"
    if assertion.type == "llm-rubric":
        return f"judge: {shown}"
    if isinstance(value, str):
        return f'{assertion.type} "{shown}"'
    return f"{assertion.type} {value:g}"


def evaluator(asserts: Sequence[Assertion], grid: Grid, judge: Judge | None) -> Evaluate:
    """Checks a finished result by ``asserts``, with ``judge`` for ``llm-rubric`` ones."""

    def evaluate(result: Result) -> Result:
        row = grid.row_values(result.cell.row)
        checks: list[Check] = []
        judged: ReplyStats | None = None
        for assertion in asserts:
            name = assertion_name(assertion)
            if assertion.type != "llm-rubric":
                checks.append(_checked(name, assertion, result, row))
                continue
            model = assertion.model or result.cell.settings.model
            check, stats = _judged(name, assertion, model, result.text, row, judge)
            checks.append(check)
            if stats is not None:
                judged = stats if judged is None else judged.followed_by(stats)
        return replace(result, checks=tuple(checks), judged=judged)

    return evaluate


def _checked(name: str, assertion: Assertion, result: Result, row: Mapping[str, str]) -> Check:
    try:
        asked = result.cell.settings.response_format
        verdict = check_assertion(assertion, result.text, result.stats, row, asked)
    except ChatLabError as err:  # a variable the row lacks (said before the run, too)
        return Check(name, None, str(err))
    return Check(name, verdict.passed, verdict.reason)


def _judged(
    name: str,
    assertion: Assertion,
    model: str,
    output: str,
    row: Mapping[str, str],
    judge: Judge | None,
) -> tuple[Check, ReplyStats | None]:
    if judge is None:
        return Check(name, None, "No judge was available for this run."), None
    stats: ReplyStats | None = None
    try:
        messages = judge_messages(str(assertion.value), output, row, assertion.scale)
        text, stats = judge(model, messages)
        verdict = parse_verdict(text, assertion.scale)
    except ChatLabError as err:
        return Check(name, None, f"The judge ({model}) gave no verdict: {err}"), stats
    score = verdict.score if assertion.scale == "1-5" else None
    return Check(name, verdict.passed, f"{model}: {verdict.reason}", score), stats


def reply_judge(start: StartJudge, *, admit: Admit | None = None) -> Judge:
    """A judge that sends its request with ``start``, each under ``admit`` (the limits)."""

    def judge(model: str, messages: list[dict[str, str]]) -> tuple[str, ReplyStats | None]:
        settings = ChatSettings(model=model, temperature=0.0, max_tokens=JUDGE_MAX_TOKENS)
        worker = BackgroundReply(lambda watch: start(settings, messages, watch), admit=admit)
        try:
            text = "".join(delta for delta in worker.deltas() if delta)
        finally:
            worker.close()
        return text, worker.outcome().counted_as("judge").stats

    return judge
