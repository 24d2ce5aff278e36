"""The personal leaderboard's numbers: a Bradley-Terry fit of the votes, bootstrap 95%
intervals, "not enough votes", the win-rate matrix and the filters.

Decisions:

- **Model.** Bradley-Terry: contestant i beats j with probability p_i / (p_i + p_j). It is
  fitted by Hunter's MM algorithm (Hunter 2004, "MM algorithms for generalized
  Bradley-Terry models", Ann. Statist. 32(1), eq. 3): p_i <- W_i / sum_j n_ij / (p_i + p_j),
  all strengths at once, until no log-strength moves by more than ``TOLERANCE``.
- **Ties** count as half a win to each side, so a tie pulls two strengths together the way
  one win each way would (half-win counts keep the likelihood a Bradley-Terry one, so the
  MM update is unchanged).
- **Both bad** counts as a tie by default: neither reply was preferred, which is what the
  fit measures (Chatbot Arena, too, records "tie (bothbad)" with its ties).
  ``both_bad_as_tie=False`` leaves those votes out of the fit and the win rates; either way
  they count among a contestant's votes.
- A vote of a contestant against itself (same model, same settings) says nothing about
  which is better; it is left out everywhere.
- **Prior.** Every contestant also played ``prior`` virtual games against a fixed reference
  of strength 1 and drew them (half won, half lost). Without it an undefeated contestant's
  maximum-likelihood strength is infinite (and a winless one's zero); with it every
  strength is finite, few votes are pulled towards the reference, and many votes outweigh
  it. The default, one virtual game, is the weakest pull that keeps one or two lucky
  votes from topping the board. ``prior=0`` is the plain maximum-likelihood fit, which
  exists only when every contestant has both won and lost (Hunter's condition, roughly);
  otherwise it is refused.
- **Scale.** Ratings are on the Elo-like scale people know from Chatbot Arena:
  ``1000 + 400 * log10(p)``, shifted so that the contestants' mean is 1000; 400 points
  apart means 10:1 odds of winning. ``strength`` keeps the natural log-strength
  (the same shift), the form published Bradley-Terry tables give.
- **Intervals.** The votes are resampled with replacement ``rounds`` times (default 200)
  with a ``random.Random(seed)``, so a seed always gives the same intervals; each
  resample is fitted the same way and shifted by the same constant as the point estimate;
  a contestant's interval is the 2.5th to 97.5th percentile of its ratings over the
  resamples it appears in.
- **Not enough votes.** A contestant with fewer than ``min_votes`` votes (default 5) is
  listed, after the ranked ones, with no rank; its rating is still computed (and shrunk
  towards 1000 by the prior) but is not a confident place.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from chatlab.arena.votes import Verdict, Vote

__all__ = [
    "ELO_BASE",
    "ELO_SCALE",
    "MIN_VOTES",
    "PRIOR",
    "ROUNDS",
    "Game",
    "Standing",
    "filtered",
    "games",
    "leaderboard",
    "log_strengths",
    "win_rates",
]

PRIOR = 1.0  # virtual drawn games against the reference, per contestant
MIN_VOTES = 5
ROUNDS = 200
ELO_BASE = 1000.0
ELO_SCALE = 400.0 / math.log(10)  # a natural log-strength of 1 is about 174 points
TOLERANCE = 1e-10
MAX_ITERATIONS = 10_000
_SCORES = {Verdict.A: 1.0, Verdict.B: 0.0, Verdict.TIE: 0.5, Verdict.BOTH_BAD: 0.5}


@dataclass(frozen=True)
class Game:
    """One vote as the fit reads it: A's label, B's label, A's score (1, 0 or 0.5)."""

    a: str
    b: str
    score: float


def games(votes: Iterable[Vote], *, both_bad_as_tie: bool = True) -> list[Game]:
    """The votes the fit reads, in order: self-comparisons left out, and "both bad" too
    unless counted as a tie."""
    found = []
    for vote in votes:
        if vote.a.label == vote.b.label:
            continue
        if vote.verdict is Verdict.BOTH_BAD and not both_bad_as_tie:
            continue
        found.append(Game(vote.a.label, vote.b.label, _SCORES[vote.verdict]))
    return found


def log_strengths(played: Sequence[Game], *, prior: float = PRIOR) -> dict[str, float]:
    """Each contestant's natural log-strength, shifted to a mean of 0 (sorted by label)."""
    labels = sorted({g.a for g in played} | {g.b for g in played})
    fitted = _fit(_Table.of(played, labels), prior)
    return dict(zip(labels, (fitted - fitted.mean()).tolist(), strict=True))


