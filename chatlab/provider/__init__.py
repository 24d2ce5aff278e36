"""Talking to model servers.

The client and its stream, the reply on a worker thread, the server's errors and
dialects, discovery of local servers, their capacity and the server check. Everything
here speaks HTTP to a model server; nothing here draws or stores.
"""

from __future__ import annotations

from chatlab.provider.background import Admit, BackgroundReply
from chatlab.provider.capacity import (
    Capacity,
    capacity_reason,
    fitting_concurrency,
    server_capacity,
)
from chatlab.provider.client import Quirks, make_client, param_ignored, start_reply, warm_up
from chatlab.provider.prefill import fork_refusal, prefix_fields
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
    "Admit",
    "BackgroundReply",
    "Capacity",
    "FoundServer",
    "Quirks",
    "ReplyStream",
    "ServerModel",
    "ServerReport",
    "Status",
    "capacity_reason",
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
    "request_json",
    "server_capacity",
    "server_kind",
    "start_reply",
    "stopped_early",
    "warm_up",
]
