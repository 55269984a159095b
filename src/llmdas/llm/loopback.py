"""A scripted LLM server on 127.0.0.1 that speaks the OpenAI, Anthropic and Gemini protocols.

It exists so that the providers and the generation loop can be exercised end to end, through
the official SDKs and real HTTP, without reaching any LLM: every reply it sends was written by a
person into a script. Nothing it answers is produced by a model.

Routes (POST, JSON)::

    /v1/chat/completions                     OpenAI chat completions (also Ollama, vLLM, ...)
    /v1/messages                             Anthropic Messages API
    /v1beta/models/{model}:generateContent   Gemini (google-genai, Developer API)

Usage::

    with ScriptedLLMServer([ScriptedReply.text("hello"), ScriptedReply.error(429)]) as server:
        provider = OpenAIProvider(model="m", base_url=server.url + "/v1", api_key="k")
        ...
        server.requests  # every request received, with its JSON body

Replies are consumed in order; a callable ``responder(request) -> ScriptedReply`` may be given
instead of (or after) the list. When the script runs out the server answers 500 with a message
saying so, which makes a test that expected fewer calls fail loudly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["RecordedRequest", "ScriptedLLMServer", "ScriptedReply", "request_text"]


@dataclass
class ScriptedReply:
    """One scripted answer.

    ``content`` is the assistant's text, wrapped in the protocol of the route that was called.
    ``raw`` (bytes) replaces the whole body verbatim, e.g. for malformed JSON. A ``status`` other
    than 200 sends a protocol-shaped error object with ``message``.
    """

    content: str | None = None
    status: int = 200
    raw: bytes | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None  # default: about len(content) / 4
    delay_s: float = 0.0  # wait this long before answering (to exercise client timeouts)
    cut_short: bool = False  # the token limit ended the answer (each protocol says so its way)

    @classmethod
    def text(cls, content: str, **kwargs: Any) -> ScriptedReply:
        return cls(content=content, **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "", **kwargs: Any) -> ScriptedReply:
        return cls(status=status, message=message or f"scripted error {status}", **kwargs)

    @classmethod
    def body(cls, raw: bytes | str, status: int = 200, **kwargs: Any) -> ScriptedReply:
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        return cls(raw=data, status=status, **kwargs)


@dataclass
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    protocol: str


def request_text(request: RecordedRequest) -> str:
    """All message text of a recorded request, whatever its protocol, joined by newlines."""
    body = request.body if isinstance(request.body, dict) else {}
    parts: list[str] = []
    if request.protocol == "gemini":
        system = body.get("systemInstruction") or body.get("system_instruction") or {}
        parts += [p.get("text", "") for p in system.get("parts", []) if isinstance(p, dict)]
        for content in body.get("contents", []):
            parts += [p.get("text", "") for p in content.get("parts", []) if isinstance(p, dict)]
        return "\n".join(parts)
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts += [b.get("text", "") for b in system if isinstance(b, dict)]
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [b.get("text", "") for b in content if isinstance(b, dict)]
    return "\n".join(parts)


Responder = Callable[[RecordedRequest], ScriptedReply]


class ScriptedLLMServer:
    """Threaded HTTP server on an ephemeral loopback port answering from a script."""

    def __init__(
        self,
        script: Iterable[ScriptedReply | str] = (),
        *,
        responder: Responder | None = None,
        model_name: str = "scripted-model",
    ) -> None:
        self._script = [ScriptedReply.text(s) if isinstance(s, str) else s for s in script]
        self._responder = responder
        self.model_name = model_name
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"  # start() binds the loopback interface only

    def start(self) -> ScriptedLLMServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- scripting
    def push(self, *replies: ScriptedReply | str) -> None:
        with self._lock:
            self._script += [ScriptedReply.text(r) if isinstance(r, str) else r for r in replies]

    def _next_reply(self, request: RecordedRequest) -> ScriptedReply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.pop(0)
        if self._responder is not None:
            return self._responder(request)
        return ScriptedReply.error(500, "loopback script exhausted: no reply left")


# --------------------------------------------------------------------- protocol bodies
def _openai_body(
    content: str | None, model: str, n: int, in_tokens: int, out_tokens: int, cut_short: bool
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-loopback-{n}",
        "object": "chat.completion",
        "created": 1_700_000_000 + n,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "length" if cut_short else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": in_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
        },
    }


def _anthropic_body(
    content: str | None, model: str, n: int, in_tokens: int, out_tokens: int, cut_short: bool
) -> dict[str, Any]:
    return {
        "id": f"msg_loopback_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": content}],
        "stop_reason": "max_tokens" if cut_short else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens},
    }


def _gemini_body(
    content: str | None, model: str, n: int, in_tokens: int, out_tokens: int, cut_short: bool
) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": content}]},
                "finishReason": "MAX_TOKENS" if cut_short else "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": in_tokens,
            "candidatesTokenCount": out_tokens,
            "totalTokenCount": in_tokens + out_tokens,
        },
        "modelVersion": model,
        "responseId": f"loopback-{n}",
    }


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


# The body of a successful reply in each protocol that _protocol_of tells from the path.
_REPLY_BODIES = {"openai": _openai_body, "anthropic": _anthropic_body, "gemini": _gemini_body}


def _error_body(protocol: str, status: int, message: str) -> dict[str, Any]:
    if protocol == "anthropic":
        kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
        return {
            "type": "error",
            "error": {"type": kind.get(status, "api_error"), "message": message},
        }
    if protocol == "gemini":
        name = _STATUS_NAMES.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": message, "status": name}}
    kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": "scripted", "code": kind.get(status)}}


def _protocol_of(path: str) -> str | None:
    path = path.split("?", 1)[0]
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if ":generateContent" in path:
        return "gemini"
    return None


def _make_handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return  # keep test output quiet

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self._send(404, {"error": {"message": f"no route GET {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw.decode("utf-8")) if raw else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = raw.decode("utf-8", "replace")
            protocol = _protocol_of(self.path)
            if protocol is None:
                self._send(404, {"error": {"message": f"no route POST {self.path}"}})
                return
            request = RecordedRequest(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                protocol=protocol,
            )
            reply = server._next_reply(request)
            n = len(server.requests)
            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            if reply.raw is not None:
                self._send(reply.status, reply.raw, reply.headers)
                return
            if reply.status != 200:
                self._send(
                    reply.status, _error_body(protocol, reply.status, reply.message), reply.headers
                )
                return
            in_tokens = reply.input_tokens
            if in_tokens is None:
                in_tokens = max(1, len(request_text(request)) // 4)
            out_tokens = reply.output_tokens
            if out_tokens is None:
                out_tokens = max(1, len(reply.content or "") // 4)
            body_of = _REPLY_BODIES[protocol]
            payload = body_of(
                reply.content, server.model_name, n, in_tokens, out_tokens, reply.cut_short
            )
            self._send(200, payload, reply.headers)

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
            try:
                self.send_response(status)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout test)

    return Handler
