"""The compare page under AppTest: the sweep reaches the server as asked, results are shown,
charted, stored and reopened, and a result becomes a conversation."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatlab.compare import Setup, progress_of
from chatlab.compare.sweep import Sweep
from chatlab.csv_export import csv_text
from chatlab.deadline import Watch
from chatlab.grid import Cell, Grid, State, new_run
from chatlab.markdown import plain
from chatlab.messages import ChatSettings, ReplyStats, Usage
from chatlab.provider.stream import ReplyStream
from chatlab.storage.runs import run_from, run_json
from components.compare import view as compare_view
from components.compare.results import results_rows
from components.session import CompareState, PageState
from testing.fake_openai import LLAMACPP_MODEL_PATH, Dialect, FakeOpenAI, Reply
from tests.app.conftest import AppFactory, charts, chat_state, click, held, wait_until

COMPARE_PAGE = "pages/compare.py"
PROMPT = "Name a colour."


def open_compare(make_app: AppFactory) -> AppTest:
    at = make_app().run()
    return at.switch_page(COMPARE_PAGE).run()


def run_sweep(
    at: AppTest, *, temperatures: str = "0, 0.7, 1.4", samples: int = 2, at_once: int = 4
) -> AppTest:
    at.text_area(key="compare_prompt").set_value(PROMPT)
    at.text_input(key="compare_values_temperature").set_value(temperatures)
    at.number_input(key="compare_samples").set_value(samples)
    at.number_input(key="compare_concurrency").set_value(at_once)
    return click(at, "Run")


def results_table(at: AppTest) -> Any:
    """The run's table (the form's editors, above it, are data editors)."""
    return next(frame.value for frame in at.dataframe if frame.editing_mode == "read_only")


def test_the_page_launches_with_the_default_grid(make_app: AppFactory) -> None:
    at = open_compare(make_app)
    assert not at.exception
    assert [t.value for t in at.title] == ["Compare"]
    assert at.text_input(key="compare_values_temperature").value == "0, 0.7, 1.4"
    assert at.number_input(key="compare_samples").value == 3
    assert at.number_input(key="compare_concurrency").value == 4


def test_three_temperatures_by_two_samples_send_six_requests(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_sweep(open_compare(make_app))
    assert not at.exception
    bodies = [r.body for r in fake.chat_requests]
    assert len(bodies) == 6
    assert sorted(b["temperature"] for b in bodies) == [0.0, 0.0, 0.7, 0.7, 1.4, 1.4]
    for body in bodies:
        assert body["model"] == "gpt-4o-mini"
        assert body["messages"] == [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": PROMPT},
        ]
        assert body["stream"] is True
    shown = " ".join(md.value for md in at.markdown)
    assert shown.count(f"Echo: {PROMPT}") == 6


def test_a_second_parameter_and_model_multiply_the_grid(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    at.text_input(key="compare_values_seed").set_value("1, 2")
    at.multiselect(key="compare_models").set_value(["gpt-4o-mini", "gpt-4o"])
    at = run_sweep(at, temperatures="0.5", samples=1)
    bodies = [r.body for r in fake.chat_requests]
    assert sorted((b["model"], b["seed"], b["temperature"]) for b in bodies) == [
        ("gpt-4o", 1, 0.5),
        ("gpt-4o", 2, 0.5),
        ("gpt-4o-mini", 1, 0.5),
        ("gpt-4o-mini", 2, 0.5),
    ]


def test_a_failing_cell_shows_its_error_and_the_others_carry_on(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.enqueue(
        Reply(text="First."),
        Reply(status=500, error={"message": "The model crashed", "type": "server_error"}),
    )
    at = run_sweep(open_compare(make_app), at_once=1)  # one at a time: the queue's order
    assert not at.exception
    assert len(fake.chat_requests) == 6
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "server" in errors[0].lower()
    shown = " ".join(md.value for md in at.markdown)
    assert "First." in shown
    assert shown.count(f"Echo: {PROMPT}") == 4
    table = results_table(at)
    assert list(table["state"]) == ["done", "failed", "done", "done", "done", "done"]
    at = at.run()  # the list is drawn before the cards; the next run lists the outcome
    listed = [b.label for b in at.button if b.key and b.key.startswith("compare_open_")]
    assert len(listed) == 1 and "6 requests · 1 failed ·" in listed[0]  # the list says so


def test_the_table_and_charts_are_built_from_the_results(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.enqueue(
        Reply(text="red red red", completion_tokens=3, prompt_tokens=20),
        Reply(text="blue green", completion_tokens=2, prompt_tokens=20),
    )
    at = run_sweep(open_compare(make_app), temperatures="0, 1", at_once=1)
    table = results_table(at)
    assert (
        list(table["setting"])
        == ["temperature=0.0 · gpt-4o-mini"] * 2 + ["temperature=1.0 · gpt-4o-mini"] * 2
    )
    assert list(table["temperature"]) == [0.0, 0.0, 1.0, 1.0]
    assert list(table["sample"]) == [1, 2, 1, 2]
    assert list(table["output"])[:2] == ["red red red", "blue green"]
    assert list(table["tokens out"])[:2] == [3, 2]
    assert list(table["tokens in"])[:2] == [20, 20]
    assert list(table["finish reason"]) == ["stop"] * 4
    assert table["total time (s)"].notna().all()
    assert table["mean logprob"].isna().all()
    drawn = charts(at)
    assert len(drawn) >= 7  # length, time, first token, speed, three of variety (no cost)
    (unique_words,) = [rows for spec, rows in drawn if "unique_words" in json.dumps(spec)]
    by_temperature = {r["temperature"]: r["unique_words"] for r in unique_words}
    # "red red red" and "blue green": three distinct words of five.
    assert by_temperature[0.0] == 3 / 5
    (overlap,) = [rows for spec, rows in drawn if '"overlap"' in json.dumps(spec)]
    assert {r["temperature"]: r["overlap"] for r in overlap}[1.0] == 1.0  # identical echoes
    times = [rows for spec, rows in drawn if "total time (s)" in json.dumps(spec)]
    assert len(times) == 1 and len(times[0]) == 4


def encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The encoding of every layer of a chart."""
    return [layer.get("encoding", {}) for layer in spec.get("layer", [spec])]


