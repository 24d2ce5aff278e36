"""`make serve` itself (deploy/serve.py): a worker killed under it comes back on its own.

The whole command runs as a user runs it (HAProxy, two workers, the supervisor); the
test kills one worker with SIGKILL, as the OOM killer or a SQLite SIGBUS would, and waits
(on the supervisor's own report and the worker's health check, never on time) until it is
back on its port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from deploy.serve import answers_ok
from testing.app_process import AppProcess, clean_environment
from testing.fake_openai import FakeOpenAI, unused_port
from tests.conftest import ROOT
from tests.e2e.conftest import LOGS, OpenPage
from tests.e2e.test_balancer import haproxy  # noqa: F401 (a fixture)

DEADLINE = 120.0  # seconds: a bound for a loaded machine, not a measure of speed


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first line of the log matching ``pattern``, once it is there."""
        deadline = time.monotonic() + DEADLINE
        while (found := re.search(pattern, self.log())) is None:
            assert self.process.poll() is None, f"make serve exited:\n{self.log()[-4000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.log()[-4000:]}"
            time.sleep(0.1)  # polling another process's log
        return found


def free_run(count: int) -> int:
    """A port with the ``count`` ports after it free too (make serve's workers use them)."""
    for _ in range(50):
        port = unused_port()
        try:
            for offset in range(count + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise AssertionError("no run of free ports")


@pytest.fixture
def served(
    haproxy: None,  # noqa: F811
    browser: Browser,
    fake: FakeOpenAI,
    tmp_path: Path,
) -> Iterator[Served]:
    port = free_run(2)
    env = clean_environment(
        {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url}, tmp_path
    )
    log_path = LOGS / f"serve-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "deploy/serve.py", "--workers", "2", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # our own command
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    served = Served(process, port, log_path)
    try:
        served.wait_for(r"-> 2 app processes")
        yield served
    finally:
        process.send_signal(signal.SIGTERM)  # stops HAProxy and every worker
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.e2e
def test_a_killed_worker_comes_back_on_its_own(open_page: OpenPage, served: Served) -> None:
    port = served.port + 1
    pid = int(served.wait_for(rf"worker :{port} is pid (\d+)").group(1))
    os.kill(pid, signal.SIGKILL)
    back = served.wait_for(rf"worker :{port} is back as pid (\d+) \(([\d.]+) s")
    assert int(back.group(1)) != pid
    assert answers_ok(f"http://127.0.0.1:{port}/_stcore/health")
    print(f"worker back {back.group(2)} s after it was killed")  # the measure, for the log
    assert answers_ok(f"http://127.0.0.1:{served.port}/_stcore/health")  # through HAProxy
    front = AppProcess("serve", served.port, served.log_path, served.process)
    open_page(front).chat("still served", "Echo: still served")
