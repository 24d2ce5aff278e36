"""``streamlit run asgi.py`` (app.py behind the HTTP guard) as the browser tests and the
load benchmark drive it.

Each process gets its environment from scratch, so no developer's ``.env``,
``secrets.toml``, data folder or ``OPENAI_*`` variable can reach it; its output goes to a
log file the caller can search (for tracebacks, for a leaked key).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.serve import WORKER_HOST as HOST
from deploy.serve import answers_ok, worker_command
from deploy.serve import stop as stop  # re-exported: the tests stop what they start
from testing.fake_openai import unused_port

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0


class AppDidNotStart(RuntimeError):
    """The app exited, or never answered its health check; the message holds its log."""


@dataclass
class AppProcess:
    """One ``streamlit run app.py`` process and where its output goes."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def stream_url(self) -> str:
        """The websocket a browser tab talks to."""
        return f"ws://{HOST}:{self.port}/_stcore/stream"

    def log(self) -> str:
        """Everything the app printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")


def clean_environment(extra: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """This process's environment minus anything that could point the app elsewhere."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "CHATLAB_", "STREAMLIT_")) and name != "DATABASE_URL"
    }
    env.update(
        CHATLAB_ENV_FILE=str(scratch / "no.env"),  # never a developer's .env
        CHATLAB_DATA_DIR=str(scratch / "data"),  # stored chats stay out of the work tree
        CHATLAB_DISCOVERY_PORTS="",  # never find a developer's own model server
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start(
    name: str,
    extra_env: Mapping[str, str],
    scratch: Path,
    log_path: Path,
    *,
    port: int | None = None,
    secrets_file: Path | None = None,
    script: str = "asgi.py",
    poll: float = 0.1,
) -> AppProcess:
    """Start the app (or another ``script``: the benchmarks' baselines) and wait until its
    health endpoint answers "ok", asking every ``poll`` s.

    Without ``secrets_file`` the app reads only an absent one, never a developer's
    ``.streamlit/secrets.toml``.
    """
    port = port or unused_port()
    # The command a deployed worker runs (no file watcher: a source file saved mid-run
    # would drop modules under running sessions), reading no developer's secrets.
    command = [
        *worker_command(port, script),
        "--secrets.files",
        str(secrets_file or scratch / "no-secrets.toml"),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=clean_environment(extra_env, scratch),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = AppProcess(name, port, log_path, process)
    try:
        _wait_until_healthy(app, poll)
    except BaseException:
        stop(process)
        raise
    return app


def _wait_until_healthy(app: AppProcess, poll: float) -> None:
    health = f"{app.origin}/_stcore/health"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise AppDidNotStart(
                f"app {app.name!r} exited with {app.process.returncode}:\n{app.log()}"
            )
        if answers_ok(health):
            return
        time.sleep(poll)  # polling a process that is starting up
    raise AppDidNotStart(
        f"app {app.name!r} not healthy after {STARTUP_TIMEOUT:.0f} s:\n{app.log()}"
    )
