"""OpenAI chat completions through the official ``openai`` SDK.

``base_url`` points the same code at any OpenAI-compatible server: Ollama
(``http://localhost:11434/v1``), vLLM (``http://host:8000/v1``), llama.cpp's ``llama-server``
(``http://host:8080/v1``), LM Studio (``http://localhost:1234/v1``).
"""

from __future__ import annotations

import os
from typing import Any

from .base import (
    Completion,
    LLMAuthError,
    LLMProvider,
    LLMResponseError,
    Message,
    RetryPolicy,
    import_sdk,
    sdk_errors,
    stopped_at_token_limit,
)

__all__ = ["OpenAIProvider"]

#: Placeholder key for local OpenAI-compatible servers that do not check keys.
LOCAL_PLACEHOLDER_KEY = "not-needed"


class OpenAIProvider(LLMProvider):
    """Chat completions (``POST {base_url}/chat/completions``).

    Parameters
    ----------
    model : str
        Model name as the server knows it (``gpt-4o``, ``llama3.1:8b`` ...).
    base_url : str, optional
        Server root including ``/v1``; default: ``$OPENAI_BASE_URL``, else the OpenAI API.
    api_key : str, optional
        Default: ``OPENAI_API_KEY``. For a custom ``base_url`` without a key a placeholder is
        sent, since local servers usually ignore it.
    token_param : {"max_tokens", "max_completion_tokens"}, optional
        Name under which the output-token limit is sent. Default: ``max_completion_tokens`` for
        the OpenAI API, ``max_tokens`` (understood by every compatible server) otherwise.
    """

    name = "openai"
    base_url_env = "OPENAI_BASE_URL"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        token_param: str | None = None,
    ) -> None:
        super().__init__(model, base_url=base_url, timeout=timeout, retry=retry)
        base_url = self.base_url  # with $OPENAI_BASE_URL where none was given
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise LLMAuthError(
                    "openai: no API key: set OPENAI_API_KEY (or, for a local server, pass its "
                    "base_url; on the command line: --base-url)",
                    provider=self.name,
                )
            key = LOCAL_PLACEHOLDER_KEY
        self._secret = key if key != LOCAL_PLACEHOLDER_KEY else None
        self.token_param = token_param or ("max_tokens" if base_url else "max_completion_tokens")
        openai = import_sdk("openai", "openai", self.name)
        self._sdk = openai
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)

    def _complete_once(
        self, messages: list[Message], *, temperature: float | None, max_tokens: int
    ) -> Completion:
        openai = self._sdk
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        kwargs[self.token_param] = int(max_tokens)
        if temperature is not None:
            kwargs["temperature"] = float(temperature)
        with sdk_errors(
            openai,
            openai.OpenAIError,
            provider=self.name,
            timeout=self.timeout,
            host=self.host or "api.openai.com",
        ):
            response = self._client.chat.completions.create(**kwargs)
        return _to_completion(response, self.name)


def _to_completion(response: Any, provider: str) -> Completion:
    choices = getattr(response, "choices", None)
    if not choices:
        raise LLMResponseError(f"{provider}: the response holds no choices", provider=provider)
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    finish = str(getattr(choice, "finish_reason", "") or "")
    if text is None and stopped_at_token_limit(finish):
        text = ""  # the provider's complete() says that the limit was used up
    if not isinstance(text, str):
        raise LLMResponseError(f"{provider}: the first choice holds no text", provider=provider)
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        usage={
            "input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        },
        model=str(getattr(response, "model", "") or ""),
        raw_id=str(getattr(response, "id", "") or ""),
        finish_reason=finish,
    )
