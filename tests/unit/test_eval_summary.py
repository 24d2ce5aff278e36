"""The "what changed" summary: each figure computed from the results and returned as data,
the sentence said from them, the cheapest setting reaching the goal (unknown cost left
out), the edge cases, and 1,000 results summarised well within 50 ms."""

from __future__ import annotations

import time

import pytest

from chatlab.compare.summary import Figure, Outcome, summarise


def outcome(
    value: float | str,
    length: int,
    passed: bool | None,
    *,
    answers: int = 1,
    cost: float | None = 0.001,
    model: str = "gpt-4o-mini",
    variant: str = "prompt 1",
) -> Outcome:
    return Outcome(variant, f"temperature={value} · {model}", value, length, passed, cost, answers)


ISSUE_EXAMPLE = [
    # temperature 0: 3 samples, one answer, all pass, 100 characters
    *[outcome(0.0, 100, True, answers=1) for _ in range(3)],
    # 0.7: passes, cheaper than 0
    *[outcome(0.7, 120, True, answers=2, cost=0.0005) for _ in range(3)],
    # 1.4: 3 answers, 135 characters, 2 of 3 pass, cheapest but below the goal
    outcome(1.4, 135, True, answers=3, cost=0.0001),
    outcome(1.4, 135, True, answers=3, cost=0.0001),
    outcome(1.4, 135, False, answers=3, cost=0.0001),
]


def test_the_issues_example() -> None:
    found = summarise(ISSUE_EXAMPLE, "temperature")
    assert (found.low, found.high) == (0.0, 1.4)
    length, variety, pass_rate = found.figures
    assert length.change == pytest.approx(35)
    assert (length.low, length.high, length.counted) == (100, 135, (3, 3))
    assert length.text == "replies got 35% longer"
    assert variety == Figure("variety", 1, 3, 3, (3, 3), "3× more varied")
    assert pass_rate.low == 1 and pass_rate.high == pytest.approx(2 / 3)
    assert pass_rate.change == pytest.approx(-100 / 3)
    cheapest = found.cheapest
    assert cheapest is not None
    assert cheapest.mean_cost_usd == pytest.approx(0.0005)
    assert (cheapest.variant, cheapest.setting, cheapest.pass_rate, cheapest.counted) == (
        "prompt 1",
        "temperature=0.7 · gpt-4o-mini",
        1.0,
        3,
    )
    assert found.text == (
        "From temperature 0 to 1.4, replies got 35% longer, 3× more varied and the pass rate "
        "fell from 100% to 67%. Cheapest setting with pass rate ≥ 90%: "
        "temperature=0.7 · gpt-4o-mini (100%, $0.0005 a reply)."
    )


def test_shorter_less_varied_rising_pass_rate() -> None:
    found = summarise(
        [outcome(1, 200, False, answers=4), outcome(0, 100, True, answers=2),
         outcome(1, 200, True, answers=4)],
        "seed",
    )  # fmt: skip
    assert found.text.startswith(
        "From seed 0 to 1, replies got 100% longer, 2× more varied and the pass rate fell "
        "from 100% to 50%."
    )
    found = summarise([outcome(0.0, 100, False, answers=3), outcome(2.0, 50, True, answers=2)], "t")
    assert "replies got 50% shorter, 1.5× less varied and the pass rate rose from 0% to 100%" in (
        found.text
    )


def test_unchanged_figures() -> None:
    found = summarise([outcome(0.0, 100, True), outcome(1.0, 100, True)], "top_p")
    assert found.text.startswith(
        "From top_p 0 to 1, replies kept their length, as varied and the pass rate stayed at 100%."
    )


def test_unknown_cost_is_never_the_cheapest() -> None:
    results = [
        outcome(0.0, 10, True, cost=None, model="local"),
        outcome(0.0, 10, True, cost=0.01, model="paid"),
    ]
    found = summarise(results, "temperature")
    assert found.cheapest is not None and found.cheapest.setting.endswith("paid")
    found = summarise([outcome(0.0, 10, True, cost=None)], "temperature")
    assert found.cheapest is None
    assert found.text == "No setting with a known cost has a pass rate ≥ 90%."


def test_the_goal_is_a_parameter_and_variants_are_named_when_several() -> None:
    results = [
        outcome(0.0, 10, True, variant="prompt 1", cost=0.002),
        outcome(0.0, 10, False, variant="prompt 1", cost=0.002),
        outcome(0.0, 10, True, variant="prompt 2", cost=0.003),
    ]
    assert summarise(results, "temperature").cheapest.variant == "prompt 2"  # type: ignore[union-attr]
    found = summarise(results, "temperature", goal=0.5)
    assert found.text == (
        "Cheapest setting with pass rate ≥ 50%: prompt 1 · temperature=0.0 · gpt-4o-mini "
        "(50%, $0.002 a reply)."
    )


def test_no_judged_results_say_no_pass_rate() -> None:
    found = summarise([outcome(0.0, 10, None), outcome(1.0, 0, None)], "temperature")
    assert [figure.name for figure in found.figures] == ["length", "variety"]
    assert found.cheapest is None
    assert found.text == "From temperature 0 to 1, replies got 100% shorter and as varied."
    empty_first = summarise([outcome(0.0, 0, None), outcome(1.0, 30, None)], "temperature")
    assert empty_first.figures[0].change is None
    assert "replies went from empty to 30 characters" in empty_first.text


def test_edge_cases() -> None:
    assert summarise([], "temperature").text == "No results yet."
    one = summarise([outcome(0.5, 10, None)], "temperature")
    assert one.figures == ()
    assert one.text == "Only one temperature value (0.5): nothing to compare."
    choices = summarise([outcome("low", 10, None), outcome("high", 20, None)], "reasoning_effort")
    assert (choices.low, choices.high) == ("low", "high")  # choices: in the order first seen


def test_a_thousand_results_well_within_50_ms() -> None:
    results = [
        outcome(float(i % 5), 100 + i, i % 3 != 0, answers=1 + i % 3, model=f"m{i % 4}")
        for i in range(1000)
    ]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        summarise(results, "temperature")
        best = min(best, time.perf_counter() - start)
    assert best < 0.05
