"""Where Chat Lab listens (issue 24.4): `make run` on this machine only, a warning when
it is told otherwise with nobody signed in, and `make serve`'s workers closed to typed
Base URLs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from deploy.listen_check import warning
from deploy.serve import worker_environment
from tests.conftest import ROOT


def make_dry(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``make -n`` in the project, as a person would type it: not as a sub-make of
    ``make test`` (whose variables would make it print "Entering directory")."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=check,
    )


def make_run(*args: str) -> str:
    """The commands `make run` would run (printed, not run)."""
    return make_dry("run", *args).stdout


def test_make_run_listens_on_loopback_unless_host_says_otherwise() -> None:
    assert "--server.address 127.0.0.1 " in make_run()
    assert "--server.address 0.0.0.0 " in make_run("HOST=0.0.0.0")
    assert "deploy.listen_check 0.0.0.0" in make_run("HOST=0.0.0.0")


@pytest.mark.parametrize("goal", ["run", "serve"])
@pytest.mark.parametrize("host", ["HOST=", "HOST= "])
def test_an_empty_host_is_refused_before_anything_runs(goal: str, host: str) -> None:
    done = make_dry(goal, host, check=False)
    assert done.returncode != 0 and done.stdout == ""  # not even the install is printed
    assert "HOST is empty" in done.stderr and "HOST=127.0.0.1" in done.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_no_warning_on_this_machine_alone(host: str, tmp_path: Path) -> None:
    assert warning(host, tmp_path / "absent.toml") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "myhost.lan", ""])
def test_a_wider_address_without_sign_in_warns(host: str, tmp_path: Path) -> None:
    found = warning(host, tmp_path / "absent.toml")
    assert found is not None and "sign-in is off" in found and "HOST=127.0.0.1" in found


def test_sign_in_silences_the_warning(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OPENAI_API_KEY = "sk"\n')
    assert warning("0.0.0.0", secrets) is not None
    secrets.write_text('[auth]\nredirect_uri = "http://x/oauth2callback"\n')
    assert warning("0.0.0.0", secrets) is None
    secrets.write_text("[auth\nbroken")
    assert warning("0.0.0.0", secrets) is not None


def test_make_serve_workers_refuse_typed_base_urls_unless_the_operator_allows() -> None:
    assert worker_environment({})["CHATLAB_ALLOW_CUSTOM_BASE_URL"] == "0"
    assert (
        worker_environment({"CHATLAB_ALLOW_CUSTOM_BASE_URL": " "})["CHATLAB_ALLOW_CUSTOM_BASE_URL"]
        == "0"
    )
    allowed = worker_environment({"CHATLAB_ALLOW_CUSTOM_BASE_URL": "1", "PATH": "/bin"})
    assert allowed == {"CHATLAB_ALLOW_CUSTOM_BASE_URL": "1", "PATH": "/bin"}
