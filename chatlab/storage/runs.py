"""Compare runs (``chatlab.grid.Run``) as rows, and as the JSON they are stored and exported in.

A run is written and read whole, as one JSON document: the grid, the messages sent and
every result with its telemetry. Nothing in it is ever queried into, and a run is small
(at most ``MAX_CELLS`` replies). Settings and stats go through ``transfer``'s field rules
both ways, as messages' do: what cannot be read back is stored as unknown, and a stored
result that cannot be read opens as a failed one saying so, with the rest of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatlab.grid import Cell, Check, Grid, PromptVariant, Result, Run, State
from chatlab.messages import ChatSettings
from chatlab.storage.engine import upsert_into
from chatlab.storage.schema import compare_runs
from chatlab.transfer import (
    InvalidDocument,
    clean_text,
    request_json,
    settings_from,
    settings_json,
    stats_from,
    stats_json,
    title_from,
)
from chatlab.usage import StoredUsage

RUN_FORMAT = "chatlab.compare_run"
RUN_VERSION = 1
UNREADABLE = "This result could not be read ({problem})."


@dataclass(frozen=True)
class RunSummary:
    """One row of the list of stored runs."""

    id: str
    title: str
    created_at: datetime
    requests: int
    failed: int = 0  # results that ended in an error
    stopped: bool = False  # Stop ended it
    unfinished: bool = False  # cells still waiting or running (now, or when the app ended)


def run_json(run: Run) -> dict[str, Any]:
    """The run as JSON-ready data: what is stored, and what the JSON export holds."""
    grid = run.grid
    return {
        "format": RUN_FORMAT,
        "version": RUN_VERSION,
        "id": run.id,
        "created_at": run.created_at.isoformat(),
        "prompt": clean_text(run.prompt),
        "system_prompt": clean_text(run.system_prompt),
        "messages": [{k: clean_text(v) for k, v in m.items()} for m in run.messages],
        "stopped": run.stopped,
        "grid": {
            "base": settings_json(grid.base),
            "axes": [[name, list(values)] for name, values in grid.axes],
            "models": [clean_text(model) for model in grid.models],
            "samples": grid.samples,
            "variants": [
                {"user": clean_text(v.user), "system": clean_text(v.system)} for v in grid.variants
            ],
            "columns": [clean_text(column) for column in grid.columns],
            "rows": [[clean_text(value) for value in row] for row in grid.rows],
        },
        "asserts": [_plain_json(assertion) for assertion in run.asserts],
        "results": [_cached_result_json(result) for result in run.results],
    }


# A run is saved whole after every cell, and most of its results have not changed since
# the last save: each result's JSON (its settings checked by a round trip) is made once.
# Results are frozen; the entry keeps the result, so its id cannot be reused meanwhile.
_RESULT_JSON: dict[int, tuple[Result, dict[str, Any]]] = {}
RESULT_JSON_CACHE = 4_096  # results; past it the cache starts again


def _cached_result_json(result: Result) -> dict[str, Any]:
    found = _RESULT_JSON.get(id(result))
    if found is not None and found[0] is result:
        return found[1]
    made = _result_json(result)
    if len(_RESULT_JSON) >= RESULT_JSON_CACHE:
        _RESULT_JSON.clear()
    _RESULT_JSON[id(result)] = (result, made)
    return made


def _result_json(result: Result) -> dict[str, Any]:
    return {
        "settings": settings_json(result.cell.settings),
        "varied": [[name, _plain_value(value)] for name, value in result.cell.varied],
        "sample": result.cell.sample,
        "state": result.state.value,
        "text": clean_text(result.text),
        "stats": stats_json(result.stats),
        "error": None if result.error is None else clean_text(result.error),
        "request": request_json(result.request),
        "mean_logprob": result.mean_logprob,
        "attempts": result.attempts,
        "note": None if result.note is None else clean_text(result.note),
        "retried": stats_json(result.retried),
        "variant": clean_text(result.cell.variant),
        "row": result.cell.row,
        "checks": [
            {
                "name": clean_text(check.name),
                "passed": check.passed,
                "reason": clean_text(check.reason),
                "score": check.score,
            }
            for check in result.checks
        ],
        "judged": stats_json(result.judged),
        "rating": result.rating,
    }


def _plain_value(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _plain_json(value: Any) -> Any:
    """A spec's assertion (strings, numbers, a JSON Schema) with every string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): _plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(item) for item in value]
    return value


