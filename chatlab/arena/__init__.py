"""The arena feature: votes between two contestants and the personal leaderboard.

Pure data and functions (issue 19), the core the side-by-side and leaderboard pages are
built on: a vote as data and its JSON form, checked when read back (votes); the
Bradley-Terry fit, bootstrap intervals, "not enough votes", the win-rate matrix and the
filters (ranking). Storage keeps a vote as its JSON document and never imports this
package (``Store.save_vote``, ``list_votes``, ``delete_vote``); ``vote_from`` turns a stored
document back into a ``Vote``, ``votes_from`` a list of them (the bad ones told apart).
"""

from __future__ import annotations

from chatlab.arena.ranking import (
    ELO_BASE,
    ELO_SCALE,
    MIN_VOTES,
    PRIOR,
    ROUNDS,
    Game,
    Standing,
    filtered,
    games,
    leaderboard,
    log_strengths,
    win_rates,
)
from chatlab.arena.votes import (
    MAX_SETTINGS,
    MAX_TAGS,
    MAX_TURNS,
    VOTE_FORMAT,
    VOTE_VERSION,
    Contestant,
    Setting,
    Turn,
    Verdict,
    Vote,
    VoteError,
    vote_from,
    vote_json,
    votes_from,
)

__all__ = [
    "ELO_BASE",
    "ELO_SCALE",
    "MAX_SETTINGS",
    "MAX_TAGS",
    "MAX_TURNS",
    "MIN_VOTES",
    "PRIOR",
    "ROUNDS",
    "VOTE_FORMAT",
    "VOTE_VERSION",
    "Contestant",
    "Game",
    "Setting",
    "Standing",
    "Turn",
    "Verdict",
    "Vote",
    "VoteError",
    "filtered",
    "games",
    "leaderboard",
    "log_strengths",
    "vote_from",
    "vote_json",
    "votes_from",
    "win_rates",
]
