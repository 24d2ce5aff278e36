"""The pass-rate table the command line prints: per prompt variant and setting, and overall.

A result passes when every check of it passed (``Result.passed``). Every result counts in
its rate's denominator: a request that failed, or a result whose judge gave no verdict,
is not a pass. A run without assertions has no rate (``None``), never 100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatlab.grid import Result

__all__ = ["Rate", "Scoreboard", "scoreboard"]


@dataclass(frozen=True)
class Rate:
    """Results that passed, of how many; ``rate`` None when none was checked."""

    passed: int = 0
    total: int = 0
    checked: bool = True  # False: the run has no assertions

    @property
    def rate(self) -> float | None:
        return self.passed / self.total if self.checked and self.total else None

    def add(self, result: Result) -> Rate:
        return Rate(self.passed + (result.passed is True), self.total + 1, self.checked)

    def __str__(self) -> str:
        rate = self.rate
        return "-" if rate is None else f"{rate:.0%} ({self.passed}/{self.total})"


@dataclass(frozen=True)
class Scoreboard:
    """The rate of each (variant, setting) in the run's order, and overall."""

    rows: tuple[tuple[str, str, Rate], ...]
    overall: Rate

    def table(self) -> str:
        """A plain-text table: prompt, setting, pass rate; then the overall line."""
        lines = [("prompt", "setting", "pass rate")]
        lines += [(variant or "-", setting, str(rate)) for variant, setting, rate in self.rows]
        lines.append(("all", "", str(self.overall)))
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip()
            for line in lines
        )


def scoreboard(results: Sequence[Result], *, asserted: bool) -> Scoreboard:
    """The pass rates of ``results`` by prompt variant and setting (over rows and samples);
    ``asserted``: the run has assertions (else there is no rate)."""
    rates: dict[tuple[str, str], Rate] = {}
    overall = Rate(checked=asserted)
    for result in results:
        key = (result.cell.variant, result.cell.parameters)
        rates[key] = rates.get(key, Rate(checked=asserted)).add(result)
        overall = overall.add(result)
    return Scoreboard(tuple((v, s, rate) for (v, s), rate in rates.items()), overall)
