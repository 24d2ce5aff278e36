"""A pretend internal service on 127.0.0.1: what a Base URL typed by an attacker points at.

It is not OpenAI-compatible. Every answer carries ``secret`` (a 404 page, a 403, a JSON
"model list" with the secret beside a model id), so a test can assert that nothing of its
bodies reaches the page, and it records every request, so a test can assert it heard
nothing at all. ``answers`` maps ``(method, path)`` to ``(status, content type, body)``;
``{secret}`` in a body is filled in.
"""

from __future__ import annotations

import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
Answer = tuple[int, str, str]
MODEL_ID = "internal-visible-model"  # the one part of its bodies a page may show


def default_answers() -> dict[tuple[str, str], Answer]:
    listing = (
        '{"object": "list", "secret": "{secret}", '
        f'"data": [{{"id": "{MODEL_ID}", "owner": "{{secret}}"}}]}}'
    )
    return {
        ("GET", "/v1/models"): (200, "application/json", listing),
        ("POST", "/v1/chat/completions"): (403, "text/plain", "Forbidden: {secret}"),
    }


class InternalService:
    """Use as a context manager; ``heard`` lists ``"METHOD /path"`` of every request."""

    def __init__(self) -> None:
        self.secret = f"internal-secret-{secrets.token_hex(8)}"
        self.answers: dict[tuple[str, str], Answer] = default_answers()
        self.heard: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                service.heard.append(f"{self.command} {self.path}")
                status, kind, body = service.answers.get(
                    (self.command, self.path.split("?", 1)[0]),
                    (404, "text/html", "<h1>Not found</h1><p>{secret}</p>"),
                )
                raw = body.replace("{secret}", service.secret).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
