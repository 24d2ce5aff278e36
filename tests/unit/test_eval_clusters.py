"""Clusters of a cell's samples: identical after normalisation, near-identical at the stated
threshold, largest first, deterministic, and described in words ("3 answers")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatlab.compare.clusters import (
    MAX_COMPARED,
    SIMILARITY_THRESHOLD,
    Cluster,
    cluster,
    describe,
    normalise,
)
from tests.unit.test_properties import FAST


def test_normalise_case_spaces_and_trailing_punctuation() -> None:
    assert normalise("  Bonjour,\n  le   MONDE !! ") == "bonjour, le monde"
    assert normalise("Oui.") == normalise("oui") == "oui"
    assert normalise("") == ""


def test_identical_after_normalisation_is_one_cluster() -> None:
    found = cluster(["Bonjour.", "bonjour", " BONJOUR !"])
    assert found == [Cluster("Bonjour.", (0, 1, 2))]
    assert describe(found) == "1 answer ×3"


def test_near_identical_joins_at_the_threshold() -> None:
    assert SIMILARITY_THRESHOLD == 90
    near = [
        "The capital of France is Paris",
        "The capital of France is Paris!",
        "Paris, the capital of France is",
    ]
    found = cluster(near)
    assert [c.members for c in found] == [(0, 1), (2,)]
    typo = ["The capital of France is Paris", "The capitol of France is Paris"]
    assert len(cluster(typo)) == 1  # one letter differs: ratio ≈ 97
    assert len(cluster(typo, threshold=99)) == 2


def test_different_answers_largest_first_ties_by_first_seen() -> None:
    found = cluster(["blue", "red", "green", "red", "green", "red"])
    assert [(c.representative, c.members) for c in found] == [
        ("red", (1, 3, 5)),
        ("green", (2, 4)),
        ("blue", (0,)),
    ]
    assert describe(found) == "3 answers"
    assert [c.count for c in found] == [3, 2, 1]


def test_the_representative_comes_from_the_largest_identical_group() -> None:
    outputs = ["Hello worlds", "hello world", "Hello world."]
    found = cluster(outputs)  # "Hello worlds" came first, but alone
    assert found == [Cluster("hello world", (0, 1, 2))]


def test_long_replies_are_compared_by_their_first_characters() -> None:
    head = "word " * (MAX_COMPARED // 5)
    found = cluster([head + "alpha " * 2000, head + "omega " * 2000, "other"])
    assert [c.members for c in found] == [(0, 1), (2,)]


def test_describe() -> None:
    assert describe([]) == "no answers"
    assert describe(cluster(["x"])) == "1 answer"
    assert cluster([]) == []


@FAST
@given(
    st.lists(
        st.sampled_from(["yes", "Yes.", "no", "No!", "maybe", "mayb", "perhaps so"]), max_size=12
    )
)
def test_clusters_partition_the_outputs_deterministically(outputs: list[str]) -> None:
    found = cluster(outputs)
    members = sorted(index for c in found for index in c.members)
    assert members == list(range(len(outputs)))
    assert [c.count for c in found] == sorted((c.count for c in found), reverse=True)
    assert cluster(outputs) == found
    for c in found:
        assert c.representative in [outputs[i] for i in c.members]
