"""A compare run's results read together: by setting, as table rows, and summarised.

Each setting's summary holds its samples' mean telemetry and how much their texts differ
(``chatlab.compare.diversity``): the numbers the charts draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatlab.compare.diversity import Diversity, diversity
from chatlab.grid import (
    Result,
)


def groups(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Results by setting, in grid order."""
    found: dict[str, list[Result]] = {}
    for result in results:
        found.setdefault(result.cell.setting, []).append(result)
    return found


def table_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One row per result: its setting, sample, output and telemetry (None = unknown)."""
    rows = []
    for result in results:
        stats = result.stats
        usage = stats.usage if stats is not None else None
        varied = {name: value for name, value in result.cell.varied if name != "model"}
        rows.append(
            {
                "setting": result.cell.setting,
                "model": result.cell.settings.model,
                **varied,
                "sample": result.cell.sample,
                "state": result.state.value,
                "output": result.text,
                "tokens in": usage.prompt_tokens if usage is not None else None,
                "tokens out": usage.completion_tokens if usage is not None else None,
                "estimated": usage.estimated if usage is not None else None,
                "time to first token (s)": stats.time_to_first_token if stats else None,
                "total time (s)": stats.total_time if stats is not None else None,
                "tokens/s": stats.tokens_per_second if stats is not None else None,
                "finish reason": stats.finish_reason if stats is not None else None,
                "cost (USD)": stats.cost_usd if stats is not None else None,
                "mean logprob": result.mean_logprob,
                "error": result.error,
            }
        )
    return rows


@dataclass(frozen=True)
class SettingSummary:
    """One setting's samples in figures: speed, length, cost and how varied they are."""

    setting: str
    samples: int  # results with text
    mean_total_time: float | None
    mean_tokens_out: float | None
    cost_usd: float | None  # None when any sample's cost is unknown
    diversity: Diversity


def summaries(results: Sequence[Result]) -> list[SettingSummary]:
    """Each setting's summary, in grid order; only results that produced text count."""
    found = []
    for setting, members in groups(results).items():
        answered = [r for r in members if r.text]
        stats = [r.stats for r in answered if r.stats is not None]
        costs = [s.cost_usd for s in stats]
        found.append(
            SettingSummary(
                setting=setting,
                samples=len(answered),
                mean_total_time=_mean([s.total_time for s in stats]),
                mean_tokens_out=_mean([s.usage.completion_tokens for s in stats]),
                cost_usd=None if not costs or None in costs else sum(c or 0.0 for c in costs),
                diversity=diversity([r.text for r in answered]),
            )
        )
    return found


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
