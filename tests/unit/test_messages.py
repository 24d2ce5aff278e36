from hypothesis import given
from hypothesis import strategies as st

from chatlab.messages import ChatMessage, ReplyStats, Usage, is_blank

# Whitespace and the zero-width characters, mixed with a few visible ones.
BLANKISH = st.text(alphabet=" \t\n\u00a0\u3000\u200b\u200c\u200d\u2060\ufeffa.")


def test_tokens_per_second_counts_after_first_token() -> None:
    stats = ReplyStats("m", Usage(10, 11), "stop", time_to_first_token=1.0, total_time=3.0)
    assert stats.tokens_per_second == 5.0
    assert ReplyStats("m", Usage(1, 1), "stop", None, 1.0).tokens_per_second is None


def test_a_continued_reply_counts_both_parts_and_unknown_cost_stays_unknown() -> None:
    first = ReplyStats("m", Usage(10, 5, estimated=True), "length", 0.5, 2.0, 0.25)
    second = ReplyStats("m2", Usage(20, 7), "stop", 0.1, 1.0, None)
    both = first.followed_by(second)
    assert both.usage == Usage(30, 12, estimated=True)
    assert (both.model, both.finish_reason, both.parts) == ("m2", "stop", 2)
    assert (both.time_to_first_token, both.total_time, both.cost_usd) == (0.5, 3.0, None)


def test_messages_get_unique_ids() -> None:
    assert ChatMessage("user", "a").id != ChatMessage("user", "a").id


@given(BLANKISH)
def test_blank_means_nothing_visible(text: str) -> None:
    # The definition, checked character by character, against the fast path.
    visible = [c for c in text if not c.isspace() and c not in "\u200b\u200c\u200d\u2060\ufeff"]
    assert is_blank(text) == (not visible)
