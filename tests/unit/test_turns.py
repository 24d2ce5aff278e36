"""The turn planner: examples, then properties over random sequences of what users do."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from chatlab.chat import turns
from chatlab.chat.turns import CONTINUE_PROMPT, Plan
from chatlab.conversation import Conversation
from chatlab.logprobs import TokenLogprob
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Status, Usage

SETTINGS = ChatSettings(model="m", system_prompt="Be brief.")


def stats(prompt: int, completion: int, cost: float | None = 0.5) -> ReplyStats:
    return ReplyStats("m", Usage(prompt, completion), "stop", 0.1, 1.0, cost)


def run(conversation: Conversation, plan: Plan, text: str, *, finish: str | None = "stop") -> bool:
    turns.begin(conversation, plan)
    return turns.settle(
        conversation, plan, text, finish_reason=finish, failed=finish is None, stats=None
    )


def roles(request: list[dict[str, str]]) -> list[str]:
    return [m["role"] for m in request]


def test_send_puts_system_first_and_the_question_last() -> None:
    conversation = Conversation()
    plan = turns.plan_send(conversation, "hi", SETTINGS)
    assert plan is not None
    assert plan.request == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert plan.user is not None and plan.reply.parent_id == plan.user.id
    assert conversation.messages == {}  # planning changes nothing


def test_blank_prompt_plans_nothing() -> None:
    assert turns.plan_send(Conversation(), " \u200b\n", SETTINGS) is None


def test_failed_turn_then_new_message_still_alternates() -> None:
    conversation = Conversation()
    first = turns.plan_send(conversation, "first", SETTINGS)
    assert first is not None
    assert not run(conversation, first, "", finish=None)  # failed before any text
    second = turns.plan_send(conversation, "second", SETTINGS)
    assert second is not None
    assert second.request[1:] == [{"role": "user", "content": "second"}]
    assert [m.content for m in conversation.path()] == ["first"]
    assert first.user is not None and second.user is not None
    assert turns.unanswered([*conversation.path(), second.user]) == {first.user.id}


def test_retry_keeps_the_failed_partial_as_an_alternative() -> None:
    conversation = Conversation()
    plan = turns.plan_send(conversation, "q", SETTINGS)
    assert plan is not None
    run(conversation, plan, "half an ans", finish=None)
    partial = conversation.leaf
    assert partial is not None and partial.status == Status.FAILED
    retry = turns.plan_retry(conversation, SETTINGS)
    assert retry is not None
    assert roles(retry.request) == ["system", "user"]
    turns.begin(conversation, retry)
    assert not turns.settle(conversation, retry, "", finish_reason=None, failed=True, stats=None)
    assert conversation.leaf is partial  # the retry failed too: the partial is shown again
    again = turns.plan_retry(conversation, SETTINGS)
    assert again is not None
    run(conversation, again, "a whole answer")
    assert [m.content for m in conversation.siblings(again.reply)] == [
        "half an ans",
        "a whole answer",
    ]
    conversation.select(partial.id)
    assert conversation.leaf is partial


def test_continue_appends_to_the_same_reply_and_adds_up_its_telemetry() -> None:
    conversation = Conversation()
    plan = turns.plan_send(conversation, "q", SETTINGS)
    assert plan is not None
    turns.begin(conversation, plan)
    turns.settle(
        conversation, plan, "part one", finish_reason="length", failed=False, stats=stats(10, 1024)
    )
    more = turns.plan_continue(conversation, SETTINGS)
    assert more is not None and more.reply is plan.reply
    assert more.request[-2:] == [
        {"role": "assistant", "content": "part one"},
        {"role": "user", "content": CONTINUE_PROMPT},
    ]
    turns.begin(conversation, more)
    turns.settle(
        conversation, more, " part two", finish_reason="stop", failed=False, stats=stats(20, 7)
    )
    reply = conversation.leaf
    assert reply is not None and reply.content == "part one part two"
    assert reply.stats is not None
    assert (reply.stats.usage.prompt_tokens, reply.stats.usage.completion_tokens) == (30, 1031)
    assert reply.stats.cost_usd == 1.0 and reply.stats.parts == 2
    assert reply.status == Status.COMPLETE


def test_trim_leaves_the_oldest_turn_out_but_on_screen() -> None:
    conversation = Conversation()
    for question in ("one", "two"):
        plan = turns.plan_send(conversation, question, SETTINGS)
        assert plan is not None
        run(conversation, plan, f"answer {question}")
    plan = turns.plan_send(conversation, "three", SETTINGS)
    assert plan is not None
    run(conversation, plan, "", finish=None)
    trimmed = turns.plan_trim_and_retry(conversation, SETTINGS)
    assert trimmed is not None
    assert [m["content"] for m in trimmed.request] == ["Be brief.", "two", "answer two", "three"]
    turns.begin(conversation, trimmed)
    assert len(conversation.path()) == 6  # nothing disappears from the screen
    assert turns.dropped(conversation.path(), conversation.context_from) == 2


def test_regenerate_an_earlier_reply_branches_from_its_question() -> None:
    conversation = Conversation()
    first = turns.plan_send(conversation, "one", SETTINGS)
    assert first is not None
    run(conversation, first, "answer one")
    second = turns.plan_send(conversation, "two", SETTINGS)
    assert second is not None
    run(conversation, second, "answer two")
    again = turns.plan_regenerate(conversation, first.reply.id, SETTINGS)
    assert again is not None
    assert [m["content"] for m in again.request] == ["Be brief.", "one"]
    run(conversation, again, "another answer one")
    assert [m.content for m in conversation.path()] == ["one", "another answer one"]
    conversation.select(first.reply.id)  # the old branch, down to its newest leaf
    assert [m.content for m in conversation.path()][-1] == "answer two"


def test_a_fork_is_an_alternative_that_sends_its_start_as_the_assistants() -> None:
    conversation = Conversation()
    first = turns.plan_send(conversation, "one", SETTINGS)
    assert first is not None
    run(conversation, first, "Hello there")
    tokens = (TokenLogprob("Hello", -0.1), TokenLogprob(" there", -2.0))
    prefix = turns.fork_prefix(tokens, 1, " friend")
    assert prefix == "Hello friend"

    fork = turns.plan_fork(conversation, first.reply.id, prefix, SETTINGS)

    assert fork is not None
    assert fork.request[-1] == {"role": "assistant", "content": "Hello friend"}
    assert [m["content"] for m in fork.request[:-1]] == ["Be brief.", "one"]
    run(conversation, fork, ", how are you?")
    assert conversation.path()[-1].content == "Hello friend, how are you?"
    assert [m.content for m in conversation.siblings(conversation.path()[-1])] == [
        "Hello there",
        "Hello friend, how are you?",
    ]


def test_a_fork_needs_a_reply_and_a_start() -> None:
    conversation = Conversation()
    first = turns.plan_send(conversation, "one", SETTINGS)
    assert first is not None
    run(conversation, first, "Hello")
    assert turns.plan_fork(conversation, first.reply.id, "  ", SETTINGS) is None
    assert first.user is not None
    assert turns.plan_fork(conversation, first.user.id, "Hi", SETTINGS) is None


# -- properties ---------------------------------------------------------------------------


@dataclass
class Session:
    """A conversation, and the store as the keeper would have written it."""

    conversation: Conversation = field(default_factory=Conversation)
    stored: dict[str, ChatMessage] = field(default_factory=dict)
    sent_prompts: list[str] = field(default_factory=list)
    requests: list[list[dict[str, str]]] = field(default_factory=list)


texts = st.text(alphabet="ab \n\u200b", max_size=6)
outcomes = st.sampled_from(["stop", "length", "stopped", "failed"])
actions = st.one_of(
    st.tuples(st.just("send"), texts, texts, outcomes),
    st.tuples(st.sampled_from(["retry", "continue", "trim"]), st.just(""), texts, outcomes),
    st.tuples(st.sampled_from(["regenerate", "edit"]), st.integers(0, 20), texts, outcomes),
    st.tuples(st.just("select"), st.integers(0, 20), st.just(""), st.just("")),
)


def plan_for(session: Session, action: tuple[object, ...]) -> Plan | None:
    kind, arg = action[0], action[1]
    conversation = session.conversation
    if kind == "send":
        return turns.plan_send(conversation, str(arg), SETTINGS)
    if kind == "retry":
        return turns.plan_retry(conversation, SETTINGS)
    if kind == "continue":
        return turns.plan_continue(conversation, SETTINGS)
    if kind == "trim":
        return turns.plan_trim_and_retry(conversation, SETTINGS)
    ids = list(conversation.messages)
    if not ids:
        return None
    target = ids[int(str(arg)) % len(ids)]
    if kind == "regenerate":
        return turns.plan_regenerate(conversation, target, SETTINGS)
    if kind == "edit":
        return turns.plan_edit(conversation, target, "edited " + str(action[2]), SETTINGS)
    conversation.select(target)
    return None


def take(session: Session, action: tuple[object, ...]) -> None:
    plan = plan_for(session, action)
    if plan is None:
        return
    session.requests.append(plan.request)
    turns.begin(session.conversation, plan)
    if plan.user is not None:
        session.sent_prompts.append(plan.user.content)
        session.stored[plan.user.id] = plan.user
    outcome, text = str(action[3]), str(action[2])
    finish = {"stop": "stop", "length": "length"}.get(outcome)
    kept = turns.settle(
        session.conversation,
        plan,
        text,
        finish_reason=finish,
        failed=outcome == "failed",
        stats=None,
    )
    if kept:
        session.stored[plan.reply.id] = plan.reply


def assert_alternates(request: list[dict[str, str]]) -> None:
    body = request[1:] if request and request[0]["role"] == "system" else request
    assert body, "a request always carries the question"
    assert [m["role"] for m in body] == ["user", "assistant"] * (len(body) // 2) + ["user"] * (
        len(body) % 2
    ), "roles alternate, starting with the user"
    assert body[-1]["role"] == "user"
    assert all(m["content"].strip("\u200b \n") for m in body), "no empty turn is sent"


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=25))
def test_any_sequence_of_actions_keeps_words_parents_and_alternation(
    sequence: list[tuple[object, ...]],
) -> None:
    session = Session()
    for action in sequence:
        take(session, action)
        conversation = session.conversation
        for message in conversation.messages.values():
            assert message.parent_id is None or message.parent_id in conversation.messages
        for message in session.stored.values():
            assert message.parent_id is None or message.parent_id in session.stored
        shown = conversation.path()
        assert all(m.id in conversation.messages for m in shown)
        assert all(m.content or m.role == "user" for m in shown), "no empty reply is shown"
    stored_user_words = [m.content for m in session.stored.values() if m.role == "user"]
    assert sorted(stored_user_words) == sorted(session.sent_prompts), "no user words lost"
    assert all(m.id in session.conversation.messages for m in session.stored.values())
    for request in session.requests:
        assert_alternates(request)


@settings(max_examples=200, deadline=None)
@given(st.lists(actions, max_size=20), texts)
def test_what_is_sent_is_what_is_shown(sequence: list[tuple[object, ...]], prompt: str) -> None:
    session = Session()
    for action in sequence:
        take(session, action)
    conversation = session.conversation
    plan = turns.plan_send(conversation, prompt, SETTINGS)
    if plan is None:
        return
    assert plan.user is not None
    sent = "\n\n".join(m["content"] for m in plan.request[1:])
    shown = [*conversation.path(), plan.user]
    context = shown[turns.dropped(shown, conversation.context_from) :]
    left_out = turns.unanswered(shown)
    for message in context:
        if message.id in left_out:
            continue
        if message.content.strip("\u200b \n"):
            assert message.content in sent, "every shown message in context is sent"
    assert plan.request[-1]["content"].endswith(prompt)


def test_a_length_cut_far_below_max_tokens_is_a_full_context_not_continued() -> None:
    conversation = Conversation()
    plan = turns.plan_send(conversation, "q", SETTINGS)  # max_tokens 1024
    assert plan is not None
    turns.begin(conversation, plan)
    full = ReplyStats("m", Usage(4000, 96), "length", 0.1, 1.0)
    turns.settle(conversation, plan, "a short", finish_reason="length", failed=False, stats=full)
    assert turns.context_full(plan.reply)
    assert turns.plan_continue(conversation, SETTINGS) is None
    capped = ReplyStats("m", Usage(40, 1024), "length", 0.1, 1.0)
    plan.reply.stats = capped
    assert not turns.context_full(plan.reply)
    assert turns.plan_continue(conversation, SETTINGS) is not None


def test_editing_an_earlier_question_branches_and_keeps_the_old_branch() -> None:
    conversation = Conversation()
    for question in ("one", "two"):
        plan = turns.plan_send(conversation, question, SETTINGS)
        assert plan is not None
        run(conversation, plan, f"answer {question}")
    first_question = conversation.path()[0]
    edited = turns.plan_edit(conversation, first_question.id, "one, better", SETTINGS)
    assert edited is not None and edited.user is not None
    assert [m["content"] for m in edited.request] == ["Be brief.", "one, better"]
    run(conversation, edited, "a better answer")
    assert [m.content for m in conversation.path()] == ["one, better", "a better answer"]
    assert [m.content for m in conversation.siblings(edited.user)] == ["one", "one, better"]
    conversation.select(first_question.id)
    assert [m.content for m in conversation.path()][-1] == "answer two"
    assert turns.plan_edit(conversation, first_question.id, "  ", SETTINGS) is None
    assert turns.plan_edit(conversation, conversation.path()[1].id, "x", SETTINGS) is None


def test_deleting_a_message_takes_its_branch_and_shows_what_is_left() -> None:
    conversation = Conversation()
    for question in ("one", "two"):
        plan = turns.plan_send(conversation, question, SETTINGS)
        assert plan is not None
        run(conversation, plan, f"answer {question}")
    second_question = conversation.path()[2]
    leaf = conversation.remove_branch(second_question.id)
    assert [m.content for m in conversation.path()] == ["one", "answer one"]
    assert leaf == conversation.path()[-1].id
    assert len(conversation.messages) == 2
    again = turns.plan_regenerate(conversation, conversation.path()[1].id, SETTINGS)
    assert again is not None
    run(conversation, again, "another answer")
    conversation.remove_branch(again.reply.id)  # back to the remaining alternative
    assert [m.content for m in conversation.path()] == ["one", "answer one"]
