"""A new process's first page loads no more than it draws.

Loading the model SDK (``openai``) takes a third of a second, and the first page needs
none of it: the model list comes over httpx. These run in a fresh interpreter, since the
test process has loaded everything long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testing.app_process import clean_environment
from testing.fake_openai import DEFAULT_MODELS, FakeOpenAI
from tests.conftest import ROOT, TEST_KEY

LATE = ("openai", "genai_prices")  # what a reply needs and a first page does not
# ... and what a first page never needs: on SQLite, the PostgreSQL dialect (about 25 ms);
# the leaderboard's numpy (0.1 s; an image file as the tab's icon loads it too) and the
# spec's YAML, anywhere.
UNUSED = ("sqlalchemy.dialects.postgresql", "numpy", "yaml")

SCRIPT = f"""
import json, sys, threading
from streamlit.testing.v1 import AppTest
import chatlab.provider
from components import session

warm_up = chatlab.provider.warm_up
chatlab.provider.warm_up = lambda: None  # the first page alone, without what follows it
at = AppTest.from_file("app.py", default_timeout=30).run()
first_page = {{name: name in sys.modules for name in {LATE + UNUSED!r}}}
warm_up()
for thread in threading.enumerate():
    if thread.name == "chatlab-warm-up":
        thread.join(30)
warmed = {{name: name in sys.modules for name in {LATE!r}}}
print(json.dumps({{
    "errors": [e.value for e in at.exception] + [e.value for e in at.error],
    "models": list(at.selectbox(key=session.MODEL).options),
    "first_page": first_page,
    "warmed": warmed,
}}))
"""


def test_the_first_page_lists_models_without_the_sdk_and_the_warm_up_loads_it(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    extra = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": fake.base_url}
    env = clean_environment(extra, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == []
    assert found["models"] == sorted(DEFAULT_MODELS)
    assert found["first_page"] == dict.fromkeys(LATE + UNUSED, False)
    assert found["warmed"] == dict.fromkeys(LATE, True)
