"""A run's cards: one per request, grouped by setting, redrawn as their replies stream in.

The sweep runs on worker threads (``chatlab.compare.sweep``); this only polls it from the script
thread and redraws the cards whose result changed, because Streamlit elements may only
be touched from the script thread. A card redraw sends its whole text, which the browser
renders as Markdown again: redrawn on every poll, three cards streaming 800-token replies
kept Chromium's renderer at 68% of a core, taken from the local model server on the same
machine (2.3 tokens/s a slot instead of 13). So a streaming card is redrawn at most every
``CARD_EVERY`` s (a card that ends is drawn at once), and the progress line every
``PROGRESS_EVERY`` s. Streamlit stops a script only at an element update, so Stop takes
effect within one progress redraw even while no reply moves. Streamlit's own Stop (and a
closed tab) stops the sweep too; a
rerun or a visit to another page does not (``_stop_unless_rerun``): the sweep runs on,
and the page picks it up again when it is next drawn.

A finished card shows its checks and a thumbs up/down (``components.compare.scores``).
The thumbs sit in the card's foot, drawn as its result ends and once per script run (a
widget may be drawn only once a run); the checks are part of the body.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from chatlab.compare import Progress, Sweep, groups, progress_of
from chatlab.grid import FINAL, Result, Run, State
from chatlab.markdown import plain
from chatlab.structured import ReplyCheck, check_reply
from components import session
from components.compare import scores
from components.reply_text import render_text, telemetry_line
from components.response_format import render_check
from components.session import PageState

POLL = 0.1  # seconds between two looks at the sweep while it runs
CARD_EVERY = 0.5  # seconds between two redraws of one streaming card
PROGRESS_EVERY = 0.5  # seconds between two redraws of the progress line (and Stop's check)
RERUN_GRACE = 2.0  # seconds a stopped script's successor has to start (see _stop_unless_rerun)
COLUMNS = 3  # cards side by side


@dataclass
class Card:
    """Where one result is drawn: its body, redrawn as it streams, and its foot, where the
    thumbs go once it has ended (drawn once per script run: ``rated``)."""

    run_id: str
    index: int
    body: DeltaGenerator
    foot: DeltaGenerator
    rated: bool = False


def stop_sweep() -> None:
    """The Stop button: end the live sweep, keeping what arrived."""
    current = session.compare().run
    if isinstance(current, Sweep):
        current.stop()


def render_run(current: Sweep | Run, head: DeltaGenerator, cards: DeltaGenerator) -> Run:
    """Stop and the progress bar in ``head``, every card in ``cards``; while the sweep runs,
    follow it to its end. Returns the run."""
    live = isinstance(current, Sweep) and not current.finished
    stop_slot = head.empty()
    if live:
        stop_slot.button("Stop", icon=":material/stop:", on_click=stop_sweep, key="compare_stop")
    run = current.snapshot() if isinstance(current, Sweep) else current
    progress = head.empty()
    _progress(progress, run.results, current)
    with cards:
        places = _cards(run.id, run.results)
    for place, result in zip(places, run.results, strict=True):
        _draw(place, result)
    if isinstance(current, Sweep) and live:
        run = _follow(current, places, [r.version for r in run.results], progress)
        stop_slot.empty()
    return run


def _cards(run_id: str, results: tuple[Result, ...]) -> list[Card]:
    """An empty card (body and foot) per result, under its setting's heading."""
    found: dict[int, Card] = {}
    index_of = {id(result): index for index, result in enumerate(results)}
    for setting, members in groups(results).items():
        group = st.container(key=f"compare_setting_{index_of[id(members[0])]}")
        group.markdown(f"**{plain(setting)}**")
        columns = group.columns(min(COLUMNS, len(members)))
        for place, result in enumerate(members):
            index = index_of[id(result)]
            with columns[place % len(columns)]:
                card = st.container(border=True, key=f"compare_card_{index}")
                card.caption(f"Sample {result.cell.sample}")
                found[index] = Card(run_id, index, card.empty(), card.empty())
    return [found[index] for index in range(len(results))]


