"""The leaderboard's votes themselves: the recent ones, each withdrawable, and the export.

A vote is withdrawn through ``components.voting.withdraw`` (the one way, shared with the
pages that cast votes), in the button's callback, so the run that follows already ranks
without it. The export is of the votes the filters chose: CSV through
``chatlab.csv_export`` (a model id or prompt that starts with ``=`` is text in a
spreadsheet, never a formula), and JSON as a document with a format and version, its
votes each ``chatlab.arena.vote_json`` (what storage keeps, so nothing is lost).
Every untrusted text written as Markdown here goes through ``plain``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import streamlit as st

from chatlab.arena import Verdict, Vote, vote_json
from chatlab.csv_export import csv_text
from chatlab.markdown import plain
from chatlab.storage import Store
from components import session, voting

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "RECENT",
    "export_document",
    "export_rows",
    "render_exports",
    "render_recent",
]

EXPORT_FORMAT = "chatlab.votes"
EXPORT_VERSION = 1
RECENT = 20  # votes listed, newest first
VERDICT_WORDS = {Verdict.A: "A better", Verdict.B: "B better", Verdict.TIE: "tie"}


def verdict_words(verdict: Verdict) -> str:
    """``A better``, ``B better``, ``tie``, ``both bad``."""
    return VERDICT_WORDS.get(verdict, verdict.value)


def render_recent(store: Store, owner: str, votes: Sequence[Vote], zone: tzinfo) -> None:
    """The newest ``RECENT`` votes: when, A vs B, the verdict, blind or not; Withdraw."""
    st.subheader("Recent votes")
    newest = sorted(votes, key=lambda vote: vote.at, reverse=True)[:RECENT]
    if len(votes) > len(newest):
        st.caption(f"The {len(newest)} most recent of {len(votes):,} votes.")
    for vote in newest:
        line, button = st.columns([4, 1], vertical_alignment="center")
        line.markdown(_vote_line(vote, zone))
        button.button(
            "Withdraw",
            key=f"leaderboard_withdraw_{vote.id}",
            icon=":material/undo:",
            help="Delete this vote: the leaderboard is ranked again without it.",
            on_click=_withdraw,
            args=(store, owner, vote.id),
        )


def _vote_line(vote: Vote, zone: tzinfo) -> str:
    when = f"{vote.at.astimezone(zone):%Y-%m-%d %H:%M}"
    seen = "blind" if vote.blind else "names shown"
    return (
        f"{when} · **A** {plain(vote.a.label)} vs **B** {plain(vote.b.label)}  \n"
        f"**{verdict_words(vote.verdict)}** · {seen}"
    )


def _withdraw(store: Store, owner: str, vote_id: str) -> None:
    if voting.withdraw(store, owner, vote_id):
        session.add_notice("Vote withdrawn: the leaderboard no longer counts it.")


def export_rows(votes: Sequence[Vote]) -> list[dict[str, Any]]:
    """One CSV row per vote (the first turn's prompt; the JSON export keeps every turn)."""
    return [
        {
            "id": vote.id,
            "at (UTC)": vote.at.astimezone(UTC).isoformat(),
            "a": vote.a.label,
            "b": vote.b.label,
            "a model": vote.a.model,
            "b model": vote.b.model,
            "verdict": verdict_words(vote.verdict),
            "blind": vote.blind,
            "conversation": vote.conversation,
            "tags": "; ".join(vote.tags),
            "turns": len(vote.turns),
            "prompt": vote.turns[0].prompt if vote.turns else "",
        }
        for vote in votes
    ]


def export_document(votes: Sequence[Vote]) -> dict[str, Any]:
    """The votes as one JSON document: format, version, when, and each vote's JSON."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "votes": [vote_json(vote) for vote in votes],
    }


def render_exports(votes: Sequence[Vote], first: date, last: date) -> None:
    """Download the votes the filters chose, as CSV and as JSON."""
    name = f"votes-{first:%Y-%m-%d}-{last:%Y-%m-%d}"
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        csv_text(export_rows(votes)),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="leaderboard_csv",
    )
    right.download_button(
        "Download JSON",
        json.dumps(export_document(votes), ensure_ascii=False, indent=2),
        file_name=f"{name}.json",
        mime="application/json",
        icon=":material/download:",
        key="leaderboard_json",
    )
