"""A Compare run's cost before it is sent, and the budget it must fit.

A run is checked whole before its first request: every request's input is estimated
(``chatlab.tokens``: the messages are the same for every cell), its output counted at its
max tokens (a reply may be shorter, never longer), and priced at the endpoint's list
prices (genai-prices). So the cost is an upper bound, "at most". A model without a known
price has an unknown cost, which is said, never taken as $0; such a run is held to the
request limit alone.

An evaluation's cells send their own messages (its prompt variants filled from the test
rows): each is estimated apart, and "tokens in each" is the largest, which is what a
context window must hold. Each judge request (an ``llm-rubric`` assertion, per result) is
counted and priced too: the reply judged (at most its max tokens) plus the rubric in, a
short verdict out. The time is an estimate from each model's measured speed (tokens per
second from Usage) where one is known, else ``DEFAULT_TOKENS_PER_SECOND``, said so.

Max tokens is first brought within each model's limit (``chatlab.params``): a cell asking
for more is sent at the limit, and cells made identical by that are sent once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from chatlab.errors import ChatLabError
from chatlab.grid import Cell, Result, Run
from chatlab.tokens import estimate_prompt_tokens

# model, input tokens, output tokens -> USD at list prices, None when unknown
Price = Callable[[str, int, int], float | None]
DEFAULT_TOKENS_PER_SECOND = 30.0  # a model whose speed was never measured
JUDGE_OUTPUT_TOKENS = 100  # a verdict and its one-line reason


class BudgetError(ChatLabError):
    """A run refused before anything was sent: over a limit, or too long for a model."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message, action, retryable=False)


@dataclass(frozen=True)
class Budget:
    """What one run may spend; 0 means no limit."""

    max_requests: int
    max_cost_usd: float


@dataclass(frozen=True)
class Estimate:
    """A run's requests, tokens and cost before it is sent."""

    requests: int
    input_tokens: int  # per request
    output_tokens: int  # at most, all requests together
    cost_usd: float | None  # at most, the priced requests; None when none is priced
    unpriced: tuple[str, ...] = ()  # models whose price is unknown
    seconds: float | None = None  # at most, the run's requests at their concurrency
    guessed_speed: tuple[str, ...] = ()  # models timed at the default speed

    @property
    def summary(self) -> str:
        """``12 requests · ≈ 40 tokens in each · at most 12,288 out · at most $0.0123``."""
        parts = [
            f"{self.requests:,} request{'' if self.requests == 1 else 's'}",
            f"≈ {self.input_tokens:,} tokens in each",
            f"at most {self.output_tokens:,} out",
        ]
        if self.cost_usd is not None:
            parts.append(f"at most {money(self.cost_usd)}")
        if self.unpriced:
            parts.append(f"cost unknown for {', '.join(self.unpriced)} (no list price)")
        if self.seconds is not None:
            parts.append(f"at most {duration(self.seconds)}")
            if self.guessed_speed:
                parts.append(
                    f"timed at {DEFAULT_TOKENS_PER_SECOND:g} tokens/s for "
                    f"{', '.join(self.guessed_speed)} (no reply measured yet)"
                )
        return " · ".join(parts)


def duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``1 h 20 min``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def money(usd: float) -> str:
    """``$5.00``; small amounts keep their first figures (``$0.0012``)."""
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.4f}".rstrip("0").rstrip(".")


def within_limits(run: Run, max_tokens_of: Callable[[str], int]) -> Run:
    """The run with each cell's max tokens at most its model's limit; duplicates dropped."""
    kept: dict[tuple[object, ...], Result] = {}
    for result in run.results:
        cell = _capped(result.cell, max_tokens_of(result.cell.settings.model))
        key = (cell.variant, cell.row, cell.varied, cell.settings, cell.sample)
        kept.setdefault(key, replace(result, cell=cell))
    return replace(run, results=tuple(kept.values()))


