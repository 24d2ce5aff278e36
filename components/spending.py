"""What a visitor may spend: the limits every request passes, one sweep per session, and a
Compare run's budget, drawn as a refusal when it does not fit.

The policies are ``chatlab.guard.limits``, ``chatlab.compare.budget`` and
``chatlab.compare.slot``; this only names the visitor, finds the model limits and
windows, and draws the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import streamlit as st

from chatlab import config
from chatlab.compare import (
    Budget,
    Estimate,
    Sweep,
    SweepSlot,
    estimate,
    refusal,
    within_limits,
)
from chatlab.config import OPENAI_BASE_URL, Endpoint
from chatlab.grid import Run
from chatlab.guard import limits
from chatlab.markdown import plain
from chatlab.params import max_tokens_limit
from chatlab.provider import Admit
from chatlab.tokens import price_usd
from components import account, model_client, session


def visitor(owner: str) -> str:
    """Whose rate a request counts against: the signed-in user, else this browser session."""
    return owner if account.auth_configured() else f"session:{session.page().visitor}"


def admit(owner: str, *, pace: bool = False) -> Admit:
    """What every request of this visitor holds (``chatlab.guard.limits.admit``)."""
    return limits.admit(visitor(owner), pace=pace)


def _session_ended(slot: SweepSlot) -> None:
    # Called on the server's event loop when the session disconnects (the tab closed):
    # stopping saves the run, so it happens on a thread of its own.
    threading.Thread(target=slot.end, name="chatlab-sweep-end", daemon=True).start()


# Streamlit's one signal that a session ended: a session-scoped resource is released when
# the session disconnects (``AppSession.clear_session_caches``). The entry is keyed by the
# slot's identity (``_slot`` itself is not hashed): keyed by nothing, a session whose state
# was made anew would get its old slot back, not the one its state holds. It runs again
# only after a release: a session that reconnected (a dropped connection, its state kept)
# may start sweeps again.
@st.cache_resource(scope="session", on_release=_session_ended, show_spinner=False)
def _stop_at_session_end(slot_id: int, _slot: SweepSlot) -> SweepSlot:
    _slot.reopen()
    return _slot


def sweep_slot() -> SweepSlot:
    """This session's sweep slot, whose sweep is stopped when the session ends."""
    slot = session.compare().sweeps
    return _stop_at_session_end(id(slot), slot)


def max_tokens_of(endpoint: Endpoint) -> Callable[[str], int]:
    """Each model's max-tokens limit, as the sidebar's slider has it."""
    return lambda model: max_tokens_limit(model, model_client.window(endpoint, model))


def run_estimate(
    endpoint: Endpoint,
    run: Run,
    *,
    judges: Sequence[str] = (),
    speeds: Mapping[str, float] | None = None,
    concurrency: int = 1,
) -> tuple[Run, Estimate]:
    """The run within the models' limits, and what sending it takes (the line shown
    before Run and the figures its refusal gives are the same)."""
    bounded = within_limits(run, max_tokens_of(endpoint))
    url = endpoint.base_url or OPENAI_BASE_URL

    def price(model: str, tokens_in: int, tokens_out: int) -> float | None:
        return price_usd(model, base_url=url, prompt_tokens=tokens_in, completion_tokens=tokens_out)

    cells = [result.cell for result in bounded.results]
    found = estimate(
        cells, bounded.messages, price, judges=judges, speeds=speeds, concurrency=concurrency
    )
    return bounded, found


def checked_run(
    endpoint: Endpoint,
    run: Run,
    *,
    judges: Sequence[str] = (),
    speeds: Mapping[str, float] | None = None,
    concurrency: int = 1,
) -> Run | None:
    """The run within the models' limits and the budget; None (a refusal drawn) if it is not."""
    bounded, found = run_estimate(
        endpoint, run, judges=judges, speeds=speeds, concurrency=concurrency
    )
    models = {result.cell.settings.model for result in bounded.results}
    windows = {model: model_client.window(endpoint, model) for model in sorted(models)}
    budget = Budget(config.max_run_requests(), config.max_run_cost())
    refused = refusal(found, budget, windows)
    if refused is not None:
        st.error(plain(str(refused)), icon=":material/block:")
        return None
    if bounded.results != run.results:
        st.caption("Max tokens above a model's limit are sent as that limit.")
    return bounded  # its estimate was said above Run (the form's line), not again here


def render_running(sweep: Sweep | None, shown: Sweep | Run | None) -> None:
    """While a run is in progress: say why Run waits, and offer Stop if it is not shown."""
    if sweep is None:
        return
    st.caption("A run is in progress: Run is available again once it has ended or is stopped.")
    if shown is not sweep:
        st.button("Stop the run in progress", icon=":material/stop:", on_click=sweep.stop)
