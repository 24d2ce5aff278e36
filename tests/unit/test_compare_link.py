"""A Compare link's query parameters: read back as the setup written, and checked."""

from __future__ import annotations

from chatlab.compare import MAX_LINK_PROMPT, Setup, from_query, to_query


def test_a_setup_survives_its_link() -> None:
    setup = Setup("Two words", {"temperature": "0.2, 0.9"}, ("gpt-4o", "o3-mini"), 2)
    assert from_query(to_query(setup)) == (setup, [])


def test_a_query_without_a_setup_is_none() -> None:
    assert from_query({"c": "some-conversation"}) == (None, [])


def test_bad_parts_are_left_out_and_named_in_our_words() -> None:
    setup, left_out = from_query(
        {"prompt": "ok", "temperature": "<b>hot</b>", "samples": "999", "top_p": "1," * 200}
    )
    assert setup == Setup("ok")
    assert left_out == [
        "the temperature values (not valid)",
        "the top_p values (not valid)",
        "the samples (a whole number from 1 to 10)",
    ]
    assert not any("<b>" in said for said in left_out)


def test_a_prompt_too_long_for_a_link_is_left_out() -> None:
    setup, left_out = from_query({"prompt": "x" * (MAX_LINK_PROMPT + 1), "samples": "2"})
    assert setup == Setup(samples=2)
    assert left_out and "prompt" in left_out[0]
    assert "prompt" not in to_query(Setup("x" * (MAX_LINK_PROMPT + 1)))


def test_model_ids_are_bounded_and_printable() -> None:
    setup, _ = from_query({"models": "a, a,\x07bell," + "m" * 300 + ",b"})
    assert setup is not None and setup.models == ("a", "b")
    many, _ = from_query({"models": ",".join(f"m{i}" for i in range(50))})
    assert many is not None and len(many.models) == 10
