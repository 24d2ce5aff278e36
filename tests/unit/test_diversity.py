"""The diversity measures on inputs whose answers are known by hand."""

from __future__ import annotations

import pytest

from chatlab.compare.diversity import distinct_n, diversity, jaccard, mean_similarity, ngrams, words


def test_words_ignore_case_and_punctuation() -> None:
    assert words("The cat, the CAT!") == ["the", "cat", "the", "cat"]


def test_ngrams_of_a_short_text() -> None:
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []


def test_distinct_1_counts_repeated_words_once() -> None:
    # 6 words, 4 distinct: the, cat, sat, dog.
    assert distinct_n(["the cat sat", "the dog sat"], 1) == pytest.approx(4 / 6)


def test_distinct_2_counts_bigrams_across_samples() -> None:
    # bigrams: (the cat) (cat sat) (the cat) (cat ran): 3 distinct of 4.
    assert distinct_n(["the cat sat", "the cat ran"], 2) == pytest.approx(3 / 4)


def test_distinct_n_of_identical_samples_falls_with_their_number() -> None:
    assert distinct_n(["a b c d"] * 4, 1) == pytest.approx(4 / 16)


def test_distinct_n_without_words_is_unknown() -> None:
    assert distinct_n(["", "!!"], 1) is None
    assert distinct_n(["one", "two"], 2) is None


def test_jaccard_of_sets() -> None:
    assert jaccard({("a",), ("b",)}, {("b",), ("c",)}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0


def test_identical_samples_are_fully_similar() -> None:
    assert mean_similarity(["the cat sat down"] * 3) == pytest.approx(1.0)


def test_samples_sharing_no_bigram_are_not_similar() -> None:
    assert mean_similarity(["red green blue", "one two three"]) == 0.0


def test_mean_similarity_averages_every_pair() -> None:
    # A-B share 1 of 3 bigrams; A-C and B-C share none: (1/3 + 0 + 0) / 3.
    samples = ["a b c", "a b d", "x y z"]
    assert mean_similarity(samples) == pytest.approx(1 / 9)


def test_one_sample_has_no_similarity() -> None:
    assert mean_similarity(["alone"]) is None


def test_varied_samples_score_as_more_diverse_than_repeated_ones() -> None:
    same = diversity(["The answer is four."] * 3)
    varied = diversity(["The answer is four.", "Four, of course!", "It makes 4 in total."])
    assert same.distinct_2 is not None and varied.distinct_2 is not None
    assert varied.distinct_2 > same.distinct_2
    assert same.mean_similarity is not None and varied.mean_similarity is not None
    assert varied.mean_similarity < same.mean_similarity
