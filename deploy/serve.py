"""``make serve``: N app processes on one machine and HAProxy in front of them.

    python deploy/serve.py --workers 2 --port 8501 [--host 127.0.0.1]

Workers listen on 127.0.0.1 at the ports after ``--port`` (8502, 8503, ...); HAProxy
listens on ``--host:--port`` with sticky sessions (deploy/haproxy.cfg). Every worker gets
this process's environment, so all of them use one database: ``DATABASE_URL`` when it is
set, else the SQLite file in ``CHATLAB_DATA_DIR`` (WAL mode lets several processes share
it). Ctrl-C or SIGTERM stops HAProxy and every worker.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
WORKER_HOST = "127.0.0.1"  # workers are reached through HAProxy only
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
Output = IO[bytes] | int | None


class ServeError(RuntimeError):
    """HAProxy is missing, rejected its config, or a process never became healthy."""


@dataclass
class Balancer:
    """A running HAProxy and the config file it reads."""

    host: str
    port: int
    config: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def render_config(worker_ports: Sequence[int], host: str, port: int) -> str:
    """deploy/haproxy.cfg with the listening address and one server line per worker."""
    servers = "\n".join(
        f"    server w{index} {WORKER_HOST}:{worker_port} cookie w{index}"
        for index, worker_port in enumerate(worker_ports, start=1)
    )
    filled = Template(TEMPLATE.read_text()).substitute(BIND=f"{host}:{port}", SERVERS=servers)
    return filled + "\n"


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        raise ServeError("HAProxy is not installed: run `apt-get install haproxy`.")
    return found


def start_balancer(
    worker_ports: Sequence[int], host: str, port: int, folder: Path, output: Output = None
) -> Balancer:
    """Write the config to ``folder``, check it, start HAProxy and wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "haproxy.cfg"
    config.write_text(render_config(worker_ports, host, port))
    binary = haproxy_binary()
    # S603: the command is ours, never user input (here and below).
    checked = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True)  # noqa: S603
    if checked.returncode != 0:
        raise ServeError(f"HAProxy rejected {config}:\n{checked.stderr.decode(errors='replace')}")
    command = [binary, "-f", str(config), "-db"]
    process = subprocess.Popen(command, stdout=output, stderr=output)  # noqa: S603
    balancer = Balancer(host, port, config, process)
    try:
        wait_until_healthy(f"http://{host}:{port}/_stcore/health", process, "HAProxy")
    except BaseException:
        stop(process)
        raise
    return balancer


def worker_command(port: int, script: str = "asgi.py") -> list[str]:
    """``streamlit run asgi.py`` (app.py behind the HTTP guard) as one worker behind the
    balancer (the benchmarks run their baseline ``script`` the same way)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        WORKER_HOST,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Saving a source file must not reload modules under running sessions.
        "--server.fileWatcherType",
        "none",
    ]


def start_worker(port: int, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one worker (output to this terminal) and wait until it is healthy."""
    process = subprocess.Popen(worker_command(port), cwd=ROOT, env=env)  # noqa: S603
    try:
        wait_until_healthy(f"http://{WORKER_HOST}:{port}/_stcore/health", process, f":{port}")
    except BaseException:
        stop(process)
        raise
    return process


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    """Poll ``url`` until it answers "ok"; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServeError(f"{name} exited with {process.returncode}")
        if answers_ok(url):
            return
        time.sleep(0.1)  # polling a process that is starting up
    raise ServeError(f"{name} not healthy after {STARTUP_TIMEOUT:.0f} s")


def answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http:// only)
            return bool(response.read().strip() == b"ok")
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def serve(workers: int, host: str, port: int, folder: Path) -> None:
    """Run until Ctrl-C, SIGTERM, or HAProxy exiting; then stop everything."""
    processes: list[subprocess.Popen[bytes]] = []
    worker_ports = [port + index for index in range(1, workers + 1)]
    try:
        for worker_port in worker_ports:
            processes.append(start_worker(worker_port))
        balancer = start_balancer(worker_ports, host, port, folder)
        processes.append(balancer.process)
        print(f"Chat Lab: {balancer.url} -> {workers} app processes on {worker_ports}", flush=True)
        while balancer.process.poll() is None:
            time.sleep(0.5)  # HAProxy routes around a dead worker; only its exit ends us
    finally:
        for process in reversed(processes):
            stop(process)


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops everything the way Ctrl-C does


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="HAProxy's port (default 8501)")
    parser.add_argument("--host", default="127.0.0.1", help="HAProxy's address (default local)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        serve(args.workers, args.host, args.port, ROOT / "artifacts" / "serve")
    except ServeError as err:
        raise SystemExit(f"make serve: {err}") from None
    except KeyboardInterrupt:
        print("Chat Lab: stopped", flush=True)


if __name__ == "__main__":
    main()
