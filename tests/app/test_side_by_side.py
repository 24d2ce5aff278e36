"""The side-by-side page under AppTest: columns send their own requests with their own
models and settings, each keeps its own history, blind mode hides names until the vote,
the vote is stored, a column continues as a conversation, and sessions are stored."""

from __future__ import annotations

import json
import re
from typing import Any

from streamlit.testing.v1 import AppTest

from chatlab.arena import Verdict, session_from, session_json, votes_from
from chatlab.storage import Store
from components.session import ArenaState, PageState
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, chat_state, held, wait_until

PAGE = "pages/side_by_side.py"


def open_page(make_app: AppFactory) -> AppTest:
    return make_app().run().switch_page(PAGE).run()


def set_up(
    at: AppTest, models: tuple[str, str] = ("gpt-4o-mini", "gpt-4o"), *, blind: bool = False
) -> AppTest:
    """Two columns with ``models``, temperatures 0.2 and 1.3, max tokens 50 and 80."""
    if blind:
        at.toggle(key="arena_blind").set_value(True).run()
    for index, (model, temperature, limit) in enumerate(
        zip(models, (0.2, 1.3), (50, 80), strict=True)
    ):
        at.selectbox(key=f"arena_model_{index}").set_value(model)
        at.number_input(key=f"arena_temperature_{index}").set_value(temperature)
        at.number_input(key=f"arena_max_tokens_{index}").set_value(limit)
    [start] = [b for b in at.button if b.label == "Start"]
    return start.click().run()


def send(at: AppTest, text: str) -> AppTest:
    at.chat_input(key="arena_prompt").set_value(text).run(timeout=15)
    state = held(at, ArenaState)
    assert state.live is not None
    assert state.live.wait(10)
    return at.run()


def store_of(at: AppTest) -> tuple[Store, str]:
    page = held(at, PageState)
    assert page.store is not None
    return page.store, page.owner


def page_text(at: AppTest) -> str:
    """The page's text as the reader sees it (untrusted text is drawn escaped)."""
    drawn = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return re.sub(r"\\(.)", r"\1", " ".join([*drawn, *(s.value for s in at.success)]))


def by_model(fake: FakeOpenAI) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for request in fake.chat_requests:
        found.setdefault(request.body["model"], []).append(request.body)
    return found


def test_two_columns_send_their_own_models_and_settings(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    assert not at.exception
    sent = by_model(fake)
    assert sorted(sent) == ["gpt-4o", "gpt-4o-mini"]
    assert (sent["gpt-4o-mini"][0]["temperature"], sent["gpt-4o-mini"][0]["max_tokens"]) == (
        0.2,
        50,
    )
    assert (sent["gpt-4o"][0]["temperature"], sent["gpt-4o"][0]["max_tokens"]) == (1.3, 80)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 2


def test_turn_two_sends_each_column_its_own_history(make_app: AppFactory, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="Red."), Reply(text="Blue."))
    at = send(set_up(open_page(make_app)), "Name a colour.")
    at = send(at, "Why that one?")
    live = held(at, ArenaState).live
    assert live is not None
    answers = {c.settings.model: c.answers[0].text for c in live.session.columns}
    assert sorted(answers.values()) == ["Blue.", "Red."]  # each column got one of them
    for model, requests in by_model(fake).items():
        second = requests[1]["messages"]
        assert [m["role"] for m in second][-3:] == ["user", "assistant", "user"]
        assert second[-2]["content"] == answers[model]  # its own reply, not the other's
        assert second[-1]["content"] == "Why that one?"


