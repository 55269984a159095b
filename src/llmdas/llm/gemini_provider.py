"""Gemini through the official ``google-genai`` SDK (Gemini Developer API)."""

from __future__ import annotations

import json
import os
from typing import Any

from .base import (
    Completion,
    LLMAuthError,
    LLMConnectionError,
    LLMError,
    LLMProvider,
    LLMResponseError,
    Message,
    RetryPolicy,
    error_for_status,
    import_sdk,
    stopped_at_token_limit,
)

__all__ = ["GeminiProvider"]


class GeminiProvider(LLMProvider):
    """``POST {base_url}/{api_version}/models/{model}:generateContent``.

    ``base_url`` (and ``api_version``, default ``v1beta``) go into
    ``types.HttpOptions``; the key comes from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``.
    System messages become ``system_instruction``; assistant turns use the role ``model``.
    """

    name = "gemini"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_version: str = "v1beta",
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(model, base_url=base_url, timeout=timeout, retry=retry)
        key = api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if not key:
            raise LLMAuthError(
                "gemini: no API key: set GEMINI_API_KEY or GOOGLE_API_KEY", provider=self.name
            )
        self._secret = key
        genai = import_sdk("google.genai", "google-genai", self.name)
        errors = import_sdk("google.genai.errors", "google-genai", self.name)
        types = import_sdk("google.genai.types", "google-genai", self.name)

        self._types = types
        self._errors = errors
        options = types.HttpOptions(
            base_url=self.base_url,
            api_version=api_version,
            timeout=int(timeout * 1000),  # milliseconds
            retry_options=None,  # one retry policy: ours
        )
        self._client = genai.Client(api_key=key, http_options=options)

    def _complete_once(
        self, messages: list[Message], *, temperature: float | None, max_tokens: int
    ) -> Completion:
        types, errors = self._types, self._errors
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        contents = [
            types.Content(
                role="model" if m["role"] == "assistant" else "user",
                parts=[types.Part(text=m["content"])],
            )
            for m in messages
            if m["role"] != "system"
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=temperature,
            max_output_tokens=int(max_tokens),
        )
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        except errors.APIError as exc:
            code = int(getattr(exc, "code", 0) or 0)
            message = getattr(exc, "message", None) or str(exc)
            if code:
                response_obj = getattr(exc, "response", None)
                raise error_for_status(
                    code,
                    str(message),
                    provider=self.name,
                    headers=getattr(response_obj, "headers", None),
                ) from None
            raise LLMResponseError(f"gemini: {message}", provider=self.name) from None
        except (errors.UnknownApiResponseError, json.JSONDecodeError, ValueError) as exc:
            raise LLMResponseError(
                f"gemini: malformed response: {exc}", provider=self.name
            ) from None
        except (OSError, TimeoutError) as exc:
            raise LLMConnectionError(
                f"gemini: cannot reach {self.host or 'the Gemini API'}: {exc}", provider=self.name
            ) from None
        except Exception as exc:  # httpx2 transport errors and the like
            if type(exc).__module__.startswith(("httpx", "httpcore")):
                raise LLMConnectionError(
                    f"gemini: cannot reach {self.host or 'the Gemini API'}: {exc}",
                    provider=self.name,
                ) from None
            raise LLMError(f"gemini: {type(exc).__name__}: {exc}", provider=self.name) from None
        return _to_completion(response, self.name)


def _to_completion(response: Any, provider: str) -> Completion:
    candidates = getattr(response, "candidates", None) or []
    texts: list[str] = []
    finish = ""
    if candidates:
        content = getattr(candidates[0], "content", None)
        for part in getattr(content, "parts", None) or []:
            text = getattr(part, "text", None)
            if isinstance(text, str) and not getattr(part, "thought", False):
                texts.append(text)
        finish = str(getattr(candidates[0], "finish_reason", "") or "")
    if not texts and not stopped_at_token_limit(finish):  # else complete() says why
        raise LLMResponseError(f"{provider}: the response holds no text", provider=provider)
    usage = getattr(response, "usage_metadata", None)
    return Completion(
        text="".join(texts),
        usage={
            "input_tokens": int(getattr(usage, "prompt_token_count", 0) or 0),
            "output_tokens": int(getattr(usage, "candidates_token_count", 0) or 0),
        },
        model=str(getattr(response, "model_version", "") or ""),
        raw_id=str(getattr(response, "response_id", "") or ""),
        finish_reason=finish,
    )
