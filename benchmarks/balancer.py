"""50 sessions chatting at once through HAProxy, with 1, 2 and 4 app processes behind it.

The same websocket sessions as testing/load.py, pointed at HAProxy's port instead of one
app's: each session is one websocket, which ``balance roundrobin`` gives to the next
process. All processes share one SQLite file, as ``make serve`` runs them. The speed-up is
p50 time to first token with one process over p50 with N, read against the core count:
past one process per core the processes only take turns. Each row also gives the app
processes' CPU time per reply (user plus system, from ``/proc``, all processes together):
what one reply costs the server, whatever the core count.

``python -m benchmarks.balancer`` runs this part of ``make bench`` alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy.serve import start_balancer  # noqa: E402
from testing import load  # noqa: E402
from testing.app_process import AppProcess, start, stop  # noqa: E402
from testing.fake_openai import HOST, FakeOpenAI, Reply, unused_port  # noqa: E402

PROCESSES = (1, 2, 4)
SESSIONS = 50
ROUNDS = 2  # rounds of 50 sessions per row: 100 replies, so p95 is not one reply
BUDGET = 240.0  # seconds for all rows together


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def balanced_app(
    base_url: str, processes: int, scratch: Path, workers: list[AppProcess]
) -> Iterator[AppProcess]:
    """``processes`` apps (listed in ``workers``) on one SQLite file behind HAProxy;
    HAProxy as an ``AppProcess``."""
    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-balancer-bench"}
    try:
        for index in range(processes):
            workers.append(start(f"w{index + 1}", env, scratch, scratch / f"w{index + 1}.log"))
        log_path = scratch / "haproxy.log"
        with log_path.open("wb") as log:
            ports = [worker.port for worker in workers]
            balancer = start_balancer(ports, HOST, unused_port(), scratch / "lb", log)
        try:
            yield AppProcess("haproxy", balancer.port, log_path, balancer.process)
        finally:
            stop(balancer.process)
    finally:
        for worker in workers:
            if "Traceback" in worker.log():
                print(worker.log()[-4000:], file=sys.stderr)
                raise SystemExit(f"balancer: {worker.name} logged a traceback")
            stop(worker.process)


@dataclass
class Row:
    samples: list[float]  # seconds to first token, one per reply
    cpu_ms: float  # the app processes' CPU milliseconds per reply, all processes together


def measure_row(fake: FakeOpenAI, processes: int, deadline: float) -> Row:
    workers: list[AppProcess] = []
    with (
        tempfile.TemporaryDirectory(prefix="chatlab-balancer-") as scratch,
        balanced_app(fake.base_url, processes, Path(scratch), workers) as front,
    ):
        # Warm up every process (first imports, first connections): one session each.
        load.measure(front, processes, deadline, rounds=1)
        before = sum(cpu_seconds(worker.process.pid) for worker in workers)
        samples = load.measure(front, SESSIONS, deadline, rounds=ROUNDS)
        used = sum(cpu_seconds(worker.process.pid) for worker in workers) - before
        return Row(samples, 1000 * used / max(1, len(samples)))


def report(results: Mapping[int, Row]) -> None:
    base = load.percentile(results[PROCESSES[0]].samples, 50)
    print(
        f"balancer  time to first token, {SESSIONS} sessions sending at once through HAProxy "
        f"to N app processes on one SQLite file ({os.cpu_count()} cores):"
    )
    print(
        "          processes   replies   p50 ms   p95 ms   speed-up (p50, 1 process / N)"
        "   app CPU ms per reply"
    )
    for processes, row in results.items():
        samples = row.samples
        p50, p95 = load.percentile(samples, 50), load.percentile(samples, 95)
        print(
            f"          {processes:9d}   {len(samples):7d}   {p50 * 1000:6.0f}   {p95 * 1000:6.0f}"
            f"   {base / p50:5.2f}   {row.cpu_ms:8.1f}"
        )


def main() -> None:
    if shutil.which("haproxy") is None and shutil.which("haproxy", path="/usr/sbin") is None:
        print("balancer  skipped: HAProxy is not installed (apt-get install haproxy)")
        return
    with FakeOpenAI(default_reply=Reply(chunk_delay=load.CHUNK_DELAY)) as fake:
        deadline = time.monotonic() + BUDGET
        results = {n: measure_row(fake, n, deadline) for n in PROCESSES}
    report(results)


if __name__ == "__main__":
    main()
