"""Another program holding a SQLite file's write lock, for the tests of a locked database.

A second process (not a second connection of the test's own) is what a user meets: a
backup tool or a second Chat Lab holding an exclusive transaction. It takes the lock,
says so, and keeps it until ``release``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

__all__ = ["ForeignLock"]

_HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE IF NOT EXISTS held_by_another_program (x)")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


class ForeignLock:
    """An exclusive transaction on ``path`` in another process, from construction (it
    returns once the lock is held) until ``release`` or the end of a ``with`` block."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    @property
    def held(self) -> bool:
        """True while the other process still holds the lock."""
        return self.process.poll() is None

    def release(self) -> None:
        """End the other transaction and wait for its process (safe to call twice)."""
        stdin = self.process.stdin
        if self.held and stdin is not None and not stdin.closed:
            stdin.write("\n")
            stdin.close()
        self.process.wait(timeout=30)

    def __enter__(self) -> ForeignLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