def _capped(cell: Cell, limit: int) -> Cell:
    if cell.settings.max_tokens <= limit:
        return cell
    varied = tuple((n, limit if n == "max_tokens" else v) for n, v in cell.varied)
    return replace(cell, settings=replace(cell.settings, max_tokens=limit), varied=varied)


def estimate(
    cells: Sequence[Cell],
    messages: Sequence[Mapping[str, object]],
    price: Price,
    *,
    judges: Sequence[str] = (),
    speeds: Mapping[str, float] | None = None,
    concurrency: int = 1,
) -> Estimate:
    """What sending ``cells`` (each its own messages, else ``messages``) takes, and costs
    at most; ``judges`` are the judge models, one request each per cell; ``speeds`` the
    models' measured tokens per second, for the time at ``concurrency`` at once."""
    shared = estimate_prompt_tokens(messages)
    sizes: dict[str, int] = {}  # by the messages as JSON (a dict is no key)
    costs: dict[tuple[str, int, int], float | None] = {}
    priced: list[float | None] = []
    work: dict[str, int] = {}  # tokens each model may write
    largest, outputs = 0, 0
    for cell in cells:
        tokens_in = shared
        if cell.messages:
            said = json.dumps(cell.messages, sort_keys=True, default=str)
            if said not in sizes:
                sizes[said] = estimate_prompt_tokens(cell.messages)
            tokens_in = sizes[said]
        largest = max(largest, tokens_in)
        asked = [(cell.settings.model, tokens_in, cell.settings.max_tokens)]
        asked += [
            (judge, cell.settings.max_tokens + tokens_in, JUDGE_OUTPUT_TOKENS) for judge in judges
        ]
        for key in asked:
            if key not in costs:
                costs[key] = price(*key)
            priced.append(costs[key])
            outputs += key[2]
            work[key[0]] = work.get(key[0], 0) + key[2]
    known = [cost for cost in priced if cost is not None]
    unpriced = {model for (model, _, _), cost in costs.items() if cost is None}
    measured = speeds or {}
    seconds = sum(
        tokens / measured.get(model, DEFAULT_TOKENS_PER_SECOND) for model, tokens in work.items()
    )
    return Estimate(
        requests=len(priced),
        input_tokens=largest,
        output_tokens=outputs,
        cost_usd=sum(known) if known else None,
        unpriced=tuple(sorted(unpriced)),
        seconds=seconds / max(1, concurrency),
        guessed_speed=tuple(sorted(model for model in work if model not in measured)),
    )


def refusal(
    found: Estimate, budget: Budget, windows: Mapping[str, int | None]
) -> BudgetError | None:
    """Why this run may not be sent (the first reason), or None when it fits."""
    for model, window in windows.items():
        if window and found.input_tokens > window:
            return BudgetError(
                f"Each request would be ≈ {found.input_tokens:,} tokens, more than {model}'s "
                f"context window of {window:,}; nothing was sent.",
                "Shorten the prompt, or untick “Use the open conversation as context”.",
            )
    if budget.max_requests and found.requests > budget.max_requests:
        return BudgetError(
            f"This run would send {found.requests:,} requests; a run may send at most "
            f"{budget.max_requests:,} (CHATLAB_MAX_RUN_REQUESTS). Nothing was sent.",
            "Use fewer values, models or samples, or ask whoever runs Chat Lab to raise "
            "CHATLAB_MAX_RUN_REQUESTS.",
        )
    cost = found.cost_usd
    if budget.max_cost_usd and cost is not None and cost > budget.max_cost_usd:
        return BudgetError(
            f"This run could cost up to {money(cost)} ({found.summary}); a run may cost at "
            f"most {money(budget.max_cost_usd)} (CHATLAB_MAX_RUN_COST). Nothing was sent.",
            "Lower max tokens, use fewer samples, values or models, or a cheaper model; or "
            "ask whoever runs Chat Lab to raise CHATLAB_MAX_RUN_COST.",
        )
    return None
