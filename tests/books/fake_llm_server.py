"""A tiny OpenAI-compatible chat-completions server for tests: stdlib only, 127.0.0.1 only.

It records every request and answers from a script: one-shot replies queued with ``script()``
are used first, in order, then the ``default`` responder (by default a keyword "model" that
answers every row of the prompt). A responder gets the recorded request and returns a ``Reply``;
a reply can carry a ``delay`` (interrupted by ``stop()``, so no test waits on a sleeping thread).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"

DEFAULT_KEYWORDS: dict[str, str] = {
    "uber": "Travel",
    "delta": "Travel",
    "staples": "Office supplies & software",
    "adobe": "Office supplies & software",
    "landlord": "Rent",
    "rent": "Rent",
    "stripe": "Sales",
    "cafe": "Meals",
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]
    at: float  # time.monotonic() on arrival

    @property
    def user_text(self) -> str:
        return str(self.body["messages"][1]["content"])

    @property
    def system_text(self) -> str:
        return str(self.body["messages"][0]["content"])

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The transactions of the prompt: its lines that are JSON objects with an id."""
        rows = []
        for line in self.user_text.splitlines():
            if line.startswith('{"id"'):
                rows.append(json.loads(line))
        return rows


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    trickle: float = 0.0  # between body bytes, sent one at a time


Responder = Callable[[Recorded], Reply]


def chat(content: str, **kwargs: Any) -> Reply:
    """A 200 chat completion whose message content is ``content``."""
    envelope = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    return Reply(body=json.dumps(envelope).encode(), **kwargs)


def results(items: list[Any], **kwargs: Any) -> Reply:
    return chat(json.dumps({"results": items}), **kwargs)


def error(status: int, message: str = "", **kwargs: Any) -> Reply:
    body = json.dumps({"error": {"message": message or f"error {status}"}}).encode()
    return Reply(status=status, body=body, **kwargs)


def keyword_model(
    keywords: Mapping[str, str] = DEFAULT_KEYWORDS,
    fallback: str = "Uncategorized expense",
    confidence: float = 0.9,
) -> Responder:
    """A "model" that picks, for each prompt row, the category of the first keyword it contains."""

    def respond(request: Recorded) -> Reply:
        items = []
        for row in request.rows:
            text = row["description"].lower()
            hit = next((cat for word, cat in keywords.items() if word in text), None)
            items.append(
                {
                    "id": row["id"],
                    "category": hit or fallback,
                    "confidence": confidence if hit else 0.3,
                }
            )
        return results(items)

    return respond


class FakeLLMServer:
    def __init__(self, default: Responder | None = None) -> None:
        self.default: Responder = default or keyword_model()
        self.requests: list[Recorded] = []
        self._queue: deque[Responder] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to configure (``LLM_BASE_URL``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | Responder) -> None:
        """Queue one-shot replies, used in order before the default responder."""
        with self._lock:
            for reply in replies:
                self._queue.append(reply if callable(reply) else _const(reply))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port: later connections are refused."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def _respond(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            responder = self._queue.popleft() if self._queue else self.default
        return responder(request)


@contextmanager
def running(default: Responder | None = None) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(default)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-test is expected, not worth a traceback


def _const(reply: Reply) -> Responder:
    return lambda _request: reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def do_POST(self) -> None:
        assert isinstance(self.server, _Server)
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Recorded(self.path, headers, body, time.monotonic())
        if self.path != CHAT_PATH:
            with fake._lock:
                fake.requests.append(request)
            reply = error(404, f"no route for {self.path}")
        else:
            reply = fake._respond(request)
        if reply.delay:
            fake._stopping.wait(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not reply.trickle:
                self.wfile.write(reply.body)
            for i in range(len(reply.body) if reply.trickle else 0):
                self.wfile.write(reply.body[i : i + 1])
                self.wfile.flush()
                if fake._stopping.wait(reply.trickle):
                    return
        except OSError:
            pass  # the client gave up waiting (timeout tests): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet
