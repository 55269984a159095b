"""LLM providers behind one interface: ``complete(messages, *, temperature, max_tokens)``.

=====================  =============================================  =========================
provider               SDK / protocol                                 key (environment)
=====================  =============================================  =========================
``openai``             ``openai`` chat completions; ``base_url`` for  ``OPENAI_API_KEY``
                       Ollama, vLLM, llama.cpp, LM Studio
``anthropic``          ``anthropic`` Messages API                     ``ANTHROPIC_API_KEY``
``gemini``             ``google-genai`` generateContent               ``GEMINI_API_KEY`` /
                                                                      ``GOOGLE_API_KEY``
``replay``             a transcript file (``base_url`` = its path)    none
=====================  =============================================  =========================

Without ``base_url`` a provider uses its SDK's own variable (``OPENAI_BASE_URL``,
``ANTHROPIC_BASE_URL``, ``GOOGLE_GEMINI_BASE_URL``) where it is set, as the SDK itself would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import (
    Completion,
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMProvider,
    LLMRateLimitError,
    LLMRequestError,
    LLMResponseError,
    LLMServerError,
    Message,
    RetryPolicy,
    base_url_host,
    redact,
)
from .replay import RecordingProvider, ReplayProvider, ResumingProvider

__all__ = [
    "PROVIDERS",
    "AnthropicProvider",
    "Completion",
    "GeminiProvider",
    "LLMAuthError",
    "LLMConnectionError",
    "LLMError",
    "LLMProvider",
    "LLMRateLimitError",
    "LLMRequestError",
    "LLMResponseError",
    "LLMServerError",
    "Message",
    "OpenAIProvider",
    "RecordingProvider",
    "ReplayProvider",
    "ResumingProvider",
    "RetryPolicy",
    "base_url_host",
    "make_provider",
    "redact",
]

PROVIDERS = ("openai", "anthropic", "gemini", "replay")


def __getattr__(name: str):  # SDKs are imported only when their provider is used
    if name == "OpenAIProvider":
        from .openai_provider import OpenAIProvider

        return OpenAIProvider
    if name == "AnthropicProvider":
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider
    if name == "GeminiProvider":
        from .gemini_provider import GeminiProvider

        return GeminiProvider
    raise AttributeError(name)


def make_provider(
    provider: str,
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    retry: RetryPolicy | None = None,
    record: str | Path | None = None,
) -> LLMProvider:
    """Build a provider by name; ``record`` wraps it in a :class:`RecordingProvider`."""
    kind = provider.lower().strip()
    if kind not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if kind == "replay":
        if not base_url:
            raise ValueError(
                "replay provider: pass the transcript path as base_url (on the command line: "
                "--base-url)"
            )
        result: LLMProvider = ReplayProvider(base_url)
    else:
        if not model:
            raise ValueError(
                f"{kind} provider: a model name is required (on the command line: --model)"
            )
        common: dict[str, Any] = {
            "base_url": base_url,
            "api_key": api_key,
            "timeout": timeout,
            "retry": retry,
        }
        if kind == "openai":
            from .openai_provider import OpenAIProvider

            result = OpenAIProvider(model, **common)
        elif kind == "anthropic":
            from .anthropic_provider import AnthropicProvider

            result = AnthropicProvider(model, **common)
        else:
            from .gemini_provider import GeminiProvider

            result = GeminiProvider(model, **common)
    if record is not None:
        result = RecordingProvider(result, record)
    return result
