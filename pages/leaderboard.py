"""Leaderboard: your own ranking of models and settings, from the votes you cast."""

from __future__ import annotations

import streamlit as st

from chatlab import usage
from chatlab.arena import filtered, votes_from, win_rates
from chatlab.markdown import plain
from chatlab.storage import StorageError
from components import page, period, session
from components.arena import leaderboard as board
from components.arena import vote_list

store, owner = page.prepare()
page.show_notices()
st.title("Leaderboard")
st.caption(
    "Your own ranking, from the votes you cast on the Side by side page and under "
    "Compare's cards: which model (and at which settings) you prefer, and how sure that is."
)
if store is None:
    st.info("Votes are kept in the database, which cannot be read now. Try again in a moment.")
    st.stop()

zone = period.browser_zone()
dates, tags, conversations = st.columns(3)
first, last = period.pick_period(dates, zone, board.DEFAULT_DAYS, key=session.LEADERBOARD_DATES)
since, until = usage.period(first, last, zone)
try:
    stored = store.list_votes(owner, since, until)  # one query, this owner's
except StorageError as err:
    st.error(plain(str(err)), icon=":material/error:")
    st.stop()
votes, unreadable = votes_from(found.document for found in stored)
board.render_unreadable(len(unreadable))
if not votes:
    board.render_empty(first, last)
    st.stop()

tag = board.pick_tag(tags, votes)
conversation = board.pick_conversation(conversations, votes)
ranking = board.pick_ranking()
chosen = filtered(votes, tag=tag, conversation=conversation)
if not chosen:
    board.render_no_match()
    st.stop()
ranked = board.ranked_votes(chosen, ranking)
board.render_self_comparisons(ranked)
standings = board.standings_of(tuple(ranked), board.SEED)
if standings:  # none when every vote compares a model with itself
    board.render_standings(standings)
    board.render_ratings(standings)
    order = [standing.label for standing in standings]
    board.render_win_rates(win_rates(ranked, order), order)
vote_list.render_exports(chosen, first, last)
vote_list.render_recent(store, owner, chosen, zone)
