"""A vote from a run's cards: pick two cards, then say which is better (issue 19).

Under a finished run's cards: card X and card Y (two results with text), then "X better ·
Y better · tie · both bad". The vote is a ``chatlab.arena.Vote`` cast through the shared
``components.voting.cast`` (said, never raised, when the store cannot keep it), so it
counts on the Leaderboard like a side-by-side vote.

Decisions:

- **Who is compared.** Each side is its model and the settings that differ between the
  two cells (``temperature=0.7`` against ``temperature=0``; the prompt variant, when the
  run has several), so two models at one temperature are two models, and one model at
  two temperatures is two settings of it. Two samples of one setting are the same
  contestant, and a vote between them would rank nothing: it is not offered. Two cards of
  different test rows answered different questions: not offered either.
- **Not blind.** The cards show their settings, so the vote says ``blind=False``; its
  ``conversation`` is the run's id (the Leaderboard filters by it).
- **Changed, not added.** The session keeps one vote id per pair of cards of a run: voting
  again on that pair replaces the vote (``Store.save_vote`` under the same id).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from chatlab.arena import Contestant, Turn, Verdict, Vote
from chatlab.grid import FINAL, Cell, Result, Run
from chatlab.markdown import plain
from chatlab.messages import new_id
from components import session, voting

__all__ = ["LEADERBOARD_PAGE", "VERDICTS", "contestants", "render_vote"]

LEADERBOARD_PAGE = "pages/leaderboard.py"
VERDICTS = {
    "X better": Verdict.A,
    "Y better": Verdict.B,
    "Tie": Verdict.TIE,
    "Both bad": Verdict.BOTH_BAD,
}


def render_vote(run: Run) -> None:
    """Card X, card Y, and the four verdicts; what was recorded for the pair."""
    voted = [index for index, result in enumerate(run.results) if _votable(result)]
    if len(voted) < 2:
        return
    with st.expander("Vote: which of two cards is better?", icon=":material/how_to_vote:"):
        first, second = st.columns(2)
        x = first.selectbox(
            "Card X", voted, format_func=lambda i: _card(run.results[i]), key=_key(run, "x")
        )
        y = second.selectbox(
            "Card Y",
            voted,
            index=_other(run, voted),
            format_func=lambda i: _card(run.results[i]),
            key=_key(run, "y"),
        )
        refused = _refusal(run.results[x].cell, run.results[y].cell) if x != y else None
        if x == y:
            refused = "Pick two different cards."
        if refused is not None:
            st.caption(refused)
            return
        for column, (words, verdict) in zip(st.columns(4), VERDICTS.items(), strict=True):
            column.button(
                words,
                key=_key(run, verdict.value),
                width="stretch",
                on_click=_cast,
                args=(run, x, y, verdict, words),
            )
        _render_recorded(run, x, y)


def _votable(result: Result) -> bool:
    return result.state in FINAL and bool(result.text.strip())


def _card(result: Result) -> str:
    """A card as its heading and caption name it: ``temperature=0.7 · gpt-4o · sample 2``."""
    return f"{result.cell.setting} · sample {result.cell.sample}"


def _key(run: Run, part: str) -> str:
    return f"compare_vote_{part}_{run.id}"


def _other(run: Run, voted: list[int]) -> int:
    """Card Y's first choice: the first card of another setting than the first card's."""
    first = run.results[voted[0]].cell
    for place, index in enumerate(voted[1:], start=1):
        if _refusal(first, run.results[index].cell) is None:
            return place
    return 1


def _refusal(x: Cell, y: Cell) -> str | None:
    """Why these two cards cannot be voted on; None when they can."""
    if x.row != y.row:
        return "These two answered different test rows: pick two cards of one row."
    a, b = contestants(x, y)
    if a == b:
        return "Two samples of one setting: pick cards of different settings or models."
    return None


def contestants(x: Cell, y: Cell) -> tuple[Contestant, Contestant]:
    """Each cell's model, with the settings that differ between the two cells."""
    mine, theirs = _settings(x), _settings(y)
    names = [name for name in {**mine, **theirs} if mine.get(name) != theirs.get(name)]
    return (
        Contestant(x.settings.model, tuple((n, mine[n]) for n in names if n in mine)),
        Contestant(y.settings.model, tuple((n, theirs[n]) for n in names if n in theirs)),
    )


def _settings(cell: Cell) -> dict[str, str | int | float | bool]:
    found: dict[str, str | int | float | bool] = {
        name: value if isinstance(value, str | int | float | bool) else str(value)
        for name, value in cell.varied
        if name != "model"
    }
    if cell.variant:
        found["prompt"] = cell.variant
    return found


def _prompt(run: Run, cell: Cell) -> str:
    """What the cell asked: its own last user message (an evaluation's), else the run's."""
    for message in reversed(cell.messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return run.prompt


def _cast(run: Run, x: int, y: int, verdict: Verdict, words: str) -> None:
    """A verdict's callback: the pair's vote, new or replaced, cast; recorded if kept."""
    pair = (run.id, min(x, y), max(x, y))
    votes = session.compare().votes
    vote_id = votes[pair][0] if pair in votes else new_id()
    left, right = run.results[x], run.results[y]
    a, b = contestants(left.cell, right.cell)
    vote = Vote(
        id=vote_id,
        a=a,
        b=b,
        verdict=verdict,
        at=datetime.now(UTC),
        turns=(Turn(_prompt(run, left.cell), left.text, right.text),),
        blind=False,
        conversation=run.id,
    )
    page = session.page()
    if voting.cast(page.store, page.owner, vote):
        votes[pair] = (vote_id, f"{_card(left)} against {_card(right)}: {words}")


def _render_recorded(run: Run, x: int, y: int) -> None:
    recorded = session.compare().votes.get((run.id, min(x, y), max(x, y)))
    if recorded is None:
        st.caption("Your vote counts on the Leaderboard, with your other votes.")
        return
    st.caption(f":green[Recorded:] {plain(recorded[1])}. Vote again on this pair to change it.")
    st.page_link(LEADERBOARD_PAGE, label="See the Leaderboard", icon=":material/trophy:")
