"""50 sessions chatting at once through HAProxy, with 1, 2 and 4 app processes behind it.

The same websocket sessions as testing/load.py, pointed at HAProxy's port instead of one
app's: each session is one websocket, which ``balance roundrobin`` gives to the next
process. All processes share one SQLite file, as ``make serve`` runs them. The speed-up is
p50 time to first token with one process over p50 with N, read against the core count:
past one process per core the processes only take turns. Each row also gives the app
processes' CPU time per reply (user plus system, from ``/proc``, all processes together):
what one reply costs the server, whatever the core count.

A row of its own gives what one reply costs the server in a conversation under way:
one app process, ``CPU_SESSIONS`` sessions of ``CPU_TURNS`` messages each, the CPU read
only while they chat (their pages already open). Its goal is a third of what the same
row measured before the chat's live end (commit 9c5e6e2, with this driver; that app ran
the whole page for every message). Milliseconds are not comparable between machines (the
same commit measured 51 ms on one day and 153 ms on another here), so "before" is read as
a multiple of the bare chat page measured in the same run (``CPU_BEFORE_X``).

Each row also gives the harness's CPU per reply: the fake model server and the load
driver, which ``make bench`` runs in its own single process. One process is one core at
most (the GIL): at 1,000 / that many replies a second the harness, not the app, is what
is measured. ``--fakes N`` and ``--drivers N`` run them in N processes each (app process
i asks fake server i mod N), ``--postgres`` gives the apps a PostgreSQL database (a
throwaway cluster) instead of one SQLite file: on a machine with many cores, each shows
whether the curve's flattening is the harness's, SQLite's or the app's.

``python -m benchmarks.balancer`` runs this part of ``make bench`` alone.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy.serve import start_balancer  # noqa: E402
from testing import load  # noqa: E402
from testing.app_process import AppProcess, start, stop  # noqa: E402
from testing.fake_openai import HOST, FakeOpenAI, Reply, unused_port  # noqa: E402
from tests.postgres import PostgresCluster, find_bin_dir  # noqa: E402

PROCESSES = (1, 2, 4)
SESSIONS = 50
ROUNDS = 2  # rounds of 50 sessions per row: 100 replies, so p95 is not one reply
BUDGET = 240.0  # seconds for all rows together
CPU_SESSIONS, CPU_TURNS = 10, 6
# 9c5e6e2 with this driver: 150, 126, 134 ms while the bare page took 47-54 ms, measured
# alternately (docs/performance.md, second round): x2.8 of the bare page.
CPU_BEFORE_X = 2.8
CPU_GOAL = 1 / 3
BARE = "benchmarks/bare_app.py"  # Streamlit's own chat tutorial: what any reply costs


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process's CPU time so far, all its threads (the in-process fake and driver)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


@dataclass(frozen=True)
class Harness:
    """Where the load comes from: fake model servers and load drivers, in this process
    (0) or in that many processes of their own; the apps' database."""

    fakes: int = 0
    drivers: int = 0
    postgres: bool = False

    def describe(self) -> str:
        fakes = f"{self.fakes} fake-server processes" if self.fakes else "fake server here"
        drivers = f"{self.drivers} driver processes" if self.drivers else "driver here"
        database = "PostgreSQL" if self.postgres else "one SQLite file"
        return f"{fakes}, {drivers}, {database}"


def _serve_fake(port: int, ready: multiprocessing.synchronize.Event, done: object) -> None:
    """A fake model server in a process of its own, until ``done`` (an Event) is set."""
    with FakeOpenAI(port, default_reply=Reply(chunk_delay=load.CHUNK_DELAY)):
        ready.set()
        done.wait()  # type: ignore[attr-defined]