def test_two_models_charts_colour_by_model_over_a_numeric_temperature(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    at.multiselect(key="compare_models").set_value(["gpt-4o-mini", "gpt-4o"])
    at = run_sweep(at, temperatures="0, 0.7, 1.4", samples=2)
    assert not at.exception
    drawn = charts(at)
    assert len(drawn) >= 7
    titles = set()
    for spec, rows in drawn:
        for encoding in encodings(spec):
            assert encoding["color"]["field"] == "model"
            assert encoding["x"]["field"] == "temperature"
            assert encoding["x"]["type"] == "quantitative"
            titles.add(encoding["y"]["title"])
        assert {row["model"] for row in rows} == {"gpt-4o-mini", "gpt-4o"}
        assert {row["temperature"] for row in rows} == {0.0, 0.7, 1.4}
    assert {
        "reply length (tokens)",
        "time to first token (s)",
        "tokens/s",
        "unique words (share, 0–1)",
        "overlap between samples (0–1)",
    } <= titles
    assert "0 to 1" not in titles


def test_two_varied_parameters_are_labels_with_the_model_beside_them(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    at.text_input(key="compare_values_seed").set_value("1, 2")
    at.multiselect(key="compare_models").set_value(["gpt-4o-mini", "gpt-4o"])
    at = run_sweep(at, temperatures="0.5", samples=1)
    spec, rows = charts(at)[0]
    bars, dots = encodings(spec)
    assert (bars["x"]["field"], bars["x"]["type"]) == ("values", "nominal")
    assert bars["xOffset"]["field"] == dots["color"]["field"] == "model"
    assert bars["x"]["axis"]["labelAngle"] == 0  # never rotated
    assert {row["values"] for row in rows} == {
        "temperature=0.5 · seed=1",
        "temperature=0.5 · seed=2",
    }


def test_the_report_is_in_tabs_with_a_progress_bar_and_the_form_folds_on_run(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    assert at.session_state["compare_form"] is True  # nothing shown yet: the form is open
    at = run_sweep(at, temperatures="0, 1", samples=2)
    assert not at.exception
    assert at.session_state["compare_form"] is False  # folded: the report starts near the top
    assert [t.label for t in at.tabs] == ["Cards", "Table", "Charts", "Clusters", "Word diff"]
    (bar,) = [b for b in at.main.get("progress")]
    assert bar.proto.text == "4 of 4 done" and bar.proto.value == 100
    cards, table, charted, _, _ = at.tabs
    assert len(table.dataframe) == 1 and not cards.dataframe
    assert charted.get("vega_lite_chart") and not cards.get("vega_lite_chart")
    at = at.run()  # the form stays as the user leaves it while the same run is shown
    assert at.session_state["compare_form"] is False
    at = click(at, "Delete this run")
    assert at.session_state["compare_form"] is True  # no run shown: open again


def test_a_prompt_sent_from_the_chat_opens_the_folded_form(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0, 1", samples=1)
    assert at.session_state["compare_form"] is False  # a run is shown: folded
    held(at, CompareState).setup = Setup("Now a fruit.")  # what "Compare this prompt" sets
    at = at.run()
    assert at.session_state["compare_form"] is True  # open: its prompt is in view
    at = at.run()  # then it stays as the user leaves it
    assert at.session_state["compare_form"] is True


def test_progress_counts_and_the_time_left() -> None:
    grid = Grid(ChatSettings(model="m"), (("temperature", (0.0, 1.0)),), samples=3)
    results = list(new_run(grid, PROMPT, []).results)
    stats = ReplyStats("m", Usage(1, 1), "stop", 0.1, 4.0)
    results[0] = replace(results[0], state=State.DONE, stats=stats)
    results[1] = replace(results[1], state=State.DONE, stats=replace(stats, total_time=2.0))
    results[2] = replace(results[2], state=State.STREAMING)
    found = progress_of(results, concurrency=2)
    assert (found.done, found.running, found.waiting) == (2, 1, 3)
    assert found.seconds_left == 2 * 3.0  # four left, two at once, 3 s each
    line = compare_view.progress_line(found)
    assert line == "2 of 6 done · 1 running · 3 waiting · about 6 s left"


def test_a_stored_run_reopens_after_a_restart(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0.2", samples=2)
    live = held(at, CompareState).run
    assert isinstance(live, Sweep)
    run_id = live.id
    st.cache_resource.clear()  # a new process: the store is opened again

    again = open_compare(make_app)
    (opened,) = [b for b in again.button if b.key == f"compare_open_{run_id}"]
    assert plain(PROMPT) in opened.label and "2 requests" in opened.label  # as text
    again = opened.click().run()
    assert not again.exception
    shown = " ".join(md.value for md in again.markdown)
    assert shown.count(f"Echo: {PROMPT}") == 2
    assert list(results_table(again)["temperature"]) == [0.2, 0.2]
    assert len(fake.chat_requests) == 2  # reopening sends nothing


def test_a_result_taken_into_the_chat_starts_a_conversation(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="Teal."), Reply(text="Mauve."))
    at = run_sweep(open_compare(make_app), temperatures="0.3", samples=2, at_once=1)
    at.selectbox(key="compare_take").set_value(1)
    at = click(at, "Open in chat")
    assert not at.exception
    conversation = chat_state(at).conversation
    assert [(m.role, m.content) for m in conversation.path()] == [
        ("user", PROMPT),
        ("assistant", "Mauve."),
    ]
    reply = conversation.path()[1]
    assert reply.settings is not None and reply.settings.temperature == 0.3
    assert reply.stats is not None
    assert conversation.id is not None
    assert ("assistant", "Mauve.") in [(m.name, m.markdown[0].value) for m in at.chat_message]
    store = held(at, PageState).store
    assert store is not None
    stored = store.load_messages(held(at, PageState).owner, conversation.id)
    assert stored is not None and [m.content for m in stored] == [PROMPT, "Mauve."]
    # Stored, the request is read back from the store (the session drops its copy).
    assert store.load_request(held(at, PageState).owner, conversation.id, reply.id) is not None


def test_a_bad_value_is_refused_before_anything_is_sent(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0, hot")
    (error,) = at.error
    assert "hot" in error.value and "is not a number" in error.value
    assert fake.chat_requests == []


def test_the_exports_hold_every_result(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0, 1", samples=1)
    live = held(at, CompareState).run
    assert isinstance(live, Sweep)
    run = live.snapshot()
    rows = list(csv.DictReader(io.StringIO(csv_text(results_rows(run)))))
    assert [(r["temperature"], r["output"], r["state"]) for r in rows] == [
        ("0.0", f"Echo: {PROMPT}", "done"),
        ("1.0", f"Echo: {PROMPT}", "done"),
    ]
    exported = run_from(json.loads(json.dumps(run_json(run))))
    assert [r.text for r in exported.results] == [f"Echo: {PROMPT}"] * 2
    exports = [b.label for b in at.download_button if "Download as" not in b.label]
    assert exports == ["Download CSV", "Download JSON"]  # the form's own are "Download as"


def test_a_deleted_run_leaves_the_list(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0.2", samples=1)
    assert any(b.key and b.key.startswith("compare_open_") for b in at.button)
    at = click(at, "Delete this run")
    assert not at.exception
    assert held(at, CompareState).run is None
    assert not any(b.key and b.key.startswith("compare_open_") for b in at.button)
    assert "No runs yet." in [c.value for c in at.caption]


def gated_sweep(gate: threading.Event) -> Sweep:
    """A one-cell sweep whose reply waits at ``gate``."""

    def start(cell: Cell, watch: Watch) -> ReplyStream:
        def chunks() -> Iterator[dict[str, Any]]:
            gate.wait(5)
            yield {"choices": [{"delta": {"content": "late"}, "finish_reason": "stop"}]}

        return ReplyStream(_Closable(chunks()), model="m", prompt_tokens=1, started=0.0)

    grid = Grid(ChatSettings(model="m"), samples=1)
    return Sweep(new_run(grid, PROMPT, []), start)


class _Closable:
    def __init__(self, items: Iterator[dict[str, Any]]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.items

    def close(self) -> None:
        pass


def test_streamlits_own_stop_stops_the_sweep_but_a_rerun_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compare_view, "RERUN_GRACE", 0.05)
    gate = threading.Event()
    page = PageState()
    rerun, stopped = gated_sweep(gate), gated_sweep(gate)
    compare_view._stop_unless_rerun(rerun, page, page.page_runs)
    page.page_runs += 1  # the next run began: a rerun or another page
    compare_view._stop_unless_rerun(stopped, page, page.page_runs)  # no run follows
    wait_until(lambda: stopped.snapshot().stopped)
    assert not rerun.snapshot().stopped  # runs on
    gate.set()
    assert rerun.wait(5) and [r.text for r in rerun.results()] == ["late"]
    assert stopped.wait(5) and [r.state for r in stopped.results()] == [State.STOPPED]


# -- a llama.cpp server whose slots share one context (the fake's shared-cache mode) --------------


def llamacpp_sweep(make_app: AppFactory, fake: FakeOpenAI) -> AppTest:
    """The default grid (3 temperatures x 3 samples, 4 at once) on a llama.cpp server whose
    4 slots share 400 tokens, with max tokens 100 and replies that would run longer."""
    fake.dialect = Dialect(name="llamacpp", context_window=400, total_slots=4, shared_cache=True)
    fake.models = [LLAMACPP_MODEL_PATH]
    fake.enqueue(*[Reply(text=" ".join(["word"] * 120))] * 20)
    cache = fake.shared_cache()
    assert cache is not None
    cache.together = 2  # the first reply waits for the second: "2 at once" is a state
    at = make_app().run()
    at.slider(key="max_tokens").set_value(100)
    at = at.switch_page(COMPARE_PAGE).run()
    at.text_area(key="compare_prompt").set_value(PROMPT)
    (run,) = [b for b in at.button if b.label == "Run"]
    return run.click().run(timeout=60)  # nine replies of 100 tokens, two at a time


def test_the_default_sweep_fits_a_shared_llamacpp_cache_and_completes_every_cell(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = llamacpp_sweep(make_app, fake)
    assert not at.exception
    table = results_table(at)
    assert list(table["state"]) == ["done"] * 9, list(table["error"])
    cache = fake.shared_cache()
    assert cache is not None and cache.overflows == 0 and cache.peak == 2
    said = [c.value for c in at.caption if "at once" in c.value]
    assert said, [c.value for c in at.caption]
    assert "2 at once: the server" in said[0] and "4 slots sharing 400 tokens" in said[0]
