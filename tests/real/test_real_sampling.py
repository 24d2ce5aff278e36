"""The sampling check against a real llama.cpp server (``llama-server``), which honours
every parameter the check asks about (see conftest.py for how to run; never in CI).

A small model's answers decide some rows: where they cannot tell (every reply the same at
temperature 1, no repeated word to penalise) the row is "inconclusive", never "ignored".
"""

from __future__ import annotations

import pytest

from chatlab.config import Endpoint
from chatlab.provider import check_sampling, prefix_fields, server_kind
from chatlab.provider.servers import ServerModel
from tests.real.conftest import API_KEY, BASE_URL

# Rows a llama.cpp server must honour whatever the model: they read no sampling luck.
ALWAYS = (
    "Temperature 0 repeats itself",
    "A stop sequence ends the reply",
    "Max tokens is respected",
    "Logprobs come back",
    "A final assistant message is continued",
)


def test_llamacpp_honours_the_sliders(server_models: list[ServerModel], model_id: str) -> None:
    kind = server_kind([{"owned_by": m.owned_by} for m in server_models])
    if kind != "llama.cpp":
        pytest.skip(f"written for llama-server; this server looks like {kind}")
    endpoint = Endpoint(API_KEY or None, BASE_URL, "environment")
    report = check_sampling(
        endpoint, model_id, prefix_fields=prefix_fields(kind), timeout=60.0, budget=900.0
    )
    rows = {row.name: row for row in report.rows}
    for name in ALWAYS:
        assert rows[name].verdict == "honoured", rows[name]
    for row in report.rows:  # the rest: honoured, or honestly undecided
        assert row.verdict in ("honoured", "inconclusive"), row
    assert not report.notes()