@dataclass(frozen=True)
class _Table:
    """Games as arrays over contestants' indices, so a resample is a pick of rows."""

    size: int
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray

    @classmethod
    def of(cls, played: Sequence[Game], labels: Sequence[str]) -> _Table:
        index = {label: i for i, label in enumerate(labels)}
        return cls(
            len(labels),
            np.array([index[g.a] for g in played], dtype=np.intp),
            np.array([index[g.b] for g in played], dtype=np.intp),
            np.array([g.score for g in played], dtype=float),
        )

    def pick(self, rows: Sequence[int]) -> _Table:
        """These games only (repeats kept), over the same contestants."""
        chosen = np.asarray(rows, dtype=np.intp)
        return _Table(self.size, self.a[chosen], self.b[chosen], self.score[chosen])

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Points won by each contestant, and games between each pair."""
        won = np.zeros(self.size)
        np.add.at(won, self.a, self.score)
        np.add.at(won, self.b, 1.0 - self.score)
        met = np.zeros((self.size, self.size))
        np.add.at(met, (self.a, self.b), 1.0)
        np.add.at(met, (self.b, self.a), 1.0)
        return won, met


def _fit(table: _Table, prior: float) -> np.ndarray:
    """Log-strengths (not shifted) by Hunter's MM iteration; see the module's docstring.

    Pairwise games say nothing about a common shift of all log-strengths, so after each
    MM step the shift is set where it is best: with a prior, where the virtual draws are
    most likely (the contestants' mean win chance against the reference is one half);
    without, at a geometric mean of 1. Both steps only raise the likelihood, and they take
    the iteration from hundreds of steps to tens."""
    won, met = table.counts()
    if prior <= 0 and (np.any(won <= 0) or np.any(met.sum(axis=1) - won <= 0)):
        raise ValueError("without a prior, every contestant must have both won and lost")
    log_strength = np.zeros(table.size)
    for _ in range(MAX_ITERATIONS):
        strength = np.exp(log_strength)
        spent = (met / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.log(won + prior / 2) - np.log(spent + prior / (strength + 1.0))
        updated = _shifted(updated) if prior > 0 else updated - updated.mean()
        moved = float(np.max(np.abs(updated - log_strength), initial=0.0))
        log_strength = updated
        if moved < TOLERANCE:
            break
    return log_strength


def _shifted(log_strength: np.ndarray) -> np.ndarray:
    """``log_strength`` shifted so the mean chance of beating the reference is 1/2
    (Newton's method on a sum of logistic curves: increasing, so it converges)."""
    shift = 0.0
    for _ in range(100):
        chance = 1.0 / (1.0 + np.exp(-(log_strength + shift)))
        step = (chance.sum() - len(chance) / 2) / max(float((chance * (1 - chance)).sum()), 1e-12)
        shift -= step
        if abs(step) < 1e-13:
            break
    return log_strength + shift


@dataclass(frozen=True)
class Standing:
    """One contestant's line on the leaderboard. ``low``/``high``: the rating's bootstrap
    95% interval (None without resamples); ``rank`` None: not enough votes."""

    label: str
    rating: float
    strength: float  # natural log-strength, the same shift as the rating
    low: float | None
    high: float | None
    votes: int  # every vote it took part in, "both bad" included
    wins: int
    losses: int
    ties: int
    both_bad: int
    rank: int | None

    @property
    def enough(self) -> bool:
        """Whether it has the votes to be ranked."""
        return self.rank is not None


def leaderboard(
    votes: Sequence[Vote],
    *,
    min_votes: int = MIN_VOTES,
    rounds: int = ROUNDS,
    seed: int = 0,
    prior: float = PRIOR,
    both_bad_as_tie: bool = True,
) -> list[Standing]:
    """Every contestant of ``votes``: the ranked ones by rating, then those with too few."""
    played = games(votes, both_bad_as_tie=both_bad_as_tie)
    records = _records(votes)
    labels = sorted(records)
    if not labels:
        return []
    table = _Table.of(played, labels)
    fitted = _fit(table, prior)  # a contestant only in left-out "both bad" votes: the prior
    shift = float(fitted.mean())
    samples = _resampled(table, labels, prior, rounds, seed, shift)
    ratings = {label: _rating(s - shift) for label, s in zip(labels, fitted, strict=True)}
    order = sorted(labels, key=lambda label: (records[label][0] < min_votes, -ratings[label]))
    ranked = [label for label in order if records[label][0] >= min_votes]
    return [
        Standing(
            label=label,
            rating=ratings[label],
            strength=float(fitted[labels.index(label)] - shift),
            low=_percentile(samples[label], 2.5),
            high=_percentile(samples[label], 97.5),
            votes=records[label][0],
            wins=records[label][1],
            losses=records[label][2],
            ties=records[label][3],
            both_bad=records[label][4],
            rank=ranked.index(label) + 1 if label in ranked else None,
        )
        for label in order
    ]


def _rating(strength: float) -> float:
    return ELO_BASE + ELO_SCALE * strength


def _records(votes: Iterable[Vote]) -> dict[str, list[int]]:
    """label -> [votes, wins, losses, ties, both bad]; self-comparisons left out."""
    records: dict[str, list[int]] = {}
    for vote in votes:
        if vote.a.label == vote.b.label:
            continue
        for side, other in ((vote.a.label, Verdict.B), (vote.b.label, Verdict.A)):
            record = records.setdefault(side, [0, 0, 0, 0, 0])
            record[0] += 1
            if vote.verdict in (Verdict.A, Verdict.B):
                record[2 if vote.verdict is other else 1] += 1
            else:
                record[3 if vote.verdict is Verdict.TIE else 4] += 1
    return records


def _resampled(
    table: _Table,
    labels: Sequence[str],
    prior: float,
    rounds: int,
    seed: int,
    shift: float,
) -> dict[str, list[float]]:
    """label -> its ratings over the resamples it appears in."""
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {label: [] for label in labels}
    games_played = len(table.score)
    if not games_played:
        return samples
    for _ in range(rounds):
        drawn = table.pick(rng.choices(range(games_played), k=games_played))
        present = np.union1d(drawn.a, drawn.b)  # the contestants this resample has
        renumbered = _Table(
            len(present),
            np.searchsorted(present, drawn.a),
            np.searchsorted(present, drawn.b),
            drawn.score,
        )
        try:
            fitted = _fit(renumbered, prior)
        except ValueError:  # prior 0 and a resample with an undefeated contestant
            continue
        for index, strength in zip(present.tolist(), fitted.tolist(), strict=True):
            samples[labels[index]].append(_rating(strength - shift))
    return samples


def _percentile(values: Sequence[float], percent: float) -> float | None:
    return float(np.percentile(values, percent)) if values else None


def win_rates(
    votes: Iterable[Vote], labels: Sequence[str] | None = None, *, both_bad_as_tie: bool = True
) -> list[dict[str, Any]]:
    """The pairwise win-rate matrix as heatmap rows, one per ordered pair of different
    contestants (in ``labels``' order, else sorted): how often ``row`` beat ``column``,
    (wins + ties / 2) / games; ``rate`` None when they never met."""
    played = games(votes, both_bad_as_tie=both_bad_as_tie)
    order = (
        list(labels)
        if labels is not None
        else sorted({g.a for g in played} | {g.b for g in played})
    )
    scored: dict[tuple[str, str], list[float]] = {}
    for game in played:
        for row, column, score in ((game.a, game.b, game.score), (game.b, game.a, 1 - game.score)):
            tally = scored.setdefault((row, column), [0, 0, 0])
            tally[0 if score == 1 else 1 if score == 0.5 else 2] += 1
    cells = []
    for row in order:
        for column in order:
            if row == column:
                continue
            wins, ties, losses = scored.get((row, column), [0, 0, 0])
            count = int(wins + ties + losses)
            rate = (wins + ties / 2) / count if count else None
            cells.append(
                {
                    "row": row,
                    "column": column,
                    "rate": rate,
                    "wins": int(wins),
                    "ties": int(ties),
                    "losses": int(losses),
                    "games": count,
                    "text": f"{rate:.0%} of {count}" if rate is not None else "no votes",
                }
            )
    return cells


def filtered(
    votes: Iterable[Vote],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str | None = None,
    conversation: str | None = None,
) -> list[Vote]:
    """The votes cast from ``since`` (included) until ``until`` (excluded), carrying
    ``tag`` and cast in ``conversation``; None leaves a filter out. Times are aware."""
    return [
        vote
        for vote in votes
        if (since is None or vote.at >= since)
        and (until is None or vote.at < until)
        and (tag is None or tag in vote.tags)
        and (conversation is None or vote.conversation == conversation)
    ]
