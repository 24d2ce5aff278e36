"""The web boundary: what the app admits before any page runs.

The HTTP guard in front of Streamlit, the upload limits it enforces, and the rate and
in-flight limits that every request to a model server passes.
"""

from __future__ import annotations

from chatlab.guard.http_guard import HttpGuard, sweep_ended_sessions
from chatlab.guard.uploads import LEDGER

__all__ = ["LEDGER", "HttpGuard", "sweep_ended_sessions"]
