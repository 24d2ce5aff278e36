"""The line under Run: what the run would send, and take, before it is sent.

It is the same estimate the run is checked with after Run (``spending.run_estimate``):
requests, tokens, cost ("unknown" where no price is known, never $0) and time. The time
is at each model's measured speed, the mean tokens/s of its replies in Usage over the
last ``SPEEDS_DAYS`` days, else the estimate's stated default.

Nothing here waits for the database on the run that draws the page: the speeds are read
on a thread of their own, at most once every ``SPEEDS_TTL`` seconds a session, and used
once they have arrived (the thread writes one field of the session's plain state, as a
sweep's saves append to its notices). A run over the budget is said here already, in the
words Run's refusal uses. The estimate itself is kept for the inputs it was
made from, so a rerun that changes nothing (a widget elsewhere) does not make it again.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import streamlit as st

from chatlab import config, usage
from chatlab.compare import Budget, Estimate, refusal
from chatlab.config import Endpoint
from chatlab.grid import Compose, Grid, new_run
from chatlab.markdown import plain
from chatlab.storage import StorageError, Store
from components import session, spending
from components.session import EvaluationForm

__all__ = ["SPEEDS_DAYS", "SPEEDS_TTL", "measured_speeds", "render_estimate"]

SPEEDS_TTL = 300.0  # seconds between two reads of the measured speeds
SPEEDS_DAYS = 30  # the replies they are measured over


class Planned(Protocol):
    """What the estimate needs of a request (``components.compare.form.SweepRequest``)."""

    @property
    def grid(self) -> Grid: ...
    @property
    def prompt(self) -> str: ...
    @property
    def messages(self) -> list[dict[str, str]]: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def compose(self) -> Compose | None: ...
    @property
    def judges(self) -> tuple[str, ...]: ...


class Why(Protocol):
    """Why there is no request (``components.compare.form.Blocked``)."""

    @property
    def message(self) -> str: ...


def render_estimate(endpoint: Endpoint, request: Planned | None, blocked: Why | None) -> None:
    """One line: the run's estimate, or why there is none yet."""
    if request is None:
        why = blocked.message if blocked is not None else "the form is not complete"
        st.caption(plain(f"No estimate yet: {why}"))
        return
    found = estimated(endpoint, request)
    st.caption(plain(f"Estimate: {found.summary}"))
    budget = Budget(config.max_run_requests(), config.max_run_cost())
    over = refusal(found, budget, {})  # the context windows are checked on Run
    if over is not None:
        said = str(over).replace(" Nothing was sent.", "")  # nothing is, before Run
        st.warning(plain(said), icon=":material/block:")


def estimated(endpoint: Endpoint, request: Planned) -> Estimate:
    """The request's estimate, made again only when what it is made from changed."""
    form = session.compare().evaluation
    speeds = measured_speeds()
    key = (
        endpoint.base_url,
        repr(request.grid),
        json.dumps(request.messages, sort_keys=True, default=str),
        request.judges,
        tuple(sorted((speeds or {}).items())),
        request.concurrency,
    )
    if form.estimated is not None and form.estimated[0] == key:
        kept = form.estimated[1]
        if isinstance(kept, Estimate):
            return kept
    run = new_run(request.grid, request.prompt, request.messages, compose=request.compose)
    _, found = spending.run_estimate(
        endpoint, run, judges=request.judges, speeds=speeds, concurrency=request.concurrency
    )
    form.estimated = (key, found)
    return found


def measured_speeds() -> dict[str, float] | None:
    """Each model's measured tokens/s, once read (None until then, or with no store)."""
    form = session.compare().evaluation
    page = session.page()
    now = time.monotonic()
    if page.store is not None and (form.speeds_read is None or now - form.speeds_read > SPEEDS_TTL):
        form.speeds_read = now
        threading.Thread(
            target=_read_speeds,
            args=(page.store, page.owner, form),
            name="chatlab-speeds",
            daemon=True,
        ).start()
    return form.speeds


def _read_speeds(store: Store, owner: str, form: EvaluationForm) -> None:
    since = datetime.now(UTC) - timedelta(days=SPEEDS_DAYS)
    try:
        found = store.usage_records(owner, since=since)
    except StorageError:
        return  # the default speed is used, and said
    form.speeds = usage.mean_speeds(found.records)
