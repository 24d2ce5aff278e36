"""``python -m chatlab eval SPEC.yaml``: an evaluation run headless, for CI.

It runs the spec against the configured endpoint (``.env`` and the environment, as the
app reads them), with the same sweep, checks and judge as the Compare page, and stores
the run in the same database under the owner ``--owner`` (default ``local``, the app's
owner when sign-in is off), so it opens in the Compare page's stored runs.

Progress goes to stderr, one line each time a result settles; the pass-rate table goes to
stdout. The exit status: 0 when the overall pass rate reaches the spec's ``threshold`` (or
it has none), 1 when it is below, 2 when nothing was run: a bad spec (its field named), a
grid over the budget (``CHATLAB_MAX_RUN_REQUESTS`` / ``CHATLAB_MAX_RUN_COST``) or no
endpoint configured. The overall pass rate counts every result: a request that failed is
not a pass, nor is a result whose judge gave no verdict.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from chatlab import config
from chatlab.compare.budget import Budget, estimate, refusal
from chatlab.compare.evaluation import composer, evaluator, reply_judge
from chatlab.compare.saver import SAVE_BACKOFF, RunSaver
from chatlab.compare.scoreboard import Scoreboard, scoreboard
from chatlab.compare.spec import EvalSpec, assertion_data, load_spec
from chatlab.compare.spec_error import SpecError
from chatlab.compare.sweep import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Sweep
from chatlab.config import OPENAI_BASE_URL, ConfigError, Endpoint
from chatlab.deadline import Watch
from chatlab.errors import ChatLabError
from chatlab.grid import FINAL, Cell, Grid, GridError, Run, State, new_run
from chatlab.messages import ChatSettings
from chatlab.provider import Quirks, ReplyStream, make_client, start_reply
from chatlab.storage import StorageError, Store
from chatlab.tokens import price_usd

__all__ = ["LOCAL_OWNER", "main"]

LOCAL_OWNER = "local"  # the app's one owner when sign-in is off
POLL = 0.25  # seconds between progress checks
SAVE_WAIT = 30.0  # seconds the last copy of the run may take to be stored
EXIT_PASSED, EXIT_BELOW, EXIT_NOT_RUN = 0, 1, 2


class NotRun(Exception):
    """Why the evaluation was not run: said on stderr, exit status 2."""


def main(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``argv``'s spec; the exit status."""
    args = _parser().parse_args(list(argv))
    try:
        spec = _spec(Path(args.spec))
        endpoint = _endpoint()
        run = _run(spec, endpoint, args.concurrency)
    except NotRun as problem:
        print(f"chatlab eval: {problem}", file=err)
        return EXIT_NOT_RUN
    store = _store(err)
    try:
        finished = _sweep(run, spec, endpoint, args.concurrency, store, args.owner, err)
    finally:
        if store is not None:
            store.close()
    board = scoreboard(finished.results, asserted=bool(spec.asserts))
    print(board.table(), file=out)
    return _status(board, spec.threshold, out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chatlab eval",
        description="Run an evaluation spec against the configured endpoint.",
    )
    parser.add_argument("spec", help="the spec (YAML): prompts, tests, models, params, ...")
    parser.add_argument(
        "--owner",
        default=LOCAL_OWNER,
        help="whose stored runs it joins (default: local, the app's owner without sign-in)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        choices=range(1, MAX_CONCURRENCY + 1),
        metavar=f"1..{MAX_CONCURRENCY}",
        help=f"requests at once (default {DEFAULT_CONCURRENCY})",
    )
    return parser


def _spec(path: Path) -> EvalSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotRun(f"cannot read {path}: {exc}") from None
    try:
        return load_spec(text, path.resolve().parent)
    except SpecError as problem:
        raise NotRun(f"{path}: {problem}") from None


def _endpoint() -> Endpoint:
    config.load_env_file()
    try:
        config.settings()
    except ConfigError as problem:
        raise NotRun(str(problem)) from None
    endpoint = config.resolve_endpoint({}, {})
    if not endpoint.usable:
        raise NotRun("no endpoint: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server.")
    return endpoint


