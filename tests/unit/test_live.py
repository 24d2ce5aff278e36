"""The streaming reply's live parts: thinking shown in whole words, the progress line."""

from __future__ import annotations

from chatlab.chat import progress_line, whole_words


def test_a_trailing_partial_word_is_held_back_until_the_next_delta() -> None:
    assert whole_words("think1 thi", 300) == "think1"
    assert whole_words("think1 think2 ", 300) == "think1 think2"


def test_the_end_shows_the_last_word() -> None:
    assert whole_words("think1 think2", 300, done=True) == "think1 think2"


def test_a_single_unfinished_word_shows_nothing_yet() -> None:
    assert whole_words("thinki", 300) == ""


def test_a_window_that_starts_inside_a_word_drops_it() -> None:
    # The last 12 characters start inside "think1": the window once read "ink1 think2".
    assert whole_words("think0 think1 think2 ", 13) == "think2"
    assert whole_words("think0 think1 think2 ", 14) == "think1 think2"


def test_a_window_that_starts_on_a_space_keeps_its_first_word() -> None:
    assert whole_words("think0 think1 ", 7) == "think1"


def test_whitespace_is_collapsed() -> None:
    assert whole_words("one\n\n two\tthree ", 300) == "one two three"


def test_the_wait_is_said_in_seconds_until_the_first_token() -> None:
    assert progress_line(3.4, answered=False, tokens_per_second=None) == (
        "Waiting for the server · 3 s"
    )


def test_the_pace_is_said_once_text_comes() -> None:
    line = progress_line(5.0, answered=True, tokens_per_second=41.6)
    assert "42 tokens/s" in line
    assert "Waiting" not in progress_line(5.0, answered=True, tokens_per_second=None)
