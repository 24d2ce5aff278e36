"""Two script runs of one session (a rerun started while the stopped run still ends, as
``runner.fastReruns`` does) reach its state under one lock: the new run's read never meets
the ending run's change halfway (components/state_lock.py)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from streamlit.runtime.state.safe_session_state import SafeSessionState
from streamlit.runtime.state.session_state import SessionState

from components import state_lock
from testing.app_process import clean_environment
from tests.conftest import ROOT

KEYS = 2_000  # state a run reads whole (any widget reads filtered_state)
READS = 100


def wrapper(state: SessionState) -> SafeSessionState:
    """What each ScriptRunner makes of the session's state."""
    return SafeSessionState(state, yield_callback=lambda: None)


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> None:
    """``share()`` as the app calls it; this test process gets Streamlit's own back after."""
    monkeypatch.setattr(SafeSessionState, "__init__", SafeSessionState.__init__)
    state_lock.share()
    state_lock.share()  # a second call (app.py calls it on every run) changes nothing


def race(ending: SafeSessionState, starting: SafeSessionState) -> list[Exception]:
    """The ending run changes the state while the new run reads it whole, again and again.

    The changer lets go of the interpreter after each change (``sleep(0)``): with one lock
    the reader then gets it, so the race takes READS reads whatever the machine's load.
    """
    for index in range(KEYS):
        ending.reset_state_value(f"old_{index}", index)
    done = threading.Event()

    def change() -> None:
        index = 0
        while not done.is_set():
            ending.reset_state_value(f"new_{index}", index)
            index += 1
            time.sleep(0)

    changer = threading.Thread(target=change, daemon=True)
    failures: list[Exception] = []
    changer.start()
    try:
        for _ in range(READS):
            try:
                assert len(starting.filtered_state) >= KEYS
            except (RuntimeError, KeyError) as err:  # "changed size during iteration"
                failures.append(err)
    finally:
        done.set()
        changer.join()
    return failures


@pytest.mark.usefixtures("shared")
def test_the_runs_of_one_session_take_one_lock_and_other_sessions_their_own() -> None:
    state, other = SessionState(), SessionState()
    ending, starting = wrapper(state), wrapper(state)
    assert ending._lock is starting._lock
    assert wrapper(other)._lock is not ending._lock


@pytest.mark.usefixtures("shared")
def test_a_run_reading_the_state_while_the_ending_run_changes_it_sees_it_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Outside a script run, Streamlit warns of a missing context at each access.
    caplog.set_level(logging.ERROR, "streamlit.runtime.scriptrunner_utils.script_run_context")
    state = SessionState()
    assert race(wrapper(state), wrapper(state)) == []


def test_the_served_app_shares_the_lock_before_any_session(tmp_path: Path) -> None:
    """``asgi.py``, the module ``streamlit run`` loads before it opens a session."""
    script = (
        "import asgi\n"
        "from streamlit.runtime.state.safe_session_state import SafeSessionState\n"
        f"print(getattr(SafeSessionState.__init__, {state_lock._SHARED!r}, False))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_environment({}, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
