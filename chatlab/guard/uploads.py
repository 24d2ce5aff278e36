"""What the server lets a browser session upload, and for how long it keeps it.

Streamlit takes a file upload as an HTTP ``PUT /_stcore/upload_file/<session>/<file id>``
and keeps the bytes in memory, per session, until the widget lets go of them or the
session is shut down. It checks only that the session is connected (and the XSRF token
the client chose itself): any file id is taken, as many times as asked, from a visitor
who has not signed in too. And a session that disconnects and is never resumed expires
from Streamlit's session storage without being shut down, so its files stay in memory
until the process ends (Streamlit 1.67).

So the ledger here decides, for each upload, before Streamlit reads it:

- the session must have been admitted: its script ran past the sign-in gate;
- what the session holds, plus what it is uploading, stays within ``SESSION_BYTES``:
  the chat box's files and one import, the most any page asks for at once;
- what all sessions of the process hold stays within ``PROCESS_BYTES``;

and it remembers when each session was last connected, so the files of one that has
been gone for longer than Streamlit's reconnect window are removed. One file's size is
capped by Streamlit itself (``server.maxUploadSize``, ``UPLOAD_LIMIT_MB``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from chatlab.attachments import MAX_IMAGE_BYTES, MAX_TEXT_BYTES, MAX_TOTAL_BYTES
from chatlab.presets import MAX_PRESETS_BYTES
from chatlab.transfer import MAX_IMPORT_BYTES

MIB = 1024 * 1024
# The largest single file any upload widget takes (a conversation import), in MiB, the
# unit of Streamlit's server.maxUploadSize (.streamlit/config.toml holds this number).
UPLOAD_LIMIT_MB = math.ceil(
    max(MAX_IMPORT_BYTES, MAX_PRESETS_BYTES, MAX_IMAGE_BYTES, MAX_TEXT_BYTES) / MIB
)
UPLOAD_LIMIT_BYTES = UPLOAD_LIMIT_MB * MIB
# One session: the chat box's attachments and one import at the same time.
SESSION_BYTES = MAX_TOTAL_BYTES + UPLOAD_LIMIT_BYTES
# Every session of one process together.
PROCESS_BYTES = 256 * MIB

# Held bytes of the given files of a session; the files no longer held are left out.
HeldSizes = Callable[[str, Iterable[str]], dict[str, int]]


class Refusal(Enum):
    """Why an upload is refused: an HTTP status and what the response says."""

    NOT_ADMITTED = (403, "Sign in before uploading files.")
    SESSION_FULL = (413, "This session holds as many uploaded bytes as it may.")
    SERVER_FULL = (503, "The server holds as many uploaded bytes as it may; try again soon.")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]


@dataclass
class _Session:
    last_connected: float
    admitted: bool = False
    files: set[str] = field(default_factory=set)
    uploading: int = 0  # bytes reserved by uploads in flight


class UploadLedger:
    """Which sessions may upload, what they hold, and when each was last connected.

    Thread-safe: scripts admit sessions from their threads, the HTTP guard asks from the
    event loop. ``guarded`` is off until a guard uses the ledger, so a process without one
    (``streamlit run app.py``, AppTest) remembers nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self.guarded = False

    def admit(self, session_id: str, admitted: bool, now: float) -> None:
        """Record whether ``session_id`` may upload (its script passed the sign-in gate)."""
        if not self.guarded:
            return
        with self._lock:
            self._entry(session_id, now).admitted = admitted

    def reserve(self, session_id: str, size: int, held: HeldSizes, now: float) -> Refusal | None:
        """Reserve ``size`` bytes for an upload, or say why it is refused."""
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None or not entry.admitted:
                return Refusal.NOT_ADMITTED
            entry.last_connected = now
            totals = {sid: self._held(sid, s, held) for sid, s in self._sessions.items()}
            if totals[session_id] + size > SESSION_BYTES:
                return Refusal.SESSION_FULL
            if sum(totals.values()) + size > PROCESS_BYTES:
                return Refusal.SERVER_FULL
            entry.uploading += size
            return None

    def settle(self, session_id: str, file_id: str, size: int, stored: bool) -> None:
        """An upload reserved with ``size`` has ended; ``stored`` when Streamlit kept it."""
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None:
                return
            entry.uploading -= size
            if stored:
                entry.files.add(file_id)

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def connected(self, session_id: str, now: float) -> None:
        with self._lock:
            if (entry := self._sessions.get(session_id)) is not None:
                entry.last_connected = now

    def gone_since(self, session_id: str) -> float | None:
        """When ``session_id`` was last seen connected (None: not tracked)."""
        with self._lock:
            entry = self._sessions.get(session_id)
            return None if entry is None else entry.last_connected

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _entry(self, session_id: str, now: float) -> _Session:
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = self._sessions[session_id] = _Session(last_connected=now)
        return entry

    @staticmethod
    def _held(session_id: str, entry: _Session, held: HeldSizes) -> int:
        """What the session holds and is uploading; files Streamlit let go are forgotten."""
        sizes = held(session_id, list(entry.files)) if entry.files else {}
        entry.files &= set(sizes)
        return sum(sizes.values()) + entry.uploading


# The one ledger of this process: scripts admit sessions into it, the HTTP guard reads it.
LEDGER = UploadLedger()