@contextlib.contextmanager
def fake_servers(count: int) -> Iterator[list[str]]:
    """``count`` fake model servers, each a process; their base URLs."""
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    servers = []
    try:
        for _ in range(count):
            port, ready = unused_port(), spawn.Event()
            server = spawn.Process(target=_serve_fake, args=(port, ready, done), daemon=True)
            server.start()
            servers.append((server, port))
            if not ready.wait(60):
                raise SystemExit("balancer: a fake server process did not start")
        yield [f"http://{HOST}:{port}/v1" for _, port in servers]
    finally:
        done.set()
        for server, _ in servers:
            server.join(10)


@contextlib.contextmanager
def database(harness: Harness) -> Iterator[dict[str, str]]:
    """The apps' database: their environment's ``DATABASE_URL`` (none: one SQLite file)."""
    if not harness.postgres:
        yield {}
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit("balancer: --postgres needs PostgreSQL (apt-get install postgresql)")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        with cluster.database() as url:
            yield {"DATABASE_URL": url}
    finally:
        cluster.stop()


@contextlib.contextmanager
def balanced_app(
    base_urls: Sequence[str],
    processes: int,
    scratch: Path,
    workers: list[AppProcess],
    extra: Mapping[str, str],
) -> Iterator[AppProcess]:
    """``processes`` apps (listed in ``workers``) on one database behind HAProxy, app i
    asking ``base_urls[i mod N]``; HAProxy as an ``AppProcess``."""
    try:
        for index in range(processes):
            env = {
                "OPENAI_BASE_URL": base_urls[index % len(base_urls)],
                "OPENAI_API_KEY": "sk-balancer-bench",
                **extra,
            }
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
    harness_ms: float  # the fake servers' and the drivers' CPU milliseconds per reply


def measure_row(fake: FakeOpenAI, processes: int, deadline: float, harness: Harness) -> Row:
    workers: list[AppProcess] = []
    with (
        tempfile.TemporaryDirectory(prefix="chatlab-balancer-") as scratch,
        fake_servers(harness.fakes) as urls,
        database(harness) as extra,
        balanced_app(urls or [fake.base_url], processes, Path(scratch), workers, extra) as front,
    ):
        # Warm up every process (first imports, first connections): one session each.
        load.measure(front, processes, deadline, rounds=1)
        before = sum(cpu_seconds(worker.process.pid) for worker in workers)
        mine = own_cpu_seconds()
        fakes_before = sum(cpu_seconds(pid) for pid in _fake_pids())
        samples, drivers_spent = _drive(front, deadline, harness.drivers)
        used = sum(cpu_seconds(worker.process.pid) for worker in workers) - before
        harness_used = own_cpu_seconds() - mine + drivers_spent
        harness_used += sum(cpu_seconds(pid) for pid in _fake_pids()) - fakes_before
    replies = max(1, len(samples))
    return Row(samples, 1000 * used / replies, 1000 * harness_used / replies)


def _fake_pids() -> list[int]:
    """The fake-server processes running now (children of this process)."""
    return [child.pid for child in multiprocessing.active_children() if child.pid]


