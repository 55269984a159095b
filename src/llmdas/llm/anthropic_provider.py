"""Anthropic Messages API through the official ``anthropic`` SDK."""

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

__all__ = ["AnthropicProvider"]


class AnthropicProvider(LLMProvider):
    """``POST {base_url}/v1/messages``; system messages go into the ``system`` parameter.

    The Messages API of this SDK generation takes no sampling parameters, so ``temperature`` is
    not sent unless ``send_temperature=True`` (then it travels in the request body for servers
    that still accept it).
    """

    name = "anthropic"
    base_url_env = "ANTHROPIC_BASE_URL"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        send_temperature: bool = False,
    ) -> None:
        super().__init__(model, base_url=base_url, timeout=timeout, retry=retry)
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise LLMAuthError("anthropic: no API key: set ANTHROPIC_API_KEY", provider=self.name)
        self._secret = key
        self.send_temperature = send_temperature
        anthropic = import_sdk("anthropic", "anthropic", self.name)
        self._sdk = anthropic
        self._client = anthropic.Anthropic(
            api_key=key, base_url=self.base_url, timeout=timeout, max_retries=0
        )

    def _complete_once(
        self, messages: list[Message], *, temperature: float | None, max_tokens: int
    ) -> Completion:
        anthropic = self._sdk
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] != "system"]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(max_tokens),
            "messages": turns,
        }
        if system:
            kwargs["system"] = system
        if temperature is not None and self.send_temperature:
            kwargs["extra_body"] = {"temperature": float(temperature)}
        with sdk_errors(
            anthropic,
            anthropic.AnthropicError,
            provider=self.name,
            timeout=self.timeout,
            host=self.host or "api.anthropic.com",
        ):
            response = self._client.messages.create(**kwargs)
        blocks = getattr(response, "content", None) or []
        texts = [
            b.text for b in blocks if getattr(b, "type", "") == "text" and isinstance(b.text, str)
        ]
        finish = str(getattr(response, "stop_reason", "") or "")
        if not texts and not stopped_at_token_limit(finish):  # else complete() says why
            raise LLMResponseError(
                "anthropic: the response holds no text block", provider=self.name
            )
        usage = getattr(response, "usage", None)
        return Completion(
            text="".join(texts),
            usage={
                "input_tokens": int(getattr(usage, "input_tokens", 0) or 0),
                "output_tokens": int(getattr(usage, "output_tokens", 0) or 0),
            },
            model=str(getattr(response, "model", "") or ""),
            raw_id=str(getattr(response, "id", "") or ""),
            finish_reason=finish,
        )
