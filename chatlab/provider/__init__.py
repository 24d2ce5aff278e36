"""Talking to model servers.

The client and its stream, the reply on a worker thread, the server's errors and
dialects, discovery of local servers, their capacity, the server check and the sampling
check. Everything here speaks HTTP to a model server; nothing here draws or stores.
"""

from __future__ import annotations

from chatlab.provider.background import Admit, BackgroundReply, Start
from chatlab.provider.capacity import (
    Capacity,
    capacity_reason,
    fitting_concurrency,
    server_capacity,
)
from chatlab.provider.client import Quirks, make_client, param_ignored, start_reply, warm_up
from chatlab.provider.prefill import fork_refusal, prefix_fields
from chatlab.provider.sampling_check import MAX_TOKENS as SAMPLING_MAX_TOKENS
from chatlab.provider.sampling_check import REQUESTS as SAMPLING_REQUESTS
from chatlab.provider.sampling_check import Row as SamplingRow
from chatlab.provider.sampling_check import SamplingReport, check_sampling, report_key
from chatlab.provider.sampling_check import Verdict as SamplingVerdict
from chatlab.provider.server_check import ServerReport, Status, check_server
from chatlab.provider.server_errors import stopped_early
from chatlab.provider.servers import (
    DEFAULT_PORTS,
    LOCALHOST,
    FoundServer,
    ServerModel,
    context_window,
    discover,
    model_catalog,
    picker_names,
    server_kind,
)
from chatlab.provider.snippet import python_snippet, request_json
from chatlab.provider.stream import ReplyStream

__all__ = [
    "DEFAULT_PORTS",
    "LOCALHOST",
    "SAMPLING_MAX_TOKENS",
    "SAMPLING_REQUESTS",
    "Admit",
    "BackgroundReply",
    "Capacity",
    "FoundServer",
    "Quirks",
    "ReplyStream",
    "SamplingReport",
    "SamplingRow",
    "SamplingVerdict",
    "ServerModel",
    "ServerReport",
    "Start",
    "Status",
    "capacity_reason",
    "check_sampling",
    "check_server",
    "context_window",
    "discover",
    "fitting_concurrency",
    "fork_refusal",
    "make_client",
    "model_catalog",
    "param_ignored",
    "picker_names",
    "prefix_fields",
    "python_snippet",
    "report_key",
    "request_json",
    "server_capacity",
    "server_kind",
    "start_reply",
    "stopped_early",
    "warm_up",
]
