"""Providers, through their official SDKs, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import sys

import pytest

from llmdas.llm import (
    AnthropicProvider,
    Completion,
    GeminiProvider,
    LLMAuthError,
    LLMConnectionError,
    LLMRequestError,
    LLMResponseError,
    OpenAIProvider,
    RecordingProvider,
    ReplayProvider,
    RetryPolicy,
    make_provider,
)
from llmdas.llm.loopback import ScriptedLLMServer, ScriptedReply, request_text

FAST = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05, jitter=0.0)
SECRET = "sk-test-9f8e7d6c5b4a-do-not-leak"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello."},
]


BASE_URL_ENV = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
}


@pytest.fixture(autouse=True)
def _no_base_url_in_the_environment(monkeypatch):
    """Each SDK's server variable unset, as on a machine that never set them."""
    for var in BASE_URL_ENV.values():
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    with ScriptedLLMServer() as srv:
        yield srv


def _make(kind: str, srv: ScriptedLLMServer, **kw):
    kw.setdefault("retry", FAST)
    if kind == "openai":
        return OpenAIProvider("gpt-test", base_url=srv.url + "/v1", api_key=SECRET, **kw)
    if kind == "anthropic":
        return AnthropicProvider("claude-test", base_url=srv.url, api_key=SECRET, **kw)
    return GeminiProvider("gemini-test", base_url=srv.url, api_key=SECRET, **kw)


KINDS = ["openai", "anthropic", "gemini"]
PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-test:generateContent",
}


@pytest.mark.parametrize("kind", KINDS)
def test_completion_roundtrip(kind, server):
    server.push(ScriptedReply.text("hello there", input_tokens=11, output_tokens=3))
    provider = _make(kind, server)
    completion = provider.complete(MESSAGES, temperature=0.3, max_tokens=64)
    assert isinstance(completion, Completion)
    assert completion.text == "hello there"
    assert completion.usage == {"input_tokens": 11, "output_tokens": 3}
    assert completion.model == "scripted-model"
    assert completion.raw_id
    assert completion.provider == kind
    assert completion.attempts == 1
    (req,) = server.requests
    assert req.path.split("?")[0] == PATHS[kind]
    text = request_text(req)
    assert "You are terse." in text and "Say hello." in text
    body = req.body
    if kind == "openai":
        assert body["messages"][0] == {"role": "system", "content": "You are terse."}
        assert body["max_tokens"] == 64 and body["temperature"] == 0.3
        assert req.headers["authorization"] == f"Bearer {SECRET}"
    elif kind == "anthropic":
        assert body["system"] == "You are terse."
        assert body["messages"] == [{"role": "user", "content": "Say hello."}]
        assert body["max_tokens"] == 64
    else:
        assert body["generationConfig"]["maxOutputTokens"] == 64
        assert body["generationConfig"]["temperature"] == 0.3
        assert body["contents"][0]["role"] == "user"
        assert req.headers["x-goog-api-key"] == SECRET


@pytest.mark.parametrize("kind", KINDS)
def test_multiturn_roles(kind, server):
    server.push("ok")
    msgs = [
        *MESSAGES,
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Again."},
    ]
    _make(kind, server).complete(msgs, max_tokens=10)
    body = server.requests[0].body
    if kind == "gemini":
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    else:
        roles = [m["role"] for m in body["messages"]]
        assert roles[-3:] == ["user", "assistant", "user"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [429, 503])
def test_transient_errors_are_retried(kind, status, server, caplog):
    server.push(ScriptedReply.error(status, "slow down"), ScriptedReply.text("after retry"))
    with caplog.at_level(logging.WARNING, logger="llmdas.llm"):
        completion = _make(kind, server).complete(MESSAGES, max_tokens=10)
    assert completion.text == "after retry"
    assert completion.attempts == 2
    assert len(server.requests) == 2, "the server must see the failed request and the retry"
    retries = [r.getMessage() for r in caplog.records if "retry 1/3" in r.getMessage()]
    assert retries and retries[0].startswith(f"{kind}: HTTP {status}"), retries
    assert f"{kind}: {kind}:" not in caplog.text  # the provider is named once per line


