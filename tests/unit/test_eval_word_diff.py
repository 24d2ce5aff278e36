"""The word diff: segments that rebuild both outputs exactly, words removed and added where
they changed, bounded cost on long or pathological texts, and HTML in which model text is
only ever text."""

from __future__ import annotations

import itertools

import pytest

from chatlab.compare.word_diff import (
    MAX_ALIGNED,
    Segment,
    changed_words,
    diff_html,
    diff_words,
    sides,
    tokens,
)


def rebuilt(segments: list[Segment]) -> tuple[str, str]:
    old, new = sides(segments)
    return "".join(s.text for s in old), "".join(s.text for s in new)


def test_a_changed_word_is_removed_then_added_between_shared_text() -> None:
    assert diff_words("the red car stops", "the blue car stops") == [
        Segment("equal", "the"),
        Segment("removed", " red"),
        Segment("added", " blue"),
        Segment("equal", " car stops"),
    ]


def test_identical_outputs_are_one_equal_segment() -> None:
    assert diff_words("Paris is the capital.", "Paris is the capital.") == [
        Segment("equal", "Paris is the capital.")
    ]


def test_words_only_on_one_side_are_removed_or_added() -> None:
    assert diff_words("a b c", "a c") == [
        Segment("equal", "a"),
        Segment("removed", " b"),
        Segment("equal", " c"),
    ]
    assert diff_words("a c", "a b c") == [
        Segment("equal", "a"),
        Segment("added", " b"),
        Segment("equal", " c"),
    ]
    assert diff_words("", "new words") == [Segment("added", "new words")]
    assert diff_words("old words", "") == [Segment("removed", "old words")]
    assert diff_words("", "") == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("one two three", "one  two\nthree"),  # whitespace is kept, so it is a change
        ("  leading and trailing  \n", "leading and trailing"),
        ("The cat sat.\n\nOn the mat.", "A cat sat on\n\nthe mat!"),
        ("x " * 50, "y x " * 30),
        ("Bonjour, le monde", "Hello, world"),
    ],
)
def test_each_side_rebuilds_its_output_exactly(old: str, new: str) -> None:
    segments = diff_words(old, new)
    assert rebuilt(segments) == (old, new)
    kinds = [s.kind for s in segments]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # neighbours merged
    assert all(s.text for s in segments)


def test_a_whitespace_change_shows_as_a_changed_word() -> None:
    segments = diff_words("one two", "one\ntwo")
    assert Segment("removed", " two") in segments and Segment("added", "\ntwo") in segments


def test_tokens_are_words_with_the_whitespace_before_them() -> None:
    assert tokens(" Hi  there\n") == [" Hi", "  there", "\n"]


def test_counted_words() -> None:
    segments = diff_words("the quick brown fox", "the slow brown dog jumps")
    assert changed_words(segments) == (2, 3)  # quick, fox / slow, dog, jumps


def test_a_frequent_word_still_anchors_the_alignment() -> None:
    # "the" is everywhere; the words between are still matched word by word.
    old = " ".join(f"the w{i}" for i in range(300))
    new = old.replace("w150", "changed")
    assert changed_words(diff_words(old, new)) == (1, 1)


def test_a_middle_longer_than_the_bound_is_one_removal_and_one_addition() -> None:
    old = "start " + "a " * MAX_ALIGNED + "end"
    new = "start " + "b " * MAX_ALIGNED + "end"
    segments = diff_words(old, new)
    assert [s.kind for s in segments] == ["equal", "removed", "added", "equal"]
    assert rebuilt(segments) == (old, new)


def test_a_pathological_pair_is_still_a_correct_diff() -> None:
    # difflib's SequenceMatcher took minutes on this pair.
    old, new = "a " * 2_900, "a b " * 1_450
    segments = diff_words(old, new)
    assert rebuilt(segments) == (old, new)
    assert changed_words(segments) == (1_450, 1_450)


HOSTILE = '<img src=x onerror=alert(1)> and <script>alert("x")</script> & "quotes"'


def test_the_html_escapes_every_piece_of_model_text() -> None:
    old, new = sides(diff_words(f"Safe {HOSTILE}", f"Changed {HOSTILE} <b>bold</b>"))
    for side in (old, new):
        shown = diff_html(side)
        assert "<img" not in shown and "<script" not in shown and "<b>" not in shown
        assert "&lt;img src=x onerror=alert(1)&gt;" in shown
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in shown
        assert "&amp; &quot;quotes&quot;" in shown
    assert "<del" in diff_html(old) and "<ins" not in diff_html(old)
    assert "<ins" in diff_html(new) and "<del" not in diff_html(new)
    assert "&lt;b&gt;bold&lt;/b&gt;" in diff_html(new)


def test_the_only_tags_are_the_diffs_own() -> None:
    shown = diff_html([Segment("equal", "<i>x</i>"), Segment("removed", ' y"><i>')])
    assert shown == (
        '<div dir="auto" style="white-space:pre-wrap;overflow-wrap:anywhere;'
        'unicode-bidi:isolate;line-height:1.6"><span>&lt;i&gt;x&lt;/i&gt;</span> '
        '<del style="background-color:rgba(255,75,75,0.25);text-decoration:line-through">'
        "y&quot;&gt;&lt;i&gt;</del></div>"
    )


def test_bidi_controls_are_dropped_and_an_empty_side_says_so() -> None:
    shown = diff_html([Segment("added", "a\u202eb\u2066c\x00")])
    assert "\u202e" not in shown and "\u2066" not in shown and "\x00" not in shown
    assert ">abc\ufffd</ins>" in shown
    assert "<em>(empty)</em>" in diff_html([])
    assert "<em>&lt;none&gt;</em>" in diff_html([], empty="<none>")
