"""Common interface of the LLM providers: messages in, a :class:`Completion` out.

A provider turns a list of chat messages (``{"role": "system"|"user"|"assistant",
"content": str}``) into one :class:`Completion`. It owns retries (exponential backoff with jitter
on rate limits, 5xx and connection failures; the SDKs' own retries are switched off so that there
is exactly one retry policy, observable in the logs) and the translation of each SDK's exceptions
into the :class:`LLMError` hierarchy below.

API keys are read from the environment (or passed in) and handed to the SDK client only; they are
never logged, never part of ``repr`` and never written into transcripts or program files. Error
messages that might echo a key are passed through :func:`redact`.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Completion",
    "LLMAuthError",
    "LLMConnectionError",
    "LLMError",
    "LLMProvider",
    "LLMRateLimitError",
    "LLMRequestError",
    "LLMResponseError",
    "LLMServerError",
    "Message",
    "RetryPolicy",
    "base_url_host",
    "check_sampling",
    "normalize_messages",
    "redact",
]

logger = logging.getLogger("llmdas.llm")

Message = dict[str, str]
_ROLES = ("system", "user", "assistant")


# --------------------------------------------------------------------------- errors
class LLMError(RuntimeError):
    """Any failure to get a usable completion. ``str(error)`` is one line."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, provider: str = "") -> None:
        super().__init__(" ".join(str(message).split()))
        self.status = status
        self.provider = provider


class LLMAuthError(LLMError):
    """The key was missing, refused (401) or lacks permission (403)."""


class LLMRateLimitError(LLMError):
    """429: too many requests or quota exhausted (retried before it is raised)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class LLMServerError(LLMError):
    """5xx from the server (retried before it is raised)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class LLMConnectionError(LLMError):
    """The server could not be reached or timed out (retried before it is raised)."""

    retryable = True
    retry_after: float | None = None


class LLMRequestError(LLMError):
    """Any other 4xx: the request itself was refused (unknown model, bad parameter...)."""


class LLMResponseError(LLMError):
    """The server answered 200 but the body is unusable: malformed JSON, no text, garbage."""


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Completion:
    """One completion. ``usage`` holds ``input_tokens`` and ``output_tokens`` (0 if unknown)."""

    text: str
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    model: str = ""
    raw_id: str = ""
    provider: str = ""
    finish_reason: str = ""
    elapsed_s: float = 0.0
    attempts: int = 1

    @property
    def truncated(self) -> bool:
        """Whether the answer stopped at the token limit, not where the model ended it."""
        return stopped_at_token_limit(self.finish_reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        usage = dict(known.get("usage") or {})
        known["usage"] = {
            "input_tokens": int(usage.get("input_tokens", 0) or 0),
            "output_tokens": int(usage.get("output_tokens", 0) or 0),
        }
        return cls(**known)


def import_sdk(module: str, package: str, provider: str) -> Any:
    """The provider's official SDK, or an ImportError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{provider}: the provider needs its SDK, the {package} package: pip install "
            f"'llmdas[llm]' (or pip install {package})"
        ) from None


def stopped_at_token_limit(finish_reason: str) -> bool:
    """A finish reason that says the token limit ended the answer: OpenAI's ``length``,
    Anthropic's ``max_tokens``, Gemini's ``MAX_TOKENS`` (``FinishReason.MAX_TOKENS``)."""
    return finish_reason.lower().rpartition(".")[2] in ("length", "max_tokens")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: delay ``initial_delay * multiplier**k`` (capped), times jitter."""

    max_retries: int = 4
    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier**attempt)
        base *= 1.0 + self.jitter * random.random()
        if retry_after is not None and retry_after > 0:
            base = max(base, min(retry_after, self.max_delay))
        return min(base, self.max_delay)


