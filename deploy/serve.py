"""``make serve``: N app processes on one machine and HAProxy in front of them.

    python deploy/serve.py --workers 2 --port 8501 [--host 127.0.0.1]

Workers listen on 127.0.0.1 at the ports after ``--port`` (8502, 8503, ...); HAProxy
listens on ``--host:--port`` with sticky sessions (deploy/haproxy.cfg). Every worker gets
this process's environment, so all of them use one database: ``DATABASE_URL`` when it is
set, else the SQLite file in ``CHATLAB_DATA_DIR`` (WAL mode lets several processes share
it). A worker that dies is started again on its port (``supervise``). Ctrl-C or SIGTERM
stops HAProxy and every worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
WORKER_HOST = "127.0.0.1"  # workers are reached through HAProxy only
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SUPERVISE_EVERY = 0.5  # seconds between looks at the workers
CRASH_LOOP = 30.0  # a worker that dies sooner than this after starting may be crash-looping
MAX_RESTART_DELAY = 30.0  # seconds: the longest wait before starting a crash-looping worker
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


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """This process's environment for a worker. Workers listen on 127.0.0.1 but serve
    whoever reaches HAProxy, so visitors may not type a Base URL (which would make the
    server send requests where they say) unless ``CHATLAB_ALLOW_CUSTOM_BASE_URL`` is set."""
    env = dict(environ)
    if not env.get("CHATLAB_ALLOW_CUSTOM_BASE_URL", "").strip():
        env["CHATLAB_ALLOW_CUSTOM_BASE_URL"] = "0"
    return env


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


@dataclass
class Worker:
    """One app process the supervisor keeps alive on its port."""

    port: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    quick_deaths: int = 0  # deaths in a row soon after starting (a crash loop)


def serve(workers: int, host: str, port: int, folder: Path) -> None:
    """Run until Ctrl-C, SIGTERM, or HAProxy exiting; then stop everything."""
    running: list[Worker] = []
    balancer: Balancer | None = None
    worker_ports = [port + index for index in range(1, workers + 1)]
    try:
        for worker_port in worker_ports:
            running.append(
                Worker(worker_port, start_worker(worker_port, worker_environment(os.environ)))
            )
        balancer = start_balancer(worker_ports, host, port, folder)
        print(f"Chat Lab: {balancer.url} -> {workers} app processes on {worker_ports}", flush=True)
        for worker in running:
            print(f"Chat Lab: worker :{worker.port} is pid {worker.process.pid}", flush=True)
        supervise(running, balancer.process)
    finally:
        if balancer is not None:
            stop(balancer.process)
        for worker in reversed(running):
            stop(worker.process)


def supervise(workers: Sequence[Worker], balancer: subprocess.Popen[bytes]) -> None:
    """Restart any worker that dies, until HAProxy exits.

    One process's crash (a SIGBUS from SQLite, the OOM killer, a kill -9) takes only its
    own sessions; HAProxy sends their next request to a live worker until this one is
    back on its port (its health check passes again).
    """
    while balancer.poll() is None:
        for worker in workers:
            if worker.process.poll() is not None:
                revive(worker)
        time.sleep(SUPERVISE_EVERY)  # polling processes: no event to wait on portably


def revive(worker: Worker) -> None:
    """Start a dead worker again on its port; a crash loop backs off, never gives up."""
    died = time.monotonic()
    code = worker.process.returncode
    lived = died - worker.started
    worker.quick_deaths = worker.quick_deaths + 1 if lived < CRASH_LOOP else 0
    if worker.quick_deaths > 1:
        time.sleep(min(2.0 ** (worker.quick_deaths - 1), MAX_RESTART_DELAY))
    print(f"Chat Lab: worker :{worker.port} exited with {code}; restarting", flush=True)
    try:
        worker.process, worker.started = (
            start_worker(worker.port, worker_environment(os.environ)),
            time.monotonic(),
        )
    except ServeError as err:
        print(f"Chat Lab: worker :{worker.port} did not start again ({err})", flush=True)
        worker.started = time.monotonic()  # its process exited: the next round tries again
        return
    took = time.monotonic() - died
    print(
        f"Chat Lab: worker :{worker.port} is back as pid {worker.process.pid} "
        f"({took:.1f} s after it exited)",
        flush=True,
    )


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