def _follow(sweep: Sweep, places: list[Card], shown: list[int], progress: DeltaGenerator) -> Run:
    """Redraw changed cards until every cell has ended (or the script is stopped)."""
    held = session.page()  # after Stop, session state is out of reach: hold it now
    runs = held.page_runs
    drawn_at, progress_at = [0.0] * len(places), 0.0
    try:
        while True:
            now, results = time.monotonic(), sweep.results()
            for index, result in enumerate(results):
                if result.version == shown[index]:
                    continue
                if result.state == State.STREAMING and now - drawn_at[index] < CARD_EVERY:
                    continue  # drawn again soon, with whatever arrived meanwhile
                _draw(places[index], result)
                shown[index], drawn_at[index] = result.version, now
            ended = all(result.state in FINAL for result in results)
            if ended or now - progress_at >= PROGRESS_EVERY:
                _progress(progress, results, sweep)
                progress_at = now
            if ended:
                return sweep.snapshot()
            time.sleep(POLL)
    except StopException:
        _stop_unless_rerun(sweep, held, runs)
        raise


def _stop_unless_rerun(sweep: Sweep, held: PageState, runs: int) -> None:
    """Stop the sweep unless a new run of this session starts within ``RERUN_GRACE`` s.

    With ``runner.fastReruns`` (the default) Streamlit ends a running script the same way
    for a rerun, a move to another page, its own Stop button and a closed tab. Only the
    first two start a new run at once, so the sweep runs on for them and is stopped
    (every request hung up, what arrived kept) for the others.
    """

    def check() -> None:
        if held.page_runs == runs:
            sweep.stop()

    timer = threading.Timer(RERUN_GRACE, check)
    timer.daemon = True
    timer.start()


def _draw(card: Card, result: Result) -> None:
    checked = _json_check(result)
    with card.body.container():
        if checked is not None and checked.pretty:  # the JSON asked for, indented
            st.code(checked.pretty, language="json", wrap_lines=True)
        elif result.text:
            render_text(result.text)
        if result.state == State.WAITING:
            st.caption("Waiting for its turn…")
        elif result.state == State.STREAMING and not result.text:
            st.caption("Waiting for the server…")
        elif result.state == State.STOPPED:
            st.caption(":orange[Stopped: what arrived is kept.]" if result.text else "Not run.")
        if result.note is not None:
            st.caption(f":orange[{plain(result.note)}]")
        if result.error is not None:
            st.error(plain(result.error), icon=":material/error:")
        if result.stats is not None and result.state != State.STREAMING:
            st.caption(telemetry_line(result.stats))
        if checked is not None:
            render_check(checked)
        scores.render_checks(result)
    if result.state in FINAL and result.text and not card.rated:
        card.rated = True
        with card.foot.container():
            scores.render_rating(card.run_id, card.index, result)


def _json_check(result: Result) -> ReplyCheck | None:
    """A finished reply its cell asked for as JSON, checked (is it JSON, does it match the
    schema); None for text, or while it streams."""
    asked = result.cell.settings.response_format
    if asked is None or result.state != State.DONE or not result.text:
        return None
    finish = result.stats.finish_reason if result.stats is not None else None
    return check_reply(result.text, asked, finish)


def _progress(slot: DeltaGenerator, results: tuple[Result, ...], current: Sweep | Run) -> None:
    concurrency = current.concurrency if isinstance(current, Sweep) else 1
    found = progress_of(results, concurrency)
    with slot.container():
        st.progress(found.fraction, text=progress_line(found))
        if isinstance(current, Sweep) and current.sizing:
            st.caption(current.sizing)  # our own words and numbers


def progress_line(found: Progress) -> str:
    """``4 of 9 done · 3 running · 2 waiting · about 20 s left``, and what went wrong."""
    parts = [f"{found.done} of {found.total} done"]
    if found.running or found.waiting:
        parts += [f"{found.running} running", f"{found.waiting} waiting"]
    if found.failed:
        parts.append(f"{found.failed} failed")
    if found.stopped:
        parts.append(f"{found.stopped} stopped")
    if found.seconds_left is not None:
        parts.append(f"about {_duration(found.seconds_left)} left")
    if found.retried:
        parts.append(f"{found.retried} retried fewer at once (the server ran out of room)")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
