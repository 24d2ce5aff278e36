""" "What changed": a run's figures from its lowest to its highest parameter value, in words.

No model is asked: every figure is computed from the results and returned as data
(``Figure``, ``Cheapest``) next to the sentence built from them, so each number said can be
traced to the table (the results counted, the means compared). Between the lowest and the
highest value of the varied parameter (numbers in order; choices in the order first seen):

- length: the mean output length, and its change in per cent;
- variety: the mean number of distinct answers (clusters, ``chatlab.compare.clusters``) of
  a result's cell, and the ratio high / low ("3 times more varied", said with a sign);
- pass rate: the share of judged results that passed (results not judged are left out),
  and its change in percentage points.

Then the cheapest setting (a variant and setting pair, as the table names it) whose pass
rate is at least the goal (90% by default): the lowest mean cost per result. A setting
with any result of unknown cost is left out: an unpriced model is not free.

One pass over the results (dictionaries of running sums), so 1,000 results take well
under the 50 ms the issue allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_GOAL", "Cheapest", "Figure", "Outcome", "Summary", "summarise"]

DEFAULT_GOAL = 0.9  # the pass rate "cheapest setting with pass rate ≥" names
Value = float | int | str


@dataclass(frozen=True)
class Outcome:
    """One result as the summary reads it."""

    variant: str  # the prompt variant's label
    setting: str  # the setting as the table names it: ``temperature=0.7 · gpt-4o-mini``
    value: Value  # the varied parameter's value in this result
    length: int  # characters of the output
    passed: bool | None  # all its assertions passed; None: not judged
    cost_usd: float | None  # None: unknown
    answers: int  # distinct answers in its cell (clusters)


@dataclass(frozen=True)
class Figure:
    """One compared figure: its mean at the lowest and the highest value, and the change."""

    name: Literal["length", "variety", "pass rate"]
    low: float  # mean at the lowest value (pass rate: 0..1)
    high: float
    change: float | None  # length: per cent; variety: ratio; pass rate: points (0..100)
    counted: tuple[int, int]  # results behind ``low`` and ``high``
    text: str  # the words said for it


@dataclass(frozen=True)
class Cheapest:
    """The cheapest setting that reaches the goal: which, its pass rate and mean cost."""

    variant: str
    setting: str
    pass_rate: float
    mean_cost_usd: float
    counted: int


@dataclass(frozen=True)
class Summary:
    """The figures, the cheapest setting, and the sentences said from them."""

    parameter: str
    low: Value | None
    high: Value | None
    figures: tuple[Figure, ...]
    cheapest: Cheapest | None
    goal: float
    text: str


@dataclass
class _Sums:
    count: int = 0
    length: int = 0
    answers: int = 0
    judged: int = 0
    passed: int = 0
    cost: float = 0.0
    cost_unknown: bool = False

    def add(self, outcome: Outcome) -> None:
        self.count += 1
        self.length += outcome.length
        self.answers += outcome.answers
        if outcome.passed is not None:
            self.judged += 1
            self.passed += outcome.passed
        if outcome.cost_usd is None:
            self.cost_unknown = True
        else:
            self.cost += outcome.cost_usd

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None


def summarise(outcomes: Sequence[Outcome], parameter: str, goal: float = DEFAULT_GOAL) -> Summary:
    """What changed from the lowest to the highest value of ``parameter`` (module docstring)."""
    by_value: dict[Value, _Sums] = {}
    by_setting: dict[tuple[str, str], _Sums] = {}
    for outcome in outcomes:
        by_value.setdefault(outcome.value, _Sums()).add(outcome)
        by_setting.setdefault((outcome.variant, outcome.setting), _Sums()).add(outcome)
    values = _ordered(list(by_value))
    low, high = (values[0], values[-1]) if values else (None, None)
    figures: tuple[Figure, ...] = ()
    if low is not None and high is not None and low != high:
        figures = _figures(by_value[low], by_value[high])
    variants = len({variant for variant, _ in by_setting})
    cheapest = _cheapest(by_setting, goal)
    text = _sentences(parameter, low, high, figures, cheapest, by_setting, goal, variants)
    return Summary(parameter, low, high, figures, cheapest, goal, text)


def _ordered(values: list[Value]) -> list[Value]:
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return sorted(values, key=float)
    return values  # choices: in the order first seen


def _figures(low: _Sums, high: _Sums) -> tuple[Figure, ...]:
    counted = (low.count, high.count)
    figures = [_length(low.length / low.count, high.length / high.count, counted)]
    figures.append(_variety(low.answers / low.count, high.answers / high.count, counted))
    low_rate, high_rate = low.pass_rate, high.pass_rate
    if low_rate is not None and high_rate is not None:
        figures.append(_pass_rate(low_rate, high_rate, (low.judged, high.judged)))
    return tuple(figures)


def _length(low: float, high: float, counted: tuple[int, int]) -> Figure:
    if low == 0:
        change = None
        text = f"replies went from empty to {high:,.0f} characters"
    else:
        change = (high - low) / low * 100
        shown = round(abs(change))
        if shown == 0:
            text = "replies kept their length"
        else:
            text = f"replies got {shown}% {'longer' if change > 0 else 'shorter'}"
    return Figure("length", low, high, change, counted, text)


def _variety(low: float, high: float, counted: tuple[int, int]) -> Figure:
    ratio = high / low if low else None
    if ratio is None:
        text = "variety cannot be compared"
    elif ratio >= 1.05:
        text = f"{_times(ratio)} more varied"
    elif ratio <= 1 / 1.05:
        text = f"{_times(1 / ratio)} less varied"
    else:
        text = "as varied"
    return Figure("variety", low, high, ratio, counted, text)


def _times(ratio: float) -> str:
    return f"{ratio:.1f}".removesuffix(".0") + "×"


def _pass_rate(low: float, high: float, counted: tuple[int, int]) -> Figure:
    points = (high - low) * 100
    if _percent(low) == _percent(high):
        text = f"the pass rate stayed at {_percent(high)}"
    else:
        verb = "rose" if high > low else "fell"
        text = f"the pass rate {verb} from {_percent(low)} to {_percent(high)}"
    return Figure("pass rate", low, high, points, counted, text)


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def _cheapest(by_setting: dict[tuple[str, str], _Sums], goal: float) -> Cheapest | None:
    best: Cheapest | None = None
    for (variant, setting), sums in by_setting.items():
        rate = sums.pass_rate
        if rate is None or rate < goal or sums.cost_unknown:
            continue
        mean = sums.cost / sums.count
        if best is None or mean < best.mean_cost_usd:  # ties: the one seen first
            best = Cheapest(variant, setting, rate, mean, sums.count)
    return best


def _sentences(
    parameter: str,
    low: Value | None,
    high: Value | None,
    figures: tuple[Figure, ...],
    cheapest: Cheapest | None,
    by_setting: dict[tuple[str, str], _Sums],
    goal: float,
    variants: int,
) -> str:
    if low is None:
        return "No results yet."
    said = []
    if figures:
        said.append(
            f"From {parameter} {_value(low)} to {_value(high)}, "
            + _listed([figure.text for figure in figures])
            + "."
        )
    judged = any(sums.judged for sums in by_setting.values())
    if cheapest is not None:
        name = cheapest.setting if variants == 1 else f"{cheapest.variant} · {cheapest.setting}"
        said.append(
            f"Cheapest setting with pass rate ≥ {_percent(goal)}: {name} "
            f"({_percent(cheapest.pass_rate)}, {_money(cheapest.mean_cost_usd)} a reply)."
        )
    elif judged:
        said.append(f"No setting with a known cost has a pass rate ≥ {_percent(goal)}.")
    return " ".join(said) or f"Only one {parameter} value ({_value(low)}): nothing to compare."


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _value(value: Value | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 1 else f"${usd:.6f}".rstrip("0").rstrip(".")