def _run(spec: EvalSpec, endpoint: Endpoint, concurrency: int) -> Run:
    """The spec's run, checked against the budget; nothing is sent yet."""
    model = config.default_model({})
    tests = spec.tests if spec.tests.columns else None
    grid = Grid(
        ChatSettings(model=model, system_prompt="", response_format=spec.response_format),
        axes=spec.params,
        models=spec.models,
        samples=spec.samples,
        variants=spec.prompts,
        columns=tests.columns if tests else (),
        rows=tests.rows if tests else (),
    )
    try:
        run = new_run(
            grid,
            spec.prompts[0].user,
            [],
            compose=composer(),
            asserts=[assertion_data(assertion) for assertion in spec.asserts],
        )
    except (GridError, ChatLabError) as problem:
        raise NotRun(str(problem)) from None
    url = endpoint.base_url or OPENAI_BASE_URL

    def price(name: str, tokens_in: int, tokens_out: int) -> float | None:
        return price_usd(name, base_url=url, prompt_tokens=tokens_in, completion_tokens=tokens_out)

    judges = [a.model or model for a in spec.asserts if a.type == "llm-rubric"]
    cells = [result.cell for result in run.results]
    found = estimate(cells, [], price, judges=judges, concurrency=concurrency)
    refused = refusal(found, Budget(config.max_run_requests(), config.max_run_cost()), {})
    if refused is not None:
        raise NotRun(str(refused))
    return run


def _store(err: TextIO) -> Store | None:
    try:
        return Store.open(config.database_url())
    except (StorageError, ChatLabError) as problem:
        print(f"chatlab eval: the run will not be stored: {problem}", file=err)
        return None


def _sweep(
    run: Run,
    spec: EvalSpec,
    endpoint: Endpoint,
    concurrency: int,
    store: Store | None,
    owner: str,
    err: TextIO,
) -> Run:
    """Send every cell, check every result, store the run as it grows; the run at the end."""
    client = make_client(endpoint, config.timeouts())
    learnt: dict[str, Quirks] = {}

    def send(settings: ChatSettings, messages: list[dict[str, str]], watch: Watch) -> ReplyStream:
        stream, quirks = start_reply(
            client, settings, messages, quirks=learnt.get(settings.model), watch=watch
        )
        learnt[settings.model] = quirks
        return stream

    def start_cell(cell: Cell, watch: Watch) -> ReplyStream:
        return send(cell.settings, list(cell.messages or run.messages), watch)

    notices: list[str] = []
    save = RunSaver(store, owner, notices, SAVE_BACKOFF)  # off the sweep's threads
    judge = reply_judge(send)
    sweep = Sweep(
        run,
        start_cell,
        concurrency=concurrency,
        on_change=save,
        evaluate=evaluator(spec.asserts, run.grid, judge),
    )
    told = -1
    try:
        while not sweep.wait(POLL):
            told = _progress(sweep.results(), told, err)
    except KeyboardInterrupt:
        sweep.stop()
        sweep.wait(5.0)
        print("chatlab eval: stopped; what arrived is stored.", file=err)
    _progress(sweep.results(), told, err)
    finished = sweep.snapshot()
    save(finished)
    if not save.wait(SAVE_WAIT):
        print("chatlab eval: the run could not be stored in time.", file=err)
    for notice in notices:
        print(f"chatlab eval: {notice}", file=err)
    return finished


def _progress(results: Sequence[object], told: int, err: TextIO) -> int:
    """One line on stderr when more results have settled than were told."""
    settled = [r for r in results if getattr(r, "state", None) in FINAL]
    if len(settled) != told:
        failed = sum(1 for r in settled if getattr(r, "state", None) == State.FAILED)
        extra = f", {failed} failed" if failed else ""
        print(f"chatlab eval: {len(settled)}/{len(results)} done{extra}", file=err, flush=True)
    return len(settled)


def _status(board: Scoreboard, threshold: float | None, out: TextIO) -> int:
    rate = board.overall.rate
    if threshold is None:
        return EXIT_PASSED
    if rate is None:
        print(
            f"The spec has no assertions to pass; its threshold {threshold:.0%} is not used.",
            file=out,
        )
        return EXIT_PASSED
    verdict = "reaches" if rate >= threshold else "is below"
    print(f"Overall pass rate {rate:.0%} {verdict} the threshold {threshold:.0%}.", file=out)
    return EXIT_PASSED if rate >= threshold else EXIT_BELOW
