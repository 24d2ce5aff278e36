"""Reading many samples on the compare page: what changed at the top of the report, each
setting's answers clustered with counts, and any two outputs diffed word by word, model
text shown as text."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.compare import reading
from components.session import CompareState
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, click, held

COMPARE_PAGE = "pages/compare.py"
HOSTILE = "<img src=x onerror=alert(1)>"
# At T=0 the same answer three times; at T=1.4 three answers (one of them hostile markup).
REPLIES = [
    "The sky is blue.",
    "The sky is blue.",
    "The sky is blue.",
    "The sky is a deep shade of blue today.",
    "Mostly grey, with some pale blue patches between the clouds.",
    f"Look: {HOSTILE} is what I would draw.",
]


def run_two_temperatures(make_app: AppFactory, fake: FakeOpenAI) -> AppTest:
    fake.enqueue(*(Reply(text=text) for text in REPLIES))
    at = make_app().run().switch_page(COMPARE_PAGE).run()
    at.text_area(key="compare_prompt").set_value("What colour is the sky?")
    at.text_input(key="compare_values_temperature").set_value("0, 1.4")
    at.number_input(key="compare_samples").set_value(3)
    at.number_input(key="compare_concurrency").set_value(1)  # the queue's order: grid order
    at = click(at, "Run")
    assert not at.exception
    assert len(fake.chat_requests) == 6
    return at


def opened(at: AppTest, key: str) -> AppTest:
    """Open the expander ``key`` + the run's id (its content is drawn once open)."""
    run = held(at, CompareState).run
    assert run is not None
    at.session_state[f"{key}_{run.id}"] = True
    return at.run()


def tab(at: AppTest, label: str) -> object:
    (found,) = [t for t in at.tabs if t.label == label]
    return found


def test_what_changed_is_said_at_the_top_with_its_figures(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_two_temperatures(make_app, fake)
    (said,) = [md.value for md in at.markdown if md.value.startswith("**What changed:**")]
    # 16 characters at T=0; 38, 60 and 56 at T=1.4: a mean of 51.3, 221% longer. One
    # answer at T=0, three at 1.4: 3 times more varied. No checks: no pass rate.
    assert said == (
        "**What changed:** From temperature 0 to 1\\.4\\, replies got 221\\% longer and 3× "
        "more varied\\."
    )
    (figures,) = [e for e in at.expander if e.label == "Where the “what changed” figures come from"]
    assert not figures.dataframe  # drawn when opened
    at = opened(at, "compare_figures")
    (figures,) = [e for e in at.expander if e.label == "Where the “what changed” figures come from"]
    table = figures.dataframe[0].value
    assert list(table["figure"]) == ["length", "variety"]
    assert list(table["replies counted"]) == ["3 and 3", "3 and 3"]
    assert list(table["at temperature 0"]) == [16, 1]


def test_each_setting_shows_its_answers_as_clusters_with_counts(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_two_temperatures(make_app, fake)
    clusters = tab(at, "Clusters")
    said = [md.value for md in clusters.markdown]  # type: ignore[attr-defined]
    assert said[0] == (
        "temperature\\=0\\.0 · gpt\\-4o\\-mini: 1 answer ×3; "
        "temperature\\=1\\.4 · gpt\\-4o\\-mini: 3 answers"
    )
    assert "threshold" not in said[0]
    (caption,) = [c.value for c in clusters.caption]  # type: ignore[attr-defined]
    assert "at least 90% similar" in caption
    labels = [e.label for e in clusters.expander]  # type: ignore[attr-defined]
    assert len(labels) == 4  # one answer at T=0, three at T=1.4
    assert labels[0] == "×3 (samples 1, 2, 3): The sky is blue\\."
    assert labels[1].startswith("×1 (sample 1): The sky is a deep shade")
    assert not any(e.markdown for e in clusters.expander)  # type: ignore[attr-defined]
    at = opened(at, "compare_cluster_0_0")  # T=0's one answer: its text is drawn, once
    (first,) = [e for e in tab(at, "Clusters").expander if e.label == labels[0]]  # type: ignore[attr-defined]
    assert [md.value for md in first.markdown] == ["The sky is blue."]


DEL = '<del style="background-color:rgba(255,75,75,0.25);text-decoration:line-through"'


def diff_sides(at: AppTest) -> tuple[str, str]:
    old, new = tab(at, "Word diff").get("html")  # type: ignore[attr-defined]
    return old.proto.body, new.proto.body


def choose(at: AppTest, label: str, option: str) -> AppTest:
    (box,) = [s for s in at.selectbox if s.label == label]
    return box.select_index(box.options.index(option)).run()


def test_two_chosen_outputs_are_diffed_word_by_word(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = run_two_temperatures(make_app, fake)
    # By default: the first output and the first that differs from it.
    first, second = (s for s in at.selectbox if s.label in ("First", "Second"))
    assert first.format_func(first.value) == "temperature=0.0 · gpt-4o-mini · sample 1"
    assert second.format_func(second.value) == "temperature=1.4 · gpt-4o-mini · sample 1"
    old, new = diff_sides(at)
    assert old.endswith("<span>The sky is</span> " + DEL + ">blue.</del></div>")
    at = choose(at, "First", "temperature=1.4 · gpt-4o-mini · sample 1")
    at = choose(at, "Second", "temperature=0.0 · gpt-4o-mini · sample 3")
    old, new = diff_sides(at)
    assert "<del" in old and "<ins" not in old
    assert DEL + ">a deep shade of blue today.</del>" in old
    assert "<ins" in new and ">blue.</ins>" in new
    (counted,) = [
        c.value
        for c in tab(at, "Word diff").caption  # type: ignore[attr-defined]
        if "only in the first" in c.value
    ]
    assert counted.startswith("6 words only in the first (struck through), 1 word only in")


def test_a_hostile_output_is_shown_as_text_in_the_diff(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_two_temperatures(make_app, fake)
    at = choose(at, "Second", "temperature=1.4 · gpt-4o-mini · sample 3")
    _, new = diff_sides(at)
    assert "<img" not in new and "onerror=alert(1)&gt;" in new
    assert "&lt;img src=x onerror=alert(1)&gt;" in new
    assert not at.exception


def test_past_a_bound_only_the_first_settings_answers_are_drawn(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_SETTINGS_DRAWN", 1)
    clusters = tab(run_two_temperatures(make_app, fake), "Clusters")
    said = [md.value for md in clusters.markdown]  # type: ignore[attr-defined]
    assert said[0].endswith("1\\.4 · gpt\\-4o\\-mini: 3 answers")  # the line counts all
    assert [e.label for e in clusters.expander] == [  # type: ignore[attr-defined]
        "×3 (samples 1, 2, 3): The sky is blue\\."
    ]
    notes = [c.value for c in clusters.caption]  # type: ignore[attr-defined]
    assert (
        "The answers of the first 1 settings of 2; the Table tab and the CSV hold every reply."
        in notes
    )
