"""Which servers a fork (a final assistant message, continued) is sent to."""

from __future__ import annotations

import pytest

from chatlab.provider import fork_refusal, server_kind


@pytest.mark.parametrize(
    ("owned_by", "allowed"),
    [("llamacpp", True), ("vllm", False), ("library", False), ("openai", False)],
)
def test_only_a_llamacpp_server_is_sent_a_fork(owned_by: str, allowed: bool) -> None:
    refusal = fork_refusal(server_kind([{"owned_by": owned_by}]))
    assert (refusal is None) == allowed
    if not allowed:
        assert refusal  # the reason the disabled control shows