def test_blind_mode_hides_the_models_until_the_vote_which_is_stored(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = send(set_up(open_page(make_app), blind=True), "Name a colour.")
    assert not at.exception
    text = page_text(at)
    assert "gpt-4o" not in text and "hidden until you vote" in text
    assert "tok/s" not in text  # no telemetry that could give a model away
    at.segmented_control[-1].set_value(Verdict.A).run()
    assert not at.exception
    revealed = page_text(at)
    assert "You voted: A is better" in revealed and "gpt-4o-mini" in revealed
    store, owner = store_of(at)
    votes, problems = votes_from(v.document for v in store.list_votes(owner))
    assert problems == [] and len(votes) == 1
    live = held(at, ArenaState).live
    assert live is not None
    a, _b = live.session.shown
    assert votes[0].verdict == Verdict.A and votes[0].blind
    assert votes[0].a.model == a.settings.model  # A as it was shown
    assert votes[0].turns[0].prompt == "Name a colour."


def test_a_vote_is_withdrawn_and_the_models_hidden_again(make_app: AppFactory) -> None:
    at = send(set_up(open_page(make_app), blind=True), "Name a colour.")
    at.segmented_control[-1].set_value(Verdict.TIE).run()
    [withdraw] = [b for b in at.button if b.label == "Withdraw the vote"]
    at = withdraw.click().run()
    store, owner = store_of(at)
    assert store.list_votes(owner) == []
    assert "gpt-4o" not in page_text(at)


def test_continue_with_this_one_creates_a_conversation(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    at = send(at, "And another?")
    live = held(at, ArenaState).live
    assert live is not None
    column = live.session.columns[1]
    [button] = [b for b in at.button if b.key == "arena_continue_1"]
    at = button.click().run()
    assert not at.exception
    path = chat_state(at).conversation.path()
    assert [(m.role, m.content) for m in path] == [
        ("user", "Name a colour."),
        ("assistant", column.answers[0].text),
        ("user", "And another?"),
        ("assistant", column.answers[1].text),
    ]
    assert path[-1].settings is not None and path[-1].settings.model == "gpt-4o"


def test_a_session_is_stored_and_reopens_in_a_new_browser_session(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    live = held(at, ArenaState).live
    assert live is not None
    store, owner = store_of(at)
    wait_until(lambda: _stored_answers(store, owner, live.id) == 2)
    again = open_page(make_app)
    [opened] = [b for b in again.button if b.key == f"arena_open_{live.id}"]
    again = opened.click().run()
    assert not again.exception
    reopened = held(again, ArenaState).live
    assert reopened is not None
    assert session_json(reopened.session)["prompts"] == ["Name a colour."]
    assert [m.name for m in again.chat_message] == ["user", "assistant"] * 2


def _stored_answers(store: Store, owner: str, session_id: str) -> int:
    document = store.load_side_by_side(owner, session_id)
    if document is None:
        return 0
    stored = session_from(json.loads(json.dumps(document)))
    return sum(1 for c in stored.columns for a in c.answers if a.finished and a.text)


def test_every_answer_is_counted_in_usage_as_side_by_side(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    live = held(at, ArenaState).live
    assert live is not None
    store, owner = store_of(at)
    wait_until(lambda: _stored_answers(store, owner, live.id) == 2)
    records = store.usage_records(owner).records
    assert sorted((r.stats.source, r.stats.model) for r in records) == [
        ("arena", "gpt-4o"),
        ("arena", "gpt-4o-mini"),
    ]


def test_a_column_asks_its_own_server_without_the_apps_key(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    with FakeOpenAI() as other:
        other.models = ["local-model"]
        at = open_page(make_app)
        at.text_input(key="arena_base_url_1").set_value(other.base_url).run()
        at.text_input(key="arena_api_key_1").set_value("sk-typed-for-b").run()
        pickers = [picker.options for picker in at.selectbox if picker.label == "Model"]
        assert pickers[1] == ["local-model"]  # the column's own server's models
        [start] = [b for b in at.button if b.label == "Start"]
        at = send(start.click().run(), "Name a colour.")
        assert not at.exception
        assert [r.body["model"] for r in fake.chat_requests] == ["gpt-4o-mini"]
        [asked] = other.chat_requests
        assert asked.body["model"] == "local-model"
        assert asked.headers["authorization"] == "Bearer sk-typed-for-b"  # never the app's
        live = held(at, ArenaState).live
        assert live is not None
        assert [c.base_url for c in live.session.columns] == ["", other.base_url]


def test_a_votes_tags_are_stored_with_it_and_changed_in_place(make_app: AppFactory) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    live = held(at, ArenaState).live
    assert live is not None
    at.text_input(key=f"arena_tags_{live.id}").set_value("colours,  quick ,colours").run()
    at.segmented_control[-1].set_value(Verdict.B).run()
    store, owner = store_of(at)
    votes, _ = votes_from(v.document for v in store.list_votes(owner))
    assert [(v.verdict, v.tags) for v in votes] == [(Verdict.B, ("colours", "quick"))]
    at.text_input(key=f"arena_tags_{live.id}").set_value("colours").run()
    votes, _ = votes_from(v.document for v in store.list_votes(owner))
    assert [(v.verdict, v.tags) for v in votes] == [(Verdict.B, ("colours",))]  # one vote


def test_a_session_is_deleted(make_app: AppFactory) -> None:
    at = send(set_up(open_page(make_app)), "Name a colour.")
    live = held(at, ArenaState).live
    assert live is not None
    store, owner = store_of(at)
    wait_until(lambda: _stored_answers(store, owner, live.id) == 2)
    [delete] = [b for b in at.button if b.label == "Delete this session"]
    at = delete.click().run()
    assert not at.exception
    assert store.load_side_by_side(owner, live.id) is None
    assert held(at, ArenaState).live is None
    assert any(b.label == "Start" for b in at.button)  # set up anew
