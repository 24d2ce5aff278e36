"""Casting and withdrawing an arena vote, from any page (side by side, Compare's cards).

A vote is one small document (``chatlab.arena.vote_json``) written on the script thread: it
is what the click is for, and the person should know at once whether it was kept. A store
that is unavailable or refuses it leaves the verdict on the page and says why, with what
to do (vote again once the database is back); it never raises to the page.
"""

from __future__ import annotations

from chatlab.arena import Vote, vote_json
from chatlab.errors import ChatLabError
from chatlab.storage import Store
from components import session

__all__ = ["cast", "withdraw"]

NO_STORE = "Votes are kept in the database, which is not available: this vote was not saved."


def cast(store: Store | None, owner: str, vote: Vote) -> bool:
    """Store ``vote`` (replacing the owner's vote with its id); False, and said, if not."""
    if store is None:
        session.add_notice(NO_STORE)
        return False
    try:
        store.save_vote(owner, vote.id, vote.at, vote_json(vote))
    except ChatLabError as err:
        session.add_notice(f"The vote was not saved. {err}")
        return False
    return True


def withdraw(store: Store | None, owner: str, vote_id: str) -> bool:
    """Delete the owner's vote ``vote_id``; False, and said, if the store could not."""
    if store is None:
        session.add_notice(NO_STORE)
        return False
    try:
        store.delete_vote(owner, vote_id)
    except ChatLabError as err:
        session.add_notice(f"The vote was not withdrawn. {err}")
        return False
    return True