def run_from(data: Any) -> Run:
    """A run from its JSON form; ``InvalidDocument`` if its frame is unreadable."""
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise InvalidDocument("it is not a Chat Lab compare run")
    grid_data = data.get("grid") or {}
    base = settings_from(grid_data.get("base"), "grid.base")
    grid = Grid(
        base=base,
        axes=tuple((str(name), tuple(values)) for name, values in grid_data.get("axes") or []),
        models=tuple(str(model) for model in grid_data.get("models") or []),
        samples=int(grid_data.get("samples") or 1),
        variants=tuple(
            PromptVariant(str(v.get("user") or ""), str(v.get("system") or ""))
            for v in grid_data.get("variants") or []
            if isinstance(v, dict)
        ),
        columns=tuple(str(column) for column in grid_data.get("columns") or []),
        rows=_rows(grid_data.get("rows"), len(grid_data.get("columns") or [])),
    )
    return Run(
        id=str(data["id"]),
        prompt=str(data.get("prompt") or ""),
        system_prompt=str(data.get("system_prompt") or ""),
        messages=tuple(dict(m) for m in data.get("messages") or []),
        grid=grid,
        results=tuple(_result_from(item, base) for item in data.get("results") or []),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        stopped=bool(data.get("stopped")),
        asserts=tuple(a for a in data.get("asserts") or [] if isinstance(a, dict)),
    )


def _rows(raw: Any, columns: int) -> tuple[tuple[str, ...], ...]:
    """Stored test rows; one of the wrong width cannot be read back, so none is kept."""
    rows = tuple(tuple(str(value) for value in row) for row in raw or [] if isinstance(row, list))
    if any(len(row) != columns for row in rows):
        raise InvalidDocument("its test rows do not match its columns")
    return rows


def _checks(raw: Any) -> tuple[Check, ...]:
    checks = []
    for item in raw if isinstance(raw, list) else []:
        passed, score = item.get("passed"), item.get("score")
        checks.append(
            Check(
                str(item.get("name") or ""),
                passed if isinstance(passed, bool) else None,
                str(item.get("reason") or ""),
                score if isinstance(score, int) and not isinstance(score, bool) else None,
            )
        )
    return tuple(checks)


def _result_from(item: Any, base: ChatSettings) -> Result:
    """One stored result; a damaged one opens failed, naming the problem."""
    if not isinstance(item, dict):
        return Result(
            Cell(base, (), 1), State.FAILED, error=UNREADABLE.format(problem="not an object")
        )
    sample = item.get("sample")
    try:
        varied = tuple((str(name), value) for name, value in item.get("varied") or [])
        row = item.get("row")
        cell = Cell(
            settings_from(item.get("settings")),
            varied,
            int(sample or 1),
            str(item.get("variant") or ""),
            row if isinstance(row, int) and row >= 0 else 0,
        )
        stats = None if item.get("stats") is None else stats_from(item["stats"])
        state = State(str(item.get("state")))
        if state in {State.WAITING, State.STREAMING}:
            state = State.STOPPED  # the process ended mid-run
        text, error = str(item.get("text") or ""), item.get("error")
        logprob = item.get("mean_logprob")
        retried = None if item.get("retried") is None else stats_from(item["retried"])
        attempts, note = item.get("attempts"), item.get("note")
        checks = _checks(item.get("checks"))
        judged = None if item.get("judged") is None else stats_from(item["judged"])
        rating = item.get("rating")
    except (InvalidDocument, ValueError, AttributeError, TypeError) as exc:
        problem = exc.problem if isinstance(exc, InvalidDocument) else "a bad field"
        cell = Cell(base, (), sample if isinstance(sample, int) else 1)
        return Result(cell, State.FAILED, error=UNREADABLE.format(problem=problem))
    return Result(
        cell,
        state,
        text=text,
        stats=stats,
        error=None if error is None else str(error),
        request=item.get("request") if isinstance(item.get("request"), dict) else None,
        mean_logprob=float(logprob) if isinstance(logprob, int | float) else None,
        attempts=attempts if isinstance(attempts, int) and 0 <= attempts <= 100 else 0,
        note=str(note) if isinstance(note, str) else None,
        retried=retried,
        checks=checks,
        judged=judged,
        rating=rating if rating in (-1, 0, 1) and not isinstance(rating, bool) else 0,
    )


