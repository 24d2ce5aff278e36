"""`python -m chatlab eval SPEC.yaml` against the fake server: the exit status, the table, the
stored run, the judge's requests, and a bad spec refused with its field named."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatlab import config
from chatlab.compare import load_spec
from chatlab.compare.command import LOCAL_OWNER, main
from chatlab.grid import State
from chatlab.storage import Store
from testing.fake_openai import FakeOpenAI, Reply
from tests.conftest import ROOT, TEST_KEY

SPEC = """\
prompts:
  - "Translate to French: {{text}}"
  - {system: "Answer in one word.", user: "French for {{text}}?"}
tests:
  - {text: good morning, expected: good morning}
  - {text: goodbye, expected: adieu}
models: [gpt-4o-mini]
params: {temperature: [0, 0.7]}
samples: 1
assert:
  - {type: contains, value: "{{expected}}", ignore_case: true}
threshold: THRESHOLD
"""


@pytest.fixture
def endpoint(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    return fake


def write_spec(folder: Path, threshold: float, text: str = SPEC) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text.replace("THRESHOLD", str(threshold)), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_a_spec_above_its_threshold_exits_0_and_is_stored(
    endpoint: FakeOpenAI, tmp_path: Path
) -> None:
    # The fake echoes each prompt: "good morning" is in its reply, "adieu" never is.
    status, out, err = run(str(write_spec(tmp_path, 0.5)), "--concurrency", "2")
    assert status == 0, (out, err)
    sent = [r.body["messages"] for r in endpoint.chat_requests]
    assert len(sent) == 2 * 2 * 2  # variants x rows x temperatures
    users = sorted(m[-1]["content"] for m in sent)
    assert users.count("Translate to French: goodbye") == 2
    assert users.count("French for good morning?") == 2
    assert all(
        m[0] == {"role": "system", "content": "Answer in one word."}
        for m in sent
        if m[-1]["content"].startswith("French for")
    )
    assert "Overall pass rate 50% reaches the threshold 50%." in out
    assert "A       temperature=0.0 · gpt-4o-mini  50% (1/2)" in out
    assert "8/8 done" in err
    with Store.open(config.database_url()) as store:
        [summary] = store.list_runs(LOCAL_OWNER)
        stored = store.load_run(LOCAL_OWNER, summary.id)
    assert stored is not None
    assert [r.state for r in stored.results] == [State.DONE] * 8
    assert [r.passed for r in stored.results].count(True) == 4
    assert stored.asserts == ({"type": "contains", "value": "{{expected}}", "ignore_case": True},)


def test_a_spec_below_its_threshold_exits_1(endpoint: FakeOpenAI, tmp_path: Path) -> None:
    status, out, _ = run(str(write_spec(tmp_path, 0.9)))
    assert status == 1
    assert "Overall pass rate 50% is below the threshold 90%." in out


def test_a_failed_request_is_not_a_pass(endpoint: FakeOpenAI, tmp_path: Path) -> None:
    endpoint.enqueue(*[Reply(status=500, error={"message": "down", "type": "server_error"})] * 8)
    status, out, err = run(str(write_spec(tmp_path, 0.1)), "--concurrency", "1")
    assert status == 1
    assert "0% (0/8)" in out
    assert "8 failed" in err


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("prompts: []\n", "prompts"),
        ('prompts: ["Hi {{name}}"]\ntests: [{other: x}]\n', "tests"),
        ('prompts: ["Hi"]\nassert: [{type: contains}]\n', "assert[0]"),
        ('prompts: ["Hi"]\nparams: {temperature: [9]}\n', "params.temperature[0]"),
        ('prompts: ["Hi"]\ncolour: red\n', "colour"),
    ],
)
def test_a_bad_spec_exits_2_naming_its_field(
    endpoint: FakeOpenAI, tmp_path: Path, text: str, field: str
) -> None:
    status, _, err = run(str(write_spec(tmp_path, 0, text)))
    assert status == 2
    assert field in err
    assert endpoint.chat_requests == []


def test_over_budget_exits_2_and_sends_nothing(
    endpoint: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_MAX_RUN_REQUESTS", "5")
    status, _, err = run(str(write_spec(tmp_path, 0.5)))
    assert status == 2
    assert "8 requests" in err and "CHATLAB_MAX_RUN_REQUESTS" in err
    assert endpoint.chat_requests == []


def test_no_endpoint_exits_2(tmp_path: Path) -> None:
    status, _, err = run(str(write_spec(tmp_path, 0.5)))
    assert status == 2
    assert "OPENAI_API_KEY" in err


def test_a_judge_request_goes_to_the_judge_model_and_an_unreadable_verdict_is_no_pass(
    endpoint: FakeOpenAI, tmp_path: Path
) -> None:
    spec = (
        'prompts: ["Say hi"]\nsamples: 2\nmodels: [gpt-4o-mini]\nthreshold: 0.5\n'
        "assert:\n  - {type: llm-rubric, value: The reply greets, model: gpt-4o}\n"
    )
    endpoint.enqueue(
        Reply(text="Hi!"),
        Reply(text='{"score": "pass", "reason": "It greets."}', model="gpt-4o"),
        Reply(text="Hello."),
        Reply(text="I think it is fine.", model="gpt-4o"),
    )
    status, out, _ = run(str(write_spec(tmp_path, 0, spec)), "--concurrency", "1")
    models = [r.body["model"] for r in endpoint.chat_requests]
    assert models == ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "gpt-4o"]
    judge_body = endpoint.chat_requests[1].body
    assert judge_body["temperature"] == 0
    assert '"Hi!"' in judge_body["messages"][-1]["content"]  # the output, as JSON data
    assert status == 0 and "50% (1/2)" in out
    with Store.open(config.database_url()) as store:
        [summary] = store.list_runs(LOCAL_OWNER)
        stored = store.load_run(LOCAL_OWNER, summary.id)
        sources = [r.stats.source for r in store.usage_records(LOCAL_OWNER).records]
    assert stored is not None
    checks = [r.checks[0] for r in stored.results]
    assert [c.passed for c in checks] == [True, None]
    assert checks[0].reason == "gpt-4o: It greets."
    assert "gave no verdict" in checks[1].reason
    assert sorted(sources) == ["compare", "compare", "judge", "judge"]


def test_python_dash_m_chatlab_eval_runs_the_spec(endpoint: FakeOpenAI, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, 0.9)
    done = subprocess.run(
        [sys.executable, "-m", "chatlab", "eval", str(spec)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "is below the threshold 90%" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "chatlab", "evaluate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "usage: python -m chatlab eval" in bad.stderr


def test_the_example_spec_loads_and_runs(endpoint: FakeOpenAI) -> None:
    example = ROOT / "evals" / "french.yaml"
    spec = load_spec(example.read_text(encoding="utf-8"), example.parent)
    assert (len(spec.prompts), len(spec.tests.rows)) == (2, 5)
    status, out, err = run(str(example), "--concurrency", "4")
    # 20 replies and 20 judge requests; the fake's echo is no verdict: nothing passes.
    assert len(endpoint.chat_requests) == 40, err
    assert status == 1 and "0% (0/20)" in out


def test_make_eval_without_a_spec_says_how() -> None:
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.runtime", "eval"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Name the spec: make eval SPEC=" in done.stderr
