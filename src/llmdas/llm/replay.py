"""Record the calls made to any provider into a transcript file, and answer from it later.

A transcript is JSON::

    {"format": "llmdas-llm-transcript", "version": 1,
     "provider": "openai", "model": "gpt-4o", "base_url_host": "api.example.com",
     "calls": [{"request_sha256": "...", "messages": [...], "temperature": 0.7,
                "max_tokens": 4096, "completion": {"text": "...", "usage": {...}, ...}}]}

:class:`ReplayProvider` answers a request with the recorded completion of the same request
(matched by the hash of its messages, temperature and token limit; identical requests are
answered in recorded order). A request that was never recorded raises
:class:`~llmdas.llm.base.LLMResponseError`, so a replayed run is the recorded run or fails.
Transcripts hold messages and replies only, never a key.

:class:`ResumingProvider` answers from a transcript what it holds and asks a live provider the
rest, so that a run that was interrupted or stopped early goes on without paying twice.

A program's *generation* transcript (``<name>.json`` beside a program that ``llmdas generate``
saved) holds the same calls as ``llm_call`` events, so it replays too: the generation of a saved
program can be rerun offline, e.g. to audit it or to review it again with a newer llmdas.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmdas._atomic import write_json

from .base import (
    Completion,
    LLMProvider,
    LLMResponseError,
    Message,
    normalize_messages,
)

__all__ = [
    "GENERATION_TRANSCRIPT_FORMAT",
    "TRANSCRIPT_FORMAT",
    "RecordingProvider",
    "ReplayProvider",
    "ResumingProvider",
    "request_sha256",
]

TRANSCRIPT_FORMAT = "llmdas-llm-transcript"
GENERATION_TRANSCRIPT_FORMAT = "llmdas-generation-transcript"


def request_sha256(
    messages: Sequence[Mapping[str, Any]], temperature: float | None, max_tokens: int
) -> str:
    """Stable hash of one request."""
    payload = json.dumps(
        {
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "temperature": temperature,
            "max_tokens": int(max_tokens),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class _Wrapper(LLMProvider):
    """A provider that passes calls on to ``inner``, and is described as ``inner`` is."""

    def __init__(self, inner: LLMProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.base_url = inner.base_url
        self.timeout = inner.timeout
        self.retry = inner.retry
        self._secret = None  # the key stays with inner

    def describe(self) -> dict[str, str]:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        return self._answer(normalize_messages(messages), temperature, max_tokens)

    def _answer(
        self, msgs: list[Message], temperature: float | None, max_tokens: int
    ) -> Completion:
        """The completion of the normalised request ``msgs``."""
        raise NotImplementedError


class RecordingProvider(_Wrapper):
    """Wrap a provider; every successful call is appended to ``path`` (written after each)."""

    def __init__(self, inner: LLMProvider, path: str | Path) -> None:
        super().__init__(inner)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []

    def _answer(
        self, msgs: list[Message], temperature: float | None, max_tokens: int
    ) -> Completion:
        completion = self.inner.complete(msgs, temperature=temperature, max_tokens=max_tokens)
        with self._lock:
            self._calls.append(
                {
                    "request_sha256": request_sha256(msgs, temperature, max_tokens),
                    "messages": msgs,
                    "temperature": temperature,
                    "max_tokens": int(max_tokens),
                    "completion": completion.to_dict(),
                }
            )
            self.save()
        return completion

    def save(self) -> Path:
        data = {
            "format": TRANSCRIPT_FORMAT,
            "version": 1,
            **self.inner.describe(),
            "calls": self._calls,
        }
        write_json(self.path, data)
        return self.path


def _generation_calls(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls of a generation transcript, in the shape :class:`RecordingProvider` writes.

    Every call of one generation run used the run's temperature and token limit (its config).
    """
    config = data.get("config") or {}
    return [
        {
            "messages": event["messages"],
            "temperature": config.get("temperature"),
            "max_tokens": config.get("max_tokens", 4096),
            "completion": {
                "text": event.get("reply", ""),
                "usage": event.get("usage") or {},
                "model": event.get("model", ""),
                "raw_id": event.get("raw_id", ""),
                "attempts": event.get("attempts", 1),
            },
        }
        for event in data.get("events", [])
        if event.get("kind") == "llm_call"
    ]