@pytest.mark.parametrize("kind", KINDS)
def test_settings_no_server_accepts_are_refused_before_any_request(kind, server):
    for base_url in ("notaurl", "localhost:11434/v1", "ftp://host/v1", "http:///v1"):
        with pytest.raises(ValueError, match=r"is not an http\(s\) URL with a host"):
            make_provider(kind, "m", base_url=base_url, api_key=SECRET)
    for timeout in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
            _make(kind, server, timeout=timeout)
    provider = _make(kind, server)
    for temperature in (-0.5, float("nan"), "hot"):
        with pytest.raises(ValueError, match="temperature must be None or a finite number >= 0"):
            provider.complete(MESSAGES, temperature=temperature)
    for max_tokens in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_tokens must be an integer >= 1"):
            provider.complete(MESSAGES, max_tokens=max_tokens)
    assert not server.requests


def test_rate_limit_gives_up_after_max_retries(server):
    from llmdas.llm import LLMRateLimitError

    for _ in range(4):
        server.push(ScriptedReply.error(429, "quota exhausted"))
    with pytest.raises(LLMRateLimitError, match="429"):
        _make("openai", server).complete(MESSAGES)
    assert len(server.requests) == 4  # 1 + 3 retries


def test_retry_after_header_is_honoured(server):
    policy = RetryPolicy(max_retries=1, initial_delay=0.0, max_delay=0.3, jitter=0.0)
    assert policy.delay(0, retry_after=0.2) == pytest.approx(0.2)
    assert policy.delay(0, retry_after=100.0) == pytest.approx(0.3)  # capped
    assert RetryPolicy(initial_delay=1.0, jitter=0.0).delay(3) == pytest.approx(8.0)


def _connections_closed(provider) -> bool:
    client = provider._client  # each SDK's own client
    if hasattr(client, "is_closed"):  # OpenAI's and Anthropic's
        return client.is_closed()
    return client._api_client._httpx_client.is_closed  # google-genai's


@pytest.mark.parametrize("kind", KINDS)
def test_a_provider_closes_its_connections_at_the_end_of_with(kind, server, tmp_path):
    from llmdas.llm import RecordingProvider

    server.push(ScriptedReply.text("hello"))
    with _make(kind, server) as provider:
        provider.complete(MESSAGES)
        assert not _connections_closed(provider)
    assert _connections_closed(provider)
    inner = _make(kind, server)  # a wrapper closes the provider it wraps
    with RecordingProvider(inner, tmp_path / "calls.json"):
        pass
    assert _connections_closed(inner)


