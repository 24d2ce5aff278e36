"""The leaderboard's numbers: Bradley-Terry against a hand-computed case and a published
one, ties and "both bad", the prior, bootstrap intervals, "not enough votes", the win-rate
matrix, the filters, and a fit that depends on neither vote order nor which side is A."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlab.arena import (
    ELO_BASE,
    Contestant,
    Game,
    Verdict,
    Vote,
    filtered,
    games,
    leaderboard,
    log_strengths,
    win_rates,
)
from tests.unit.test_properties import FAST

START = datetime(2026, 12, 1, tzinfo=UTC)
_INVERSE = {
    Verdict.A: Verdict.B,
    Verdict.B: Verdict.A,
    Verdict.TIE: Verdict.TIE,
    Verdict.BOTH_BAD: Verdict.BOTH_BAD,
}


def vote(a: str, b: str, verdict: Verdict, day: int = 0, **more: object) -> Vote:
    return Vote(
        id=f"{a}-{b}-{day}",
        a=Contestant(a),
        b=Contestant(b),
        verdict=verdict,
        at=START + timedelta(days=day),
        **more,  # type: ignore[arg-type]
    )


def series(a: str, b: str, a_wins: int, b_wins: int, ties: int = 0) -> list[Vote]:
    return (
        [vote(a, b, Verdict.A)] * a_wins
        + [vote(a, b, Verdict.B)] * b_wins
        + [vote(a, b, Verdict.TIE)] * ties
    )


def fitted(votes: Iterable[Vote], prior: float = 0.0, **options: bool) -> dict[str, float]:
    return log_strengths(games(votes, **options), prior=prior)


# -- Bradley-Terry ---------------------------------------------------------------------------


def test_two_players_by_hand() -> None:
    # A beat B 3 times and lost once. The maximum-likelihood fit sets P(A beats B) to the
    # observed 3/4: p_A / (p_A + p_B) = 3/4, so p_A / p_B = 3 and, centred,
    # log p_A = ln(3)/2 = 0.5493, log p_B = -0.5493. On the Elo-like scale A is
    # 400 * log10(3) = 190.85 points above B.
    strengths = fitted(series("A", "B", 3, 1))
    assert strengths["A"] == pytest.approx(math.log(3) / 2, abs=1e-9)
    assert strengths["B"] == pytest.approx(-math.log(3) / 2, abs=1e-9)
    board = {s.label: s for s in leaderboard(series("A", "B", 3, 1), prior=0, rounds=0)}
    assert board["A"].rating - board["B"].rating == pytest.approx(400 * math.log10(3))
    assert board["A"].rating + board["B"].rating == pytest.approx(2 * ELO_BASE)


def test_three_players_by_hand() -> None:
    # Strengths 4 : 2 : 1 predict A beats B 2/3, B beats C 2/3, A beats C 4/5. Votes that
    # match those exactly: A-B 2-1, B-C 2-1, A-C 4-1. They satisfy the likelihood equations
    # W_i = sum_j n_ij p_i / (p_i + p_j):
    #   A: 2 + 4 = 6 = 3 * 2/3 + 5 * 4/5;  B: 1 + 2 = 3 = 3 * 1/3 + 3 * 2/3;
    #   C: 1 + 1 = 2 = 3 * 1/3 + 5 * 1/5.
    # So the fit is (4, 2, 1); centred logs: ln 2, 0, -ln 2.
    votes = series("A", "B", 2, 1) + series("B", "C", 2, 1) + series("A", "C", 4, 1)
    strengths = fitted(votes)
    assert strengths["A"] == pytest.approx(math.log(2), abs=1e-9)
    assert strengths["B"] == pytest.approx(0, abs=1e-9)
    assert strengths["C"] == pytest.approx(-math.log(2), abs=1e-9)


# Agresti, Categorical Data Analysis (2nd ed., 2002), section 10.6, Table 10.10: the 1987
# American League East, 13 games between each pair of 7 teams (home and away added up;
# the same data as the R package BradleyTerry2's `baseball`). Each row: two teams, the
# first's wins, the second's.
BASEBALL = [
    ("Milwaukee", "Detroit", 7, 6),
    ("Milwaukee", "Toronto", 9, 4),
    ("Milwaukee", "New York", 7, 6),
    ("Milwaukee", "Boston", 7, 6),
    ("Milwaukee", "Cleveland", 9, 4),
    ("Milwaukee", "Baltimore", 11, 2),
    ("Detroit", "Toronto", 7, 6),
    ("Detroit", "New York", 5, 8),
    ("Detroit", "Boston", 11, 2),
    ("Detroit", "Cleveland", 9, 4),
    ("Detroit", "Baltimore", 9, 4),
    ("Toronto", "New York", 7, 6),
    ("Toronto", "Boston", 7, 6),
    ("Toronto", "Cleveland", 8, 5),
    ("Toronto", "Baltimore", 12, 1),
    ("New York", "Boston", 6, 7),
    ("New York", "Cleveland", 7, 6),
    ("New York", "Baltimore", 10, 3),
    ("Boston", "Cleveland", 7, 6),
    ("Boston", "Baltimore", 12, 1),
    ("Cleveland", "Baltimore", 6, 7),
]
# The published log-strengths, Baltimore's set to 0 (Agresti's Table 10.11, to two places;
# BradleyTerry2's tests/baseball.Rout.save prints them to four: 1.5814, 1.4364, 1.2945,
# 1.2476, 1.1077, 0.6839).
PUBLISHED = {
    "Milwaukee": 1.5814,
    "Detroit": 1.4364,
    "Toronto": 1.2945,
    "New York": 1.2476,
    "Boston": 1.1077,
    "Cleveland": 0.6839,
    "Baltimore": 0.0,
}


def test_the_published_baseball_example() -> None:
    votes = [vote for row in BASEBALL for vote in series(*row)]
    strengths = fitted(votes)
    relative = {team: s - strengths["Baltimore"] for team, s in strengths.items()}
    assert relative == pytest.approx(PUBLISHED, abs=1e-4)
    ranked = [s.label for s in leaderboard(votes, prior=0, rounds=0)]
    assert ranked == list(PUBLISHED)  # Milwaukee first ... Baltimore last


def test_a_tie_is_half_a_win_to_each_side() -> None:
    # A won once and tied twice: 1 + 2 * 1/2 = 2 points of 3, B 1 point: as if 2-1.
    with_ties = fitted(series("A", "B", 1, 0, ties=2))
    assert with_ties == pytest.approx(fitted(series("A", "B", 2, 1)))
    assert fitted(series("A", "B", 2, 2, ties=5)) == pytest.approx({"A": 0.0, "B": 0.0})


def test_both_bad_is_a_tie_by_default_or_left_out() -> None:
    base = series("A", "B", 3, 1)
    both_bad = [*base, vote("A", "B", Verdict.BOTH_BAD), vote("B", "A", Verdict.BOTH_BAD)]
    assert fitted(both_bad) == pytest.approx(fitted(series("A", "B", 3, 1, ties=2)))
    assert fitted(both_bad, both_bad_as_tie=False) == pytest.approx(fitted(base))
    assert fitted(both_bad) != pytest.approx(fitted(base))
    # either way they count among the votes
    board = {s.label: s for s in leaderboard(both_bad, rounds=0, both_bad_as_tie=False)}
    assert (board["A"].votes, board["A"].both_bad, board["A"].ties) == (6, 2, 0)
    assert (board["A"].wins, board["A"].losses) == (3, 1)


def test_an_undefeated_player_stays_finite_with_the_prior() -> None:
    votes = series("A", "B", 10, 0) + series("B", "C", 3, 3)
    strengths = fitted(votes, prior=1.0)
    assert all(math.isfinite(s) for s in strengths.values())
    assert strengths["A"] > max(strengths["B"], strengths["C"])
    # more undefeated votes raise it further, yet it stays finite
    stronger = fitted(series("A", "B", 40, 0) + series("B", "C", 3, 3), prior=1.0)
    assert strengths["A"] < stronger["A"] < 10
    with pytest.raises(ValueError, match="both won and lost"):
        fitted(votes, prior=0)


def test_the_prior_pulls_few_votes_towards_even_and_many_votes_outweigh_it() -> None:
    exact = math.log(3) / 2  # the 3:1 record's maximum-likelihood log-strength
    few = fitted(series("A", "B", 3, 1), prior=1.0)["A"]
    many = fitted(series("A", "B", 300, 100), prior=1.0)["A"]
    assert 0 < few < exact
    assert few < many == pytest.approx(exact, abs=0.01)


def test_a_self_comparison_is_left_out() -> None:
    votes = [*series("A", "B", 3, 1), vote("A", "A", Verdict.A)]
    assert fitted(votes) == pytest.approx(fitted(series("A", "B", 3, 1)))
    board = {s.label: s for s in leaderboard(votes, rounds=0)}
    assert board["A"].votes == 4


# -- the leaderboard -------------------------------------------------------------------------


def league() -> list[Vote]:
    return (
        series("A", "B", 8, 4, ties=2)
        + series("B", "C", 7, 5)
        + series("A", "C", 9, 2, ties=1)
        + series("C", "D", 1, 1)  # D: two votes, not enough
    )


def test_not_enough_votes_is_listed_after_the_ranked_without_a_rank() -> None:
    board = leaderboard(league(), rounds=20)
    assert [(s.label, s.rank) for s in board] == [("A", 1), ("B", 2), ("C", 3), ("D", None)]
    d = board[-1]
    assert not d.enough and d.votes == 2 and d.wins == 1 and d.losses == 1
    assert all(s.enough for s in board[:-1])
    assert [s.rank for s in leaderboard(league(), min_votes=2, rounds=0)] == [1, 2, 3, 4]
    assert board[0].votes == 14 + 12 and board[0].ties == 3


def test_ratings_are_centred_on_1000() -> None:
    board = leaderboard(league(), rounds=0)
    assert sum(s.rating for s in board) / len(board) == pytest.approx(ELO_BASE)
    assert sum(s.strength for s in board) == pytest.approx(0, abs=1e-9)
    assert all(s.low is None and s.high is None for s in board)  # no resamples, no interval


def test_the_bootstrap_is_the_same_with_a_seed_and_different_with_another() -> None:
    first = leaderboard(league(), seed=7)
    again = leaderboard(league(), seed=7)
    other = leaderboard(league(), seed=8)
    intervals = [(s.low, s.high) for s in first]
    assert intervals == [(s.low, s.high) for s in again]
    assert intervals != [(s.low, s.high) for s in other]
    assert [s.rating for s in first] == [s.rating for s in other]  # only intervals resample


def test_intervals_contain_the_estimate_and_narrow_with_more_votes() -> None:
    board = leaderboard(league(), seed=1)
    for standing in board:
        assert standing.low is not None and standing.high is not None
        assert standing.low <= standing.rating <= standing.high
    more = leaderboard(league() * 10, seed=1)
    width = {s.label: s.high - s.low for s in board if s.high is not None and s.low is not None}
    for standing in more:
        assert standing.high is not None and standing.low is not None
        assert standing.high - standing.low < width[standing.label]


def test_no_votes_is_an_empty_board() -> None:
    assert leaderboard([]) == []
    assert win_rates([]) == []


# -- the win-rate matrix -------------------------------------------------------------------


def test_the_win_rate_matrix() -> None:
    votes = [
        *series("A", "B", 2, 1, ties=1),
        vote("B", "A", Verdict.BOTH_BAD),
        vote("B", "C", Verdict.A),
    ]
    cells = {(c["row"], c["column"]): c for c in win_rates(votes)}
    assert len(cells) == 6  # every ordered pair of 3, no diagonal
    ab = cells[("A", "B")]
    assert (ab["wins"], ab["ties"], ab["losses"], ab["games"]) == (2, 2, 1, 5)
    assert ab["rate"] == pytest.approx((2 + 2 / 2) / 5) and ab["text"] == "60% of 5"
    assert cells[("B", "A")]["rate"] == pytest.approx(1 - 0.6)
    assert cells[("B", "C")]["rate"] == 1.0 and cells[("C", "B")]["rate"] == 0.0
    assert cells[("A", "C")]["rate"] is None and cells[("A", "C")]["text"] == "no votes"
    apart = {(c["row"], c["column"]): c for c in win_rates(votes, both_bad_as_tie=False)}
    assert apart[("A", "B")]["games"] == 4 and apart[("A", "B")]["rate"] == pytest.approx(5 / 8)
    ordered = win_rates(votes, ["C", "B", "A"])
    assert [(c["row"], c["column"]) for c in ordered[:2]] == [("C", "B"), ("C", "A")]


# -- filters ---------------------------------------------------------------------------------


def test_filters_by_dates_tag_and_conversation() -> None:
    votes = [
        vote("A", "B", Verdict.A, day=0, tags=("code",), conversation="s1"),
        vote("A", "B", Verdict.B, day=1, tags=("code", "french"), conversation="s2"),
        vote("A", "B", Verdict.TIE, day=2, conversation="s2"),
    ]
    day = timedelta(days=1)
    assert filtered(votes) == votes
    assert filtered(votes, since=START + day) == votes[1:]  # since is included
    assert filtered(votes, until=START + day) == votes[:1]  # until is not
    assert filtered(votes, since=START + day, until=START + 2 * day) == votes[1:2]
    assert filtered(votes, tag="code") == votes[:2]
    assert filtered(votes, tag="french") == votes[1:2]
    assert filtered(votes, conversation="s2") == votes[1:]
    assert filtered(votes, tag="code", conversation="s2") == votes[1:2]
    assert filtered(votes, tag="none") == []


# -- properties ------------------------------------------------------------------------------

_PLAYERS = ["A", "B", "C", "D"]
_votes = st.lists(
    st.tuples(
        st.sampled_from(_PLAYERS),
        st.sampled_from(_PLAYERS),
        st.sampled_from(list(Verdict)),
    ).filter(lambda t: t[0] != t[1]),
    min_size=1,
    max_size=30,
)


def _board(votes: list[Vote]) -> dict[str, tuple[float, int | None, int]]:
    return {s.label: (s.rating, s.rank, s.votes) for s in leaderboard(votes, rounds=0)}


def _close(
    left: dict[str, tuple[float, int | None, int]], right: dict[str, tuple[float, int | None, int]]
) -> bool:
    return left.keys() == right.keys() and all(
        left[k][0] == pytest.approx(right[k][0], abs=1e-6) and left[k][2] == right[k][2]
        for k in left
    )


@FAST
@given(_votes, st.randoms(use_true_random=False))
def test_the_fit_ignores_vote_order_and_which_side_is_a(
    raw: list[tuple[str, str, Verdict]], rng: random.Random
) -> None:
    votes = [vote(a, b, verdict) for a, b, verdict in raw]
    shuffled = rng.sample(votes, len(votes))
    swapped = [vote(v.b.model, v.a.model, _INVERSE[v.verdict]) for v in votes]
    expected = _board(votes)
    assert _close(_board(shuffled), expected)
    assert _close(_board(swapped), expected)
    assert all(math.isfinite(rating) for rating, _, _ in expected.values())


def test_games_read_each_verdict() -> None:
    assert games([vote("A", "B", v) for v in Verdict]) == [
        Game("A", "B", 1.0),
        Game("A", "B", 0.0),
        Game("A", "B", 0.5),
        Game("A", "B", 0.5),
    ]