def normalize_messages(messages: Sequence[Mapping[str, Any]]) -> list[Message]:
    """Check and copy a message list: roles system/user/assistant, string contents."""
    out: list[Message] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if role not in _ROLES:
            raise ValueError(f"message {i}: role must be one of {_ROLES}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"message {i}: content must be a string")
        out.append({"role": str(role), "content": content})
    if not out or out[-1]["role"] != "user":
        raise ValueError("the last message must come from the user")
    return out


def redact(text: str, *secrets: str | None) -> str:
    """Replace every secret (longer than 3 characters) in ``text`` by ``***``."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, "***")
    return text


def check_sampling(temperature: float | None, max_tokens: int) -> None:
    """Refuse a sampling setting no provider accepts before it costs a request."""
    if temperature is not None and not (
        isinstance(temperature, int | float) and math.isfinite(temperature) and temperature >= 0
    ):
        raise ValueError(f"temperature must be None or a finite number >= 0, got {temperature!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")


def _check_base_url(base_url: str | None, provider: str, source: str = "base_url") -> None:
    # The SDKs report a URL without a scheme or host as a connection error, which is retried
    # for half a minute before it is shown.
    if base_url is None:
        return
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{provider}: {source} {base_url!r} is not an http(s) URL with a host "
            "(e.g. http://localhost:11434/v1)"
        )


def base_url_host(base_url: str | None) -> str:
    """``host[:port]`` of a base URL, without credentials, path or query ("" if none)."""
    if not base_url:
        return ""
    parts = urlsplit(base_url if "://" in base_url else "//" + base_url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _retry_after_seconds(headers: Any) -> float | None:
    if headers is None:
        return None
    try:
        value = headers.get("retry-after")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    # HTTP allows a date too ("Fri, 04 Dec 2026 19:30:00 GMT"), which some gateways send.
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": the date is in UTC
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_for_status(status: int, message: str, *, provider: str, headers: Any = None) -> LLMError:
    """Map an HTTP status to the matching :class:`LLMError` subclass."""
    text = f"{provider}: HTTP {status}: {message}"
    if status in (401, 403):
        hint = "check the API key" if status == 401 else "the key lacks permission for this"
        return LLMAuthError(f"{text} ({hint})", status=status, provider=provider)
    if status == 429:
        return LLMRateLimitError(
            text, status=status, provider=provider, retry_after=_retry_after_seconds(headers)
        )
    if status >= 500:
        return LLMServerError(
            text, status=status, provider=provider, retry_after=_retry_after_seconds(headers)
        )
    return LLMRequestError(text, status=status, provider=provider)


# --------------------------------------------------------------------------- provider
def _sdk_status_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", "") or exc)


@contextmanager
def sdk_errors(
    sdk: Any, base_error: type[Exception], *, provider: str, timeout: float, host: str
) -> Iterator[None]:
    """Map the exceptions of the OpenAI and Anthropic SDKs (generated alike) to :class:`LLMError`.

    ``sdk`` is the imported SDK module, ``base_error`` its root exception class and ``host`` the
    server named in connection errors.
    """
    try:
        yield
    except sdk.APIStatusError as exc:
        raise error_for_status(
            exc.status_code,
            _sdk_status_message(exc),
            provider=provider,
            headers=getattr(exc.response, "headers", None),
        ) from None
    except sdk.APITimeoutError:  # a subclass of APIConnectionError: check it first
        raise LLMConnectionError(
            f"{provider}: request timed out after {timeout:g}s", provider=provider
        ) from None
    except sdk.APIConnectionError as exc:
        raise LLMConnectionError(
            f"{provider}: cannot reach {host}: {exc}", provider=provider
        ) from None
    except (sdk.APIResponseValidationError, json.JSONDecodeError, ValueError) as exc:
        raise LLMResponseError(
            f"{provider}: malformed response: {exc}", provider=provider
        ) from None
    except base_error as exc:
        raise LLMError(f"{provider}: {exc}", provider=provider) from None


class LLMProvider:
    """Base class: subclasses implement :meth:`_complete_once` and set ``name``/``model``."""

    name = "base"
    #: The environment variable the SDK reads for its server when given no ``base_url``. It is
    #: read here too, so that errors, transcripts and local-server defaults name the server the
    #: requests go to rather than the provider's public API.
    base_url_env: str | None = None

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not model:
            raise ValueError(f"{self.name}: a model name is required")
        source = "base_url"
        if base_url is None and self.base_url_env and os.environ.get(self.base_url_env):
            base_url, source = os.environ[self.base_url_env], f"${self.base_url_env}"
        _check_base_url(base_url, self.name, source)
        from llmdas._validation import check_seconds  # here: it imports NumPy, this module not

        self.timeout = check_seconds(timeout, f"{self.name}: timeout")
        self.model = model
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._secret: str | None = None

    def close(self) -> None:
        """Close the SDK client's connections; ``with provider:`` does so at its end."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> LLMProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the key
        host = base_url_host(self.base_url)
        return f"{type(self).__name__}(model={self.model!r}, host={host!r})"

    @property
    def host(self) -> str:
        return base_url_host(self.base_url)

    def describe(self) -> dict[str, str]:
        """What may be stored about this provider: name, model, host (never the key)."""
        return {"provider": self.name, "model": self.model, "base_url_host": self.host}

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        """Send ``messages`` and return the completion, retrying transient failures."""
        msgs = normalize_messages(messages)
        check_sampling(temperature, max_tokens)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                completion = self._complete_once(
                    msgs, temperature=temperature, max_tokens=max_tokens
                )
            except LLMError as exc:
                exc = type(exc)(redact(str(exc), self._secret), **_error_kwargs(exc))
                if not exc.retryable or attempt >= self.retry.max_retries:
                    # The error's own message starts with the provider's name.
                    logger.warning("giving up after %d attempt(s): %s", attempt + 1, exc)
                    raise exc from None
                wait = self.retry.delay(attempt, getattr(exc, "retry_after", None))
                logger.warning(
                    "%s; retry %d/%d in %.2fs",
                    str(exc).rstrip("."),  # the SDKs' messages often end with one
                    attempt + 1,
                    self.retry.max_retries,
                    wait,
                )
                time.sleep(wait)
                attempt += 1
                continue
            if not completion.text.strip():
                # A reasoning model can spend the whole limit on thinking it does not return.
                cause = (
                    f": the token limit (max_tokens {max_tokens}) was used up before any text "
                    "came, e.g. by the model's reasoning; raise it (--max-tokens of llmdas "
                    "generate)"
                    if completion.truncated
                    else ""
                )
                raise LLMResponseError(
                    f"{self.name}: the reply holds no text{cause}", provider=self.name
                )
            elapsed = time.monotonic() - started
            logger.info(
                "%s: %s replied in %.2fs (%d in / %d out tokens, %d attempt(s))",
                self.name,
                completion.model or self.model,
                elapsed,
                completion.usage.get("input_tokens", 0),
                completion.usage.get("output_tokens", 0),
                attempt + 1,
            )
            return Completion(
                text=completion.text,
                usage=completion.usage,
                model=completion.model or self.model,
                raw_id=completion.raw_id,
                provider=self.name,
                finish_reason=completion.finish_reason,
                elapsed_s=round(elapsed, 4),
                attempts=attempt + 1,
            )

    def _complete_once(
        self, messages: list[Message], *, temperature: float | None, max_tokens: int
    ) -> Completion:
        raise NotImplementedError


def _error_kwargs(exc: LLMError) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"status": exc.status, "provider": exc.provider}
    if isinstance(exc, (LLMRateLimitError, LLMServerError)):
        kwargs["retry_after"] = exc.retry_after
    return kwargs