class _RecordedAnswers:
    """The completions a transcript holds, by request; each is given out once, in recorded order."""

    def __init__(self, path: str | Path, role: str) -> None:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LLMResponseError(
                f"{role}: cannot read transcript {path}: {exc.strerror}"
            ) from None
        except json.JSONDecodeError as exc:
            raise LLMResponseError(f"{role}: transcript {path} is not JSON: {exc}") from None
        kind = data.get("format") if isinstance(data, dict) else None
        if kind == GENERATION_TRANSCRIPT_FORMAT:
            recorded = data.get("llm") or {}
            calls = _generation_calls(data)
        elif kind == TRANSCRIPT_FORMAT:
            recorded, calls = data, data.get("calls", [])
        else:
            raise LLMResponseError(
                f"{role}: {path} is neither an {TRANSCRIPT_FORMAT} file (written by --record) "
                f"nor an {GENERATION_TRANSCRIPT_FORMAT} (saved by a generate run)"
            )
        self.path = path
        self.provider = str(recorded.get("provider", ""))
        self.model = str(recorded.get("model") or "")
        self._queues: dict[str, list[Completion]] = {}
        for call in calls:
            key = call.get("request_sha256") or request_sha256(
                call["messages"], call.get("temperature"), call.get("max_tokens", 4096)
            )
            self._queues.setdefault(key, []).append(Completion.from_dict(call["completion"]))
        self._lock = threading.Lock()

    def take(self, key: str) -> Completion | None:
        """The next recorded completion of the request hashed ``key``, or ``None``."""
        with self._lock:
            queue = self._queues.get(key)
            return queue.pop(0) if queue else None


class ReplayProvider(LLMProvider):
    """Answer from a transcript written by :class:`RecordingProvider`, or a generation transcript."""

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        self._answers = _RecordedAnswers(path, "replay")
        super().__init__(self._answers.model or "replay", base_url=None)
        self.path = self._answers.path
        self.recorded_provider = self._answers.provider

    def describe(self) -> dict[str, str]:
        return {
            "provider": f"replay:{self.recorded_provider}" if self.recorded_provider else "replay",
            "model": self.model,
            "base_url_host": "",
        }

    def _complete_once(
        self, messages: list[Message], *, temperature: float | None, max_tokens: int
    ) -> Completion:
        key = request_sha256(messages, temperature, max_tokens)
        answer = self._answers.take(key)
        if answer is None:
            raise LLMResponseError(
                f"replay: request {key[:12]} is not in transcript {self.path.name} "
                "(prompts, temperature or max_tokens differ from the recorded run, "
                "or it makes more calls than were recorded)",
                provider=self.name,
            )
        return answer


class ResumingProvider(_Wrapper):
    """Answer the requests that a transcript holds from it, and the others from ``live``.

    It resumes a run that was interrupted or stopped early (``llmdas generate --resume``) without
    paying again for the calls it made: the same prompts at the same settings get the recorded
    replies, so the run retraces its steps and goes on where it ended. The transcript must have
    been recorded with ``live``'s provider and model, so that a program's provenance names the
    model that wrote every reply. ``replayed`` and ``live_calls`` count the two kinds of answer.
    """

    def __init__(self, live: LLMProvider, path: str | Path) -> None:
        self._answers = _RecordedAnswers(path, "resume")
        self.path = self._answers.path
        described = live.describe()
        recorded = (self._answers.provider, self._answers.model)
        if recorded != (described["provider"], described["model"]):
            raise ValueError(
                f"resume: {self.path.name} was recorded with {'/'.join(recorded)}, not "
                f"{described['provider']}/{described['model']}; resume with the same provider "
                "and model, so that the program's provenance names the model of every reply"
            )
        super().__init__(live)
        self.replayed = 0
        self.live_calls = 0

    def _answer(
        self, msgs: list[Message], temperature: float | None, max_tokens: int
    ) -> Completion:
        answer = self._answers.take(request_sha256(msgs, temperature, max_tokens))
        if answer is not None:
            self.replayed += 1
            return answer
        self.live_calls += 1
        return self.inner.complete(msgs, temperature=temperature, max_tokens=max_tokens)
