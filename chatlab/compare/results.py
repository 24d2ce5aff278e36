"""A compare run's results read together: by setting, as table rows, summarised, charted.

Each setting's summary holds its samples' mean telemetry and how much their texts differ
(``chatlab.compare.diversity``): the numbers the charts draw.

The charts keep the model and the varied parameters apart (``ChartAxis``): the model is
a colour, never part of an x label, and a single numeric parameter (temperature) is a
number on the x axis, so 0.7 sits between 0 and 1.4 and two models' lines can be read
against each other. Several parameters, or a choice, are one short label per setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatlab.compare.diversity import Diversity, diversity
from chatlab.grid import Cell, Result
from chatlab.model_names import display_name

# The measures the charts draw: fields of ``chart_rows`` (per reply) and ``setting_rows``.
REPLY_LENGTH = "reply_tokens"
FIRST_WORD_WAIT = "first_token_s"
SPEED = "tokens_per_s"
TOTAL_TIME = "total_s"
COST = "cost_usd"
UNIQUE_WORDS = "unique_words"
UNIQUE_PAIRS = "unique_pairs"
OVERLAP = "overlap"


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


@dataclass(frozen=True)
class ChartAxis:
    """What the charts put on x: ``field`` of the rows, numeric or labels in ``order``."""

    field: str  # a parameter's name, "values" (one label per setting) or "model"
    title: str
    numeric: bool
    order: tuple[Any, ...]  # the x values in grid order (the ticks of a numeric axis)


def chart_axis(results: Sequence[Result]) -> ChartAxis:
    """One numeric varied parameter: a number axis; none: the model; else labels."""
    names = list(dict.fromkeys(name for r in results for name, _ in _varied(r.cell)))
    values = tuple(dict.fromkeys(_x_value(r.cell, names) for r in results))
    if not names:
        return ChartAxis("model", "model", False, values)
    numeric = len(names) == 1 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    if numeric:
        return ChartAxis(names[0], names[0].replace("_", " "), True, tuple(sorted(values)))
    return ChartAxis("values", "setting", False, values)


def _varied(cell: Cell) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in cell.varied if name != "model"]


def _x_value(cell: Cell, names: list[str]) -> Any:
    varied = _varied(cell)
    if not names:
        return display_name(cell.settings.model)
    if len(names) == 1:
        return varied[0][1]
    return " · ".join(f"{name}={value}" for name, value in varied)


def _placed(cell: Cell, axis: ChartAxis) -> dict[str, Any]:
    """The model (as shown) and the x value of a cell's row."""
    names = [] if axis.field == "model" else [name for name, _ in _varied(cell)]
    return {"model": display_name(cell.settings.model), axis.field: _x_value(cell, names)}


def chart_rows(results: Sequence[Result], axis: ChartAxis) -> list[dict[str, Any]]:
    """One row per reply with text: where it sits, its sample and its telemetry."""
    rows = []
    for result in results:
        stats = result.stats
        if not result.text or stats is None:
            continue
        rows.append(
            {
                **_placed(result.cell, axis),
                "setting": result.cell.setting,
                "sample": result.cell.sample,
                REPLY_LENGTH: stats.usage.completion_tokens,
                FIRST_WORD_WAIT: stats.time_to_first_token,
                SPEED: stats.tokens_per_second,
                TOTAL_TIME: stats.total_time,
            }
        )
    return rows


def setting_rows(results: Sequence[Result], axis: ChartAxis) -> list[dict[str, Any]]:
    """One row per setting with a reply: where it sits, its variety and its cost."""
    members = groups(results)
    return [
        {
            **_placed(members[found.setting][0].cell, axis),
            "setting": found.setting,
            "samples": found.samples,
            UNIQUE_WORDS: found.diversity.distinct_1,
            UNIQUE_PAIRS: found.diversity.distinct_2,
            OVERLAP: found.diversity.mean_similarity,
            COST: found.cost_usd,
        }
        for found in summaries(results)
        if found.samples
    ]