def _drive(front: AppProcess, deadline: float, drivers: int) -> tuple[list[float], float]:
    """The row's rounds of sessions: here, or split over ``drivers`` processes. The times
    to first token, and the driver processes' CPU seconds."""
    if not drivers:
        return load.measure(front, SESSIONS, deadline, rounds=ROUNDS), 0.0
    samples: list[float] = []
    spent = 0.0
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=drivers, mp_context=spawn) as pool:
        for _ in range(ROUNDS):
            conversations = [load.conversation(i, turns=1) for i in range(SESSIONS)]
            shares = [conversations[index::drivers] for index in range(drivers)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SystemExit(f"balancer: over its {BUDGET:.0f} s budget, no timing reported")
            futures = [pool.submit(load.drive, front.stream_url, s, remaining) for s in shares]
            for future in futures:
                found, wrong, cpu = future.result()
                if wrong:
                    raise SystemExit("balancer: wrong replies:\n" + "\n".join(wrong))
                samples += found
                spent += cpu
    return samples, spent


def cpu_per_reply(fake: FakeOpenAI, deadline: float, script: str = "asgi.py") -> float:
    """App CPU milliseconds per reply in conversations under way (page opens left out),
    of Chat Lab or of another ``script`` (the bare chat page)."""
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-balancer-bench"}
    with tempfile.TemporaryDirectory(prefix="chatlab-cpu-") as scratch:
        app = start("cpu", env, Path(scratch), Path(scratch) / "app.log", script=script)
        try:
            load.measure(app, 1, deadline, rounds=1)  # warm up: first imports, connections
            pid = app.process.pid
            spent: dict[str, float] = {}

            def phase(name: str) -> None:
                spent[name] = cpu_seconds(pid)

            samples = load.measure(
                app, CPU_SESSIONS, deadline, rounds=1, turns=CPU_TURNS, phase=phase
            )
            if "Traceback" in app.log():
                raise SystemExit(f"balancer: {script} logged a traceback:\n{app.log()[-4000:]}")
        finally:
            stop(app.process)
    return 1000 * (spent["done"] - spent["chatting"]) / len(samples)


def report_cpu(ours: float, bare: float) -> None:
    before = CPU_BEFORE_X * bare  # "before", at this machine's speed today
    goal = before * CPU_GOAL
    verdict = "pass" if ours <= goal else "FAIL"
    print(
        f"cpu       app CPU per reply, {CPU_SESSIONS} sessions x {CPU_TURNS} messages on one "
        f"process, pages already open: Chat Lab {ours:.0f} ms, the bare chat page "
        f"(benchmarks/bare_app.py) {bare:.0f} ms in this run (x{ours / bare:.1f}); before "
        f"the live end x{CPU_BEFORE_X:.1f} of the bare page, {before:.0f} ms here "
        f"(x{ours / before:.2f} of it, goal <= x{CPU_GOAL:.2f}: {goal:.0f} ms) {verdict}"
    )


def report(results: Mapping[int, Row], harness: Harness) -> None:
    base = load.percentile(results[PROCESSES[0]].samples, 50)
    print(
        f"balancer  time to first token, {SESSIONS} sessions sending at once through HAProxy "
        f"to N app processes ({harness.describe()}; {os.cpu_count()} cores):"
    )
    print(
        "          processes   replies   p50 ms   p95 ms   speed-up (p50, 1 process / N)"
        "   app CPU ms per reply   harness CPU ms per reply"
    )
    for processes, row in results.items():
        samples = row.samples
        p50, p95 = load.percentile(samples, 50), load.percentile(samples, 95)
        print(
            f"          {processes:9d}   {len(samples):7d}   {p50 * 1000:6.0f}   {p95 * 1000:6.0f}"
            f"   {base / p50:5.2f}   {row.cpu_ms:8.1f}   {row.harness_ms:8.1f}"
        )


def main(harness: Harness | None = None) -> None:
    harness = harness or Harness()
    if shutil.which("haproxy") is None and shutil.which("haproxy", path="/usr/sbin") is None:
        print("balancer  skipped: HAProxy is not installed (apt-get install haproxy)")
        return
    with FakeOpenAI(default_reply=Reply(chunk_delay=load.CHUNK_DELAY)) as fake:
        deadline = time.monotonic() + BUDGET
        report_cpu(cpu_per_reply(fake, deadline), cpu_per_reply(fake, deadline, BARE))
        results = {n: measure_row(fake, n, deadline, harness) for n in PROCESSES}
    report(results, harness)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fakes", type=int, default=0, help="fake-server processes")
    parser.add_argument("--drivers", type=int, default=0, help="load-driver processes")
    parser.add_argument("--postgres", action="store_true", help="the apps on PostgreSQL")
    arguments = parser.parse_args()
    main(Harness(arguments.fakes, arguments.drivers, arguments.postgres))