def save(conn: Connection, owner: str, run: Run) -> None:
    """Insert the run, or replace its results if it is already stored (the owner's only)."""
    row = {
        "id": run.id,
        "owner": owner,
        "title": title_from(run.prompt),
        "created_at": run.created_at,
        "updated_at": datetime.now(UTC),
        "requests": len(run.results),
        "run": run_json(run),
    }
    new = upsert_into(conn, compare_runs).values(row)
    conn.execute(
        new.on_conflict_do_update(
            index_elements=[compare_runs.c.id],
            set_={name: new.excluded[name] for name in ("updated_at", "run")},
            where=compare_runs.c.owner == new.excluded.owner,
        )
    )


def summaries(conn: Connection, owner: str, *, limit: int = 50) -> list[RunSummary]:
    """The owner's runs, newest first."""
    r = compare_runs.c
    query = (
        sa.select(r.id, r.title, r.created_at, r.requests, r.run)
        .where(r.owner == owner)
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(max(0, limit))
    )
    found = conn.execute(query)
    return [
        RunSummary(row.id, row.title, row.created_at, row.requests, *_outcome(row.run))
        for row in found
    ]


def _outcome(data: object) -> tuple[int, bool, bool]:
    """How many results of a stored run failed, whether it was stopped, whether cells
    are still waiting or running."""
    if not isinstance(data, dict):
        return 0, False, False
    results = data.get("results")
    states = [item.get("state") for item in results or [] if isinstance(item, dict)]
    failed = sum(state == State.FAILED.value for state in states)
    stopped = bool(data.get("stopped")) or State.STOPPED.value in states
    running = {State.WAITING.value, State.STREAMING.value}
    return failed, stopped, any(state in running for state in states)


def load(conn: Connection, owner: str, run_id: str) -> Run | None:
    """One stored run; None if the owner has none by that id or it cannot be read at all."""
    r = compare_runs.c
    found = conn.execute(sa.select(r.run).where(r.id == run_id, r.owner == owner)).scalar()
    if found is None:
        return None
    try:
        return run_from(found)
    except (InvalidDocument, KeyError, ValueError, TypeError, AttributeError):
        return None


def delete(conn: Connection, owner: str, run_id: str) -> bool:
    """Delete one run; False if the owner has none by that id."""
    r = compare_runs.c
    query = sa.delete(compare_runs).where(r.id == run_id, r.owner == owner)
    return conn.execute(query).rowcount > 0


def usage_rows(
    conn: Connection, owner: str, since: datetime | None, until: datetime | None
) -> list[StoredUsage]:
    """Every request of the owner's compare runs started in [since, until), for Usage: each
    result's telemetry, and its earlier attempts' where a capacity retry made some."""
    r = compare_runs.c
    query = sa.select(r.id, r.title, r.created_at, r.run).where(r.owner == owner)
    if since is not None:
        query = query.where(r.created_at >= since)
    if until is not None:
        query = query.where(r.created_at < until)
    rows = []
    for run_id, title, created_at, data in conn.execute(query):
        results = data.get("results") if isinstance(data, dict) else None
        for item in results if isinstance(results, list) else []:
            for name, source in (("stats", "compare"), ("retried", "compare"), ("judged", "judge")):
                stats = item.get(name) if isinstance(item, dict) else None
                if stats is not None:
                    rows.append(StoredUsage(run_id, title, created_at, stats, source))
    return rows
