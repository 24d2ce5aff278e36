from chatlab.messages import (
    ChatMessage,
    ReplyStats,
    Status,
    Usage,
    api_messages,
    drop_oldest_turns,
)


def test_system_prompt_first_then_turns_with_exact_roles() -> None:
    history = [
        ChatMessage("user", "hi"),
        ChatMessage("assistant", "hello", Status.STOPPED),
        ChatMessage("user", "more"),
    ]
    assert api_messages("Be brief.", history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
    ]


def test_blank_system_prompt_and_empty_messages_are_not_sent() -> None:
    history = [ChatMessage("user", "hi"), ChatMessage("assistant", "")]
    assert api_messages("  ", history) == [{"role": "user", "content": "hi"}]


def test_drop_oldest_turns_removes_first_exchange() -> None:
    u1, a1, u2 = ChatMessage("user", "1"), ChatMessage("assistant", "a"), ChatMessage("user", "2")
    assert drop_oldest_turns([u1, a1, u2]) == [u2]
    assert drop_oldest_turns([u1]) == [u1]


def test_tokens_per_second_counts_after_first_token() -> None:
    stats = ReplyStats("m", Usage(10, 11), "stop", time_to_first_token=1.0, total_time=3.0)
    assert stats.tokens_per_second == 5.0
    assert ReplyStats("m", Usage(1, 1), "stop", None, 1.0).tokens_per_second is None
    assert Usage(3, 4).total_tokens == 7


def test_messages_get_unique_ids() -> None:
    assert ChatMessage("user", "a").id != ChatMessage("user", "a").id
