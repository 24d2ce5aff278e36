"""The arena feature: votes between two contestants and the personal leaderboard.

Pure data and functions (issue 19), the core the side-by-side and leaderboard pages are
built on: a side-by-side session as data, its requests, its vote and its JSON form
(side_by_side); a vote as data and its JSON form, checked when read back (votes); the
Bradley-Terry fit, bootstrap intervals, "not enough votes", the win-rate matrix and the
filters (ranking). Storage keeps a vote as its JSON document and never imports this
package (``Store.save_vote``, ``list_votes``, ``delete_vote``); ``vote_from`` turns a stored
document back into a ``Vote``, ``votes_from`` a list of them (the bad ones told apart).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatlab.arena.live import SOURCE, ColumnReply, LiveSession, OnChange, StartColumn
from chatlab.arena.side_by_side import (
    LETTERS,
    MAX_COLUMNS,
    MAX_SIDE_TURNS,
    MIN_COLUMNS,
    SESSION_FORMAT,
    SESSION_VERSION,
    Answer,
    Column,
    SessionError,
    SideBySide,
    conversation_messages,
    new_session,
    request_messages,
    session_from,
    session_json,
    vote_of,
    with_answer,
    with_prompt,
    with_vote,
)
from chatlab.arena.votes import (
    MAX_NAME,
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

if TYPE_CHECKING:  # the ranking loads numpy (~0.1 s): see __getattr__ below
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


def __getattr__(name: str) -> object:
    """The ranking's names, imported on first use: a first page (which holds a side-by-side
    session's state) uses none of them, and they pull in numpy."""
    if not name.startswith("__"):  # a probe for a module's dunder must not load numpy
        # Not ``from chatlab.arena import ranking``: that asks this function for it first.
        ranking = importlib.import_module("chatlab.arena.ranking")
        if name in ranking.__all__:
            return getattr(ranking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ELO_BASE",
    "ELO_SCALE",
    "LETTERS",
    "MAX_COLUMNS",
    "MAX_NAME",
    "MAX_SETTINGS",
    "MAX_SIDE_TURNS",
    "MAX_TAGS",
    "MAX_TURNS",
    "MIN_COLUMNS",
    "MIN_VOTES",
    "PRIOR",
    "ROUNDS",
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "SOURCE",
    "VOTE_FORMAT",
    "VOTE_VERSION",
    "Answer",
    "Column",
    "ColumnReply",
    "Contestant",
    "Game",
    "LiveSession",
    "OnChange",
    "SessionError",
    "Setting",
    "SideBySide",
    "Standing",
    "StartColumn",
    "Turn",
    "Verdict",
    "Vote",
    "VoteError",
    "conversation_messages",
    "filtered",
    "games",
    "leaderboard",
    "log_strengths",
    "new_session",
    "request_messages",
    "session_from",
    "session_json",
    "vote_from",
    "vote_json",
    "vote_of",
    "votes_from",
    "win_rates",
    "with_answer",
    "with_prompt",
    "with_vote",
]
