"""The usage page: totals, charts and the slowest replies from the stored telemetry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.compare import Sweep
from chatlab.messages import ChatMessage, ReplyStats, Usage
from chatlab.storage import Store, schema
from components.account import LOCAL_OWNER
from components.session import CompareState
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, charts, held, send, signed_in

USAGE_PAGE = "pages/usage.py"


def open_usage(at: AppTest) -> AppTest:
    """Go to the usage page (the app has run once) and wait for its run."""
    return at.switch_page(USAGE_PAGE).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def as_user(make_app: AppFactory, name: str) -> AppTest:
    return signed_in(make_app, name)


def test_usage_page_opens_with_no_data(make_app: AppFactory) -> None:
    at = open_usage(make_app().run())
    assert not at.exception
    (info,) = at.info
    assert "No replies from" in info.value
    assert not at.metric and not charts(at)
    assert at.get("page_link")  # the way to the chat


def test_usage_page_shows_totals_and_charts_of_the_replies(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="one", prompt_tokens=11, completion_tokens=3))
    send(at, "first")
    fake.enqueue(Reply(text="two three", prompt_tokens=20, completion_tokens=5))
    send(at, "second")
    conversation = at.query_params["c"]
    open_usage(at)
    assert not at.exception
    assert metrics(at) == {
        "Requests": "2",
        "Tokens in": "31",
        "Tokens out": "8",
        "Cost": "unknown",  # a local server has no price: never a made-up $0
    }
    assert any("Cost unknown for 2 of 2 replies" in c for c in captions(at))
    drawn = charts(at)
    assert len(drawn) == 6  # four over time, two speed charts
    (spec, rows) = drawn[0]
    assert spec["encoding"]["y"]["field"] == "requests"
    assert spec["encoding"]["y"]["axis"]["tickMinStep"] == 1  # no half requests
    _, first_token = drawn[4]
    # Two replies: each is a dot, not a box of five numbers.
    assert [r["model"] for r in first_token] == ["gpt-4o-mini"] * 2
    assert drawn[4][0]["mark"]["type"] == "circle" and drawn[4][0]["height"] >= 160
    today = datetime.now(UTC).date().isoformat()  # no browser zone: UTC
    assert sum(row["requests"] for row in rows) == 2
    assert sum(row["tokens_in"] for row in rows) == 31
    assert all(row["model"] == "gpt-4o-mini" and row["start"].startswith(today) for row in rows)
    _, per_model, slowest = at.dataframe  # per page, per model, slowest
    assert list(per_model.value["model"]) == ["gpt-4o-mini"]
    assert list(slowest.value["open"]) == [f"./?c={conversation}"] * 2


def test_conversation_totals_show_in_the_sidebar(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="one", prompt_tokens=11, completion_tokens=3))
    send(at, "first")
    fake.enqueue(Reply(text="two three", prompt_tokens=20, completion_tokens=5))
    send(at, "second")
    at.run()  # the sidebar is drawn before a reply streams: it counts it from the next run
    totals = [c for c in captions(at) if c.startswith("Used so far")]
    assert totals == ["Used so far: 2 requests · 31 in / 8 out tokens · cost unknown"]


def add_reply(store: Store, stats: ReplyStats, owner: str = LOCAL_OWNER) -> str:
    conversation_id = store.create_conversation(owner)
    question = ChatMessage("user", "Which *model*?")
    store.save_message(owner, conversation_id, question)
    reply = ChatMessage("assistant", "this one", parent_id=question.id, stats=stats)
    store.save_message(owner, conversation_id, reply)
    return conversation_id


def stats(model: str, cost: float | None, total_time: float) -> ReplyStats:
    return ReplyStats(model, Usage(100, 40), "stop", 0.2, total_time, cost_usd=cost)


def test_filters_by_model_and_date(make_app: AppFactory) -> None:
    with Store.open(config.database_url()) as store:
        add_reply(store, stats("gpt-4o", 0.5, 3.0))
        slow = add_reply(store, stats("gpt-4o-mini", None, 9.0))
    at = open_usage(make_app().run())
    assert metrics(at)["Cost"] == "$0.5000"
    assert any("Cost unknown for 1 of 2 replies (1 request" in c for c in captions(at))
    assert at.dataframe[-1].value["open"][0] == f"./?c={slow}"  # the slowest first
    at.multiselect[0].set_value(["gpt-4o"]).run()
    assert metrics(at)["Requests"] == "1" and metrics(at)["Cost"] == "$0.5000"
    assert not any("Cost unknown" in c for c in captions(at))
    at.date_input[0].set_value((date(2020, 1, 1), date(2020, 1, 31))).run()
    assert "No replies from 2020-01-01 to 2020-01-31" in at.info[0].value


def test_a_damaged_row_is_left_out_and_said(make_app: AppFactory) -> None:
    with Store.open(config.database_url()) as store:
        add_reply(store, stats("gpt-4o", 0.5, 3.0))
        damaged = add_reply(store, stats("gpt-4o", 0.5, 3.0))
    engine = sa.create_engine(config.database_url())  # a hand edit, behind the store's back
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE messages SET stats = :bad WHERE conversation_id = :id AND stats IS NOT NULL"
            ),
            {"bad": '{"model": 5}', "id": damaged},
        )
    engine.dispose()
    at = open_usage(make_app().run())
    assert not at.exception
    assert metrics(at)["Requests"] == "1"
    assert any("1 stored reply could not be read" in c for c in captions(at))


def test_a_user_sees_only_their_own_usage(make_app: AppFactory, fake: FakeOpenAI) -> None:
    alice = as_user(make_app, "alice").run()
    fake.enqueue(Reply(text="private", prompt_tokens=7, completion_tokens=1))
    send(alice, "alice's question")
    assert metrics(open_usage(alice))["Requests"] == "1"
    bob = open_usage(as_user(make_app, "bob").run())
    assert not bob.metric
    assert "No replies" in bob.info[0].value


def test_usage_counts_every_request_the_chat_and_compare_sent(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="chat", prompt_tokens=11, completion_tokens=3))
    send(at, "first")
    fake.enqueue(*[Reply(text="cmp", prompt_tokens=5, completion_tokens=2)] * 2)
    at = at.switch_page("pages/compare.py").run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("0, 1")
    at.number_input(key="compare_samples").set_value(1)
    (run,) = [b for b in at.button if b.label == "Run"]
    at = run.click().run()
    assert len(fake.chat_requests) == 3
    open_usage(at)
    assert not at.exception
    # Everything sent: one chat reply and two Compare requests.
    assert metrics(at)["Requests"] == "3"
    assert metrics(at)["Tokens in"] == str(11 + 5 + 5)
    assert metrics(at)["Tokens out"] == str(3 + 2 + 2)
    per_source = at.dataframe[0].value
    assert list(per_source["sent from"]) == ["Chat", "Compare"]
    assert list(per_source["requests"]) == [1, 2]
    slowest = at.dataframe[-1].value
    assert sorted(slowest["from"]) == ["Chat", "Compare", "Compare"]
    # The totals are the sum of what each page sent, and the filter splits them.
    at.radio(key="usage_source").set_value("Compare").run()
    assert metrics(at)["Requests"] == "2" and metrics(at)["Tokens in"] == "10"
    assert sorted(at.dataframe[-1].value["from"]) == ["Compare", "Compare"]
    at.radio(key="usage_source").set_value("Chat").run()
    assert metrics(at)["Requests"] == "1" and metrics(at)["Tokens out"] == "3"
    at.radio(key="usage_source").set_value("All").run()
    assert metrics(at)["Requests"] == "3"


def test_judge_requests_are_counted_apart_and_match_the_cards(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run().switch_page("pages/compare.py").run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("0")
    at.number_input(key="compare_samples").set_value(2)
    at.number_input(key="compare_concurrency").set_value(1)
    at.session_state["compare_asserts_0"] = {
        "edited_rows": {},
        "added_rows": [{"type": "llm-rubric", "value": "A colour", "ignore case": False}],
        "deleted_rows": [],
    }
    verdict = Reply(text='{"score": "pass", "reason": "ok"}', prompt_tokens=40, completion_tokens=9)
    reply = Reply(text="Red.", prompt_tokens=5, completion_tokens=2)
    fake.enqueue(reply, verdict, reply, verdict)
    (run,) = [b for b in at.run().button if b.label == "Run"]
    at = run.click().run()
    current = held(at, CompareState).run
    assert isinstance(current, Sweep) and current.wait(20)
    judged = [r.judged for r in current.snapshot().results]
    assert [j.usage.prompt_tokens if j else None for j in judged] == [40, 40]  # on the cards
    open_usage(at)
    assert not at.exception
    assert metrics(at)["Requests"] == "4"
    assert metrics(at)["Tokens in"] == str(2 * 5 + 2 * 40)
    per_source = at.dataframe[0].value
    assert list(per_source["sent from"]) == ["Compare", "Compare judge"]
    assert list(per_source["tokens in"]) == [10, 80]
    at.radio(key="usage_source").set_value("Compare judge").run()
    assert metrics(at)["Requests"] == "2" and metrics(at)["Tokens out"] == "18"


def test_a_compare_result_taken_into_the_chat_is_not_counted_twice(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    fake.enqueue(Reply(text="cmp", prompt_tokens=5, completion_tokens=2))
    at = at.switch_page("pages/compare.py").run()
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("0")
    at.number_input(key="compare_samples").set_value(1)
    (run,) = [b for b in at.button if b.label == "Run"]
    at = run.click().run()
    (take,) = [b for b in at.button if b.label == "Open in chat"]
    at = take.click().run()
    at = open_usage(at)
    assert not at.exception
    assert metrics(at)["Requests"] == "1"
    assert metrics(at)["Tokens in"] == "5"


def test_a_single_days_chart_has_its_hours_labelled_once(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = make_app().run()
    send(at, "hello")
    at = open_usage(at)
    spec, (row,) = charts(at)[0]
    x = spec["encoding"]["x"]
    assert x["type"] == "ordinal"  # a temporal axis repeats the date
    hours = x["scale"]["domain"]
    assert hours == [f"{hour:02d}:00" for hour in range(24)]  # one bar among 24, not all
    assert row["bin"] in hours
    assert x["axis"]["title"] == f"hour of {datetime.now(UTC):%Y-%m-%d}"


def backdate(conversation_id: str, when: datetime) -> None:
    """Move a stored conversation's messages to ``when``, behind the store's back."""
    engine = sa.create_engine(config.database_url())
    with engine.begin() as conn:
        conn.execute(
            sa.update(schema.messages)
            .where(schema.messages.c.conversation_id == conversation_id)
            .values(created_at=when)
        )
    engine.dispose()


def test_a_long_span_is_binned_by_day_and_longer_by_week(make_app: AppFactory) -> None:
    now = datetime.now(UTC)
    with Store.open(config.database_url()) as store:
        backdate(add_reply(store, stats("gpt-4o", 0.5, 3.0)), now - timedelta(days=20))
        add_reply(store, stats("gpt-4o", 0.5, 3.0))
    at = open_usage(make_app().run())
    spec, rows = charts(at)[0]
    assert spec["encoding"]["x"]["axis"]["title"] == "day"
    assert len(spec["encoding"]["x"]["scale"]["domain"]) == 21  # every day between, once
    assert len(rows) == 2
    at.date_input[0].set_value((date(2020, 1, 1), now.date())).run()
    with Store.open(config.database_url()) as store:
        backdate(add_reply(store, stats("gpt-4o", 0.5, 3.0)), now - timedelta(days=200))
    spec, rows = charts(at.run())[0]
    assert spec["encoding"]["x"]["axis"]["title"] == "week (from Monday)"
    assert len(rows) == 3