@pytest.mark.parametrize("kind", KINDS)
def test_a_retry_after_header_in_seconds_or_as_a_date_reaches_the_error(kind, server):
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from llmdas.llm import LLMRateLimitError, LLMServerError

    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    once = RetryPolicy(max_retries=0)
    for status, value, expected in [(429, "7", 7.0), (503, soon, 30.0), (429, "soon", None)]:
        server.push(ScriptedReply.error(status, "slow down", headers={"Retry-After": value}))
        with pytest.raises((LLMRateLimitError, LLMServerError)) as info:
            _make(kind, server, retry=once).complete(MESSAGES)
        if expected is None:  # unreadable: the policy's own back-off applies
            assert info.value.retry_after is None
        else:  # the date is read against the clock, a second or so after it was written
            assert info.value.retry_after == pytest.approx(expected, abs=2.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(kind, status, server):
    server.push(ScriptedReply.error(status, "invalid key provided"))
    with pytest.raises(LLMAuthError) as info:
        _make(kind, server).complete(MESSAGES)
    message = str(info.value)
    assert str(status) in message and kind in message
    assert "API key" in message or "permission" in message
    assert "\n" not in message
    assert len(server.requests) == 1, "auth errors must not be retried"


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_json_is_a_response_error(kind, server):
    server.push(ScriptedReply.body(b'{"choices": [ {"message": '))
    with pytest.raises(LLMResponseError):
        _make(kind, server).complete(MESSAGES)


@pytest.mark.parametrize("kind", KINDS)
def test_json_without_text_is_a_response_error(kind, server):
    server.push(ScriptedReply.body(json.dumps({"unexpected": True})))
    with pytest.raises(LLMResponseError):
        _make(kind, server).complete(MESSAGES)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_text_is_a_response_error(kind, server):
    server.push(ScriptedReply.text("   "))
    with pytest.raises(LLMResponseError, match="no text"):
        _make(kind, server).complete(MESSAGES)


@pytest.mark.parametrize(
    ("kind", "module", "package"),
    [("openai", "openai", "openai"), ("anthropic", "anthropic", "anthropic"),
     ("gemini", "google.genai", "google-genai")],
)  # fmt: skip
def test_a_provider_without_its_sdk_says_what_to_install(kind, module, package, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import it now raises ImportError
    with pytest.raises(ImportError) as info:
        make_provider(kind, "m", api_key=SECRET)
    assert str(info.value) == (
        f"{kind}: the provider needs its SDK, the {package} package: pip install 'llmdas[llm]' "
        f"(or pip install {package})"
    )


FINISH_AT_LIMIT = {"openai": "length", "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_answer_cut_short_by_the_token_limit_says_so(kind, server):
    server.push(ScriptedReply.text("half an ans", cut_short=True), ScriptedReply.text("whole"))
    provider = _make(kind, server)
    cut = provider.complete(MESSAGES, max_tokens=64)
    assert cut.text == "half an ans" and cut.truncated
    assert FINISH_AT_LIMIT[kind] in cut.finish_reason  # Gemini's SDK may prefix its enum name
    assert not provider.complete(MESSAGES, max_tokens=64).truncated


@pytest.mark.parametrize("content", ["", None])
@pytest.mark.parametrize("kind", KINDS)
def test_a_token_limit_spent_before_any_text_is_named(kind, content, server):
    # A reasoning model can spend the whole limit thinking and return no text at all.
    server.push(ScriptedReply(content=content, cut_short=True))
    with pytest.raises(LLMResponseError) as info:
        _make(kind, server).complete(MESSAGES, max_tokens=64)
    message = str(info.value)
    assert message.startswith(f"{kind}: the reply holds no text")
    assert "the token limit (max_tokens 64) was used up" in message and "--max-tokens" in message


@pytest.mark.parametrize("kind", KINDS)
def test_other_4xx_is_a_request_error(kind, server):
    server.push(ScriptedReply.error(404, "model not found"))
    with pytest.raises(LLMRequestError, match="404"):
        _make(kind, server).complete(MESSAGES)
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_server_is_a_connection_error(kind, caplog):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    retry = RetryPolicy(max_retries=1, initial_delay=0.01, jitter=0.0)
    cls = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}[kind]
    provider = cls(
        "m",
        base_url=url + ("/v1" if kind == "openai" else ""),
        api_key=SECRET,
        retry=retry,
        timeout=5,
    )
    with caplog.at_level(logging.WARNING, logger="llmdas.llm"), pytest.raises(LLMConnectionError):
        provider.complete(MESSAGES)
    (retried,) = [r.getMessage() for r in caplog.records if "retry 1/1" in r.getMessage()]
    assert f"{kind}: cannot reach 127.0.0.1:{port}" in retried and ".;" not in retried


@pytest.mark.parametrize("kind", KINDS)
def test_slow_server_times_out_then_retry_succeeds(kind, server):
    server.push(ScriptedReply.text("too late", delay_s=1.5), ScriptedReply.text("in time"))
    retry = RetryPolicy(max_retries=1, initial_delay=0.01, jitter=0.0)
    cls = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}[kind]
    base = server.url + ("/v1" if kind == "openai" else "")
    provider = cls("m", base_url=base, api_key=SECRET, retry=retry, timeout=0.5)
    completion = provider.complete(MESSAGES)
    assert completion.text == "in time" and completion.attempts == 2
    assert len(server.requests) == 2
    server.push(ScriptedReply.text("too late", delay_s=1.5))
    provider.retry = RetryPolicy(max_retries=0)
    with pytest.raises(LLMConnectionError, match="timed out|cannot reach"):
        provider.complete(MESSAGES)
    assert len(server.requests) == 3


def test_missing_keys_raise_auth_errors(monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LLMAuthError, match="OPENAI_API_KEY"):
        OpenAIProvider("gpt")
    with pytest.raises(LLMAuthError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider("claude")
    with pytest.raises(LLMAuthError, match="GEMINI_API_KEY"):
        GeminiProvider("gemini")
    # a local OpenAI-compatible server needs no key
    assert OpenAIProvider("llama3", base_url="http://127.0.0.1:1/v1").host == "127.0.0.1:1"


@pytest.mark.parametrize("kind", KINDS)
def test_keys_come_from_the_environment(kind, server, monkeypatch):
    var = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
    monkeypatch.setenv(var[kind], SECRET)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    server.push("ok")
    base = server.url + ("/v1" if kind == "openai" else "")
    provider = make_provider(kind, "m", base_url=base, retry=FAST)
    provider.complete(MESSAGES)
    headers = server.requests[0].headers
    assert SECRET in (
        headers.get("authorization", "")
        + headers.get("x-api-key", "")
        + headers.get("x-goog-api-key", "")
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdks_server_variable_stands_in_for_base_url(kind, server, monkeypatch):
    # The SDKs send to this variable's server when given no base_url; errors and transcripts
    # must name that server, not the public API, and a local OpenAI server needs no key.
    monkeypatch.setenv(BASE_URL_ENV[kind], server.url + ("/v1" if kind == "openai" else ""))
    for var in ("OPENAI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    server.push("ok")
    provider = make_provider(kind, "m", retry=FAST)
    assert provider.complete(MESSAGES).text == "ok"
    (request,) = server.requests
    assert request.path.split("?")[0] == PATHS[kind].replace("gemini-test", "m")
    host = server.url.removeprefix("http://")
    assert provider.host == host and provider.describe()["base_url_host"] == host
    if kind == "openai":  # the token limit goes under the name every compatible server knows
        assert "max_tokens" in request.body and "max_completion_tokens" not in request.body
    monkeypatch.setenv(BASE_URL_ENV[kind], "localhost:11434")
    with pytest.raises(ValueError, match=rf"\${BASE_URL_ENV[kind]} 'localhost:11434' is not an"):
        make_provider(kind, "m")


@pytest.mark.parametrize("kind", KINDS)
def test_key_never_in_logs_repr_errors_or_transcripts(kind, server, tmp_path, caplog):
    server.push(
        ScriptedReply.error(429, "slow"),
        ScriptedReply.text("fine"),
        # a hostile server echoing the key back in an error message
        ScriptedReply.error(400, f"bad key {SECRET}"),
    )
    transcript = tmp_path / "t.json"
    provider = RecordingProvider(_make(kind, server), transcript)
    with caplog.at_level(logging.DEBUG):
        provider.complete(MESSAGES)
        with pytest.raises(LLMRequestError) as info:
            provider.complete(MESSAGES)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    assert SECRET not in repr(provider) and SECRET not in repr(provider.inner)
    assert SECRET not in json.dumps(provider.describe())
    assert SECRET not in caplog.text
    assert SECRET not in transcript.read_text()


def test_record_then_replay(server, tmp_path):
    server.push("first answer", "second answer")
    path = tmp_path / "rec.json"
    recorder = make_provider(
        "openai", "gpt-test", base_url=server.url + "/v1", api_key=SECRET, record=path
    )
    a = recorder.complete(MESSAGES, temperature=0.5, max_tokens=32)
    msgs2 = [
        *MESSAGES,
        {"role": "assistant", "content": a.text},
        {"role": "user", "content": "More."},
    ]
    b = recorder.complete(msgs2, temperature=0.5, max_tokens=32)
    data = json.loads(path.read_text())
    assert data["format"] == "llmdas-llm-transcript"
    assert data["provider"] == "openai" and data["base_url_host"].startswith("127.0.0.1:")
    assert len(data["calls"]) == 2

    replay = make_provider("replay", base_url=str(path))
    assert isinstance(replay, ReplayProvider)
    # order of identical requests is kept, different requests are matched by content
    assert replay.complete(msgs2, temperature=0.5, max_tokens=32).text == b.text
    r1 = replay.complete(MESSAGES, temperature=0.5, max_tokens=32)
    assert r1.text == a.text and r1.usage == a.usage
    with pytest.raises(LLMResponseError, match="not in transcript"):
        replay.complete(MESSAGES, temperature=0.5, max_tokens=32)  # used up
    with pytest.raises(LLMResponseError, match="not in transcript"):
        replay.complete(MESSAGES, temperature=0.9, max_tokens=32)  # different request
    assert len(server.requests) == 2  # replay never touches the network


def test_replay_rejects_non_transcripts(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{oops")
    with pytest.raises(LLMResponseError, match="not JSON"):
        ReplayProvider(bad)
    bad.write_text("{}")
    with pytest.raises(LLMResponseError, match="llmdas-llm-transcript.*generation-transcript"):
        ReplayProvider(bad)


def test_messages_are_validated(server):
    provider = _make("openai", server)
    with pytest.raises(ValueError, match="role"):
        provider.complete([{"role": "tool", "content": "x"}])
    with pytest.raises(ValueError, match="last message"):
        provider.complete([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])
    assert server.requests == []
