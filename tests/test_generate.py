"""The Stage-1 loop end to end: real SDKs, real HTTP to a scripted server on 127.0.0.1, real sandbox.

No LLM is involved anywhere: every reply below is written in this file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from llmdas.cli_generate import generate, programs_validate
from llmdas.generate import (
    GenerationConfig,
    GenerationInterrupted,
    generate_program,
    make_probe_data,
    normalize_source,
    parse_answer,
    review_output,
    transcript_markdown,
)
from llmdas.llm import (
    AnthropicProvider,
    GeminiProvider,
    LLMAuthError,
    LLMResponseError,
    OpenAIProvider,
    RecordingProvider,
    ReplayProvider,
    ResumingProvider,
    RetryPolicy,
)
from llmdas.llm.loopback import ScriptedLLMServer, ScriptedReply, request_text
from llmdas.program import SynthesisProgram
from llmdas.store import save_generated, validate_store

SECRET = "sk-loopback-5e4d3c2b1a-never-store-me"
FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, jitter=0.0)
CFG = dict(probe_rows=96, probe_samples=24, timeout_s=20.0, memory_mb=2048, temperature=0.0)

DESCRIPTION = "The detector scores a row by its distance to its k-th nearest training row."

GOOD_CODE = """\
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    scores = model.predict_score(X)
    seeds = X[np.argsort(scores)[-max(4, len(X) // 10):]]
    idx = rng.integers(len(seeds), size=4 * n_samples)
    noise = rng.normal(scale=SCALE, size=(4 * n_samples, X.shape[1])) * X.std(axis=0)
    cand = seeds[idx] + noise
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
"""


def answer(code: str, policy: str = "Perturb borderline rows.", scale: float = 0.3) -> str:
    code = code.replace("SCALE", repr(scale))
    return (
        f"POLICY: {policy}\n\nPROGRAM:\n```python\n{code}```\n\n"
        "EXPLANATION: Small moves around borderline rows stay in dense regions."
    )


GOOD = answer(GOOD_CODE)
BROKEN = answer(
    "def generate_hard_anomalies(n_samples: int, model, X_train):\n"
    "    import numpy as np\n"
    "    return X_train[:n_samples] / np.zeros(3)\n"
)
HOSTILE = answer(
    "import os\n\n"
    "def generate_hard_anomalies(n_samples: int, model, X_train):\n"
    "    os.system('touch /tmp/llmdas-pwned')\n"
    "    return X_train[:n_samples]\n"
)
COPIES = answer(
    "def generate_hard_anomalies(n_samples: int, model, X_train):\n"
    "    return X_train[:n_samples].copy()\n"
)
NO_FUNCTION = (
    "Here is my approach.\n```python\ndef make_anomalies(n, model, X):\n    return X[:n]\n```\n"
)


@pytest.fixture
def server():
    with ScriptedLLMServer() as srv:
        yield srv


def openai(srv):
    return OpenAIProvider("scripted", base_url=srv.url + "/v1", api_key=SECRET, retry=FAST)


def texts(srv):
    return [request_text(r) for r in srv.requests]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"candidates": 0}, "candidates must be >= 1"),
        ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*32 - 1\], got -1"),
        ({"max_copy_fraction": 50}, r"max_copy_fraction must be a share in \[0, 1\], got 50"),
        ({"min_novelty": float("nan")}, "min_novelty must be a finite number >= 0, got nan"),
        ({"min_novelty": -0.1}, "min_novelty must be a finite number >= 0"),
    ],
)
def test_generation_settings_are_checked_when_made_not_after_calls(setting, message):
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**setting)


# ------------------------------------------------------------------ the loop
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_broken_program_is_repaired_and_accepted(kind, server, caplog):
    server.push(DESCRIPTION, BROKEN, GOOD)
    if kind == "openai":
        provider = openai(server)
    elif kind == "anthropic":
        provider = AnthropicProvider("scripted", base_url=server.url, api_key=SECRET, retry=FAST)
    else:
        provider = GeminiProvider("scripted", base_url=server.url, api_key=SECRET, retry=FAST)
    config = GenerationConfig(candidates=1, repairs=2, **CFG)
    with caplog.at_level(logging.INFO, logger="llmdas"):
        result = generate_program("KNN", provider, config)

    assert result.ok, result.failure_summary()
    assert len(server.requests) == 3  # description, program, repair
    sent = texts(server)
    assert "pseudo-code" in sent[0] and "KNN" in sent[0]
    assert DESCRIPTION in sent[1] and "generate_hard_anomalies" in sent[1]
    # the error, its traceback and the failing code went back to the LLM
    assert "ProgramCrashError" in sent[2] and "broadcast" in sent[2]
    assert "Traceback" in sent[2] and "np.zeros(3)" in sent[2]

    program = result.program
    # the prescribed annotations are made runnable with imports inside the function
    assert program.source == "from __future__ import annotations\n\n" + GOOD_CODE.replace(
        "SCALE", "0.3"
    )
    assert program.detector == "KNN" and program.policy == "Perturb borderline rows."
    assert program.explanation.startswith("Small moves")
    prov = program.provenance
    assert prov["generator"] == "llm" and prov["provider"] == kind
    assert prov["model"] == "scripted" and prov["base_url_host"].startswith("127.0.0.1:")
    assert prov["repair_rounds"] == 1 and prov["prompt_template"] == "default"
    assert len(prov["prompt_sha256"]) == 64 and "requirements=" in prov["prompt_version"]
    assert 0.0 <= prov["review"]["hardness"] <= 1.0 and prov["review"]["novelty"] > 0.05
    assert prov["usage"]["calls"] == 3 and prov["usage"]["output_tokens"] > 0
    # metadata round-trips through the program file format
    assert SynthesisProgram.from_text(program.to_text()).provenance == prov

    events = [e["kind"] for e in result.transcript["events"]]
    assert events[:4] == ["llm_call", "llm_call", "normalize", "check"]
    assert "run" in events and "repair" in events and "review" in events
    assert events[-1] == "decision"
    assert result.candidates[0].status == "accepted"
    assert "repair round 1 after ProgramCrashError" in caplog.text
    blob = json.dumps(result.transcript) + program.to_text() + caplog.text
    assert SECRET not in blob


def test_an_answer_cut_short_by_the_token_limit_is_named_in_the_repair(server, caplog):
    cut = GOOD[: GOOD.index("keep =")]  # the code block never closes
    server.push(DESCRIPTION, ScriptedReply.text(cut, cut_short=True), GOOD)
    config = GenerationConfig(candidates=1, repairs=1, max_tokens=321, **CFG)
    with caplog.at_level(logging.WARNING, logger="llmdas"):
        result = generate_program("KNN", openai(server), config)
    assert result.ok, result.failure_summary()
    assert server.requests[1].body["max_tokens"] == 321
    repair_prompt = " ".join(texts(server)[2].split())
    assert "the answer stopped at the token limit of 321 tokens and may be cut short" in (
        repair_prompt
    )
    assert "the program answer stopped at the token limit (max_tokens 321)" in caplog.text
    finish = [
        e.get("finish_reason") for e in result.transcript["events"] if e["kind"] == "llm_call"
    ]
    assert finish == ["stop", "length", "stop"]


def test_hostile_program_is_rejected_then_repaired(server, tmp_path):
    server.push(DESCRIPTION, HOSTILE, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=1, **CFG)
    )
    assert result.ok
    repair_prompt = texts(server)[2]
    assert "ForbiddenCodeError" in repair_prompt and "'os'" in repair_prompt
    checks = [e for e in result.transcript["events"] if e["kind"] == "check"]
    assert checks[0]["ok"] is False and checks[0]["error"]["type"] == "ForbiddenCodeError"
    assert "os.system" not in result.program.source


def test_hostile_candidate_is_dropped_without_repairs(server):
    server.push(DESCRIPTION, HOSTILE, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=2, repairs=0, **CFG)
    )
    assert [c.status for c in result.candidates] == ["failed", "accepted"]
    assert "ForbiddenCodeError" in result.candidates[0].error
    assert result.program.provenance["candidate"] == 1


def test_reply_without_function_triggers_repair_prompt(server):
    server.push(DESCRIPTION, NO_FUNCTION, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=1, **CFG)
    )
    assert result.ok
    repair = texts(server)[2]
    assert "NoProgramFound" in repair and "generate_hard_anomalies" in repair
    assert "def make_anomalies" in repair  # the previous code is quoted back


def test_reply_with_prose_only_is_repaired(server):
    server.push(DESCRIPTION, "I would perturb the borderline rows.", GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=1, **CFG)
    )
    assert result.ok
    assert "no ```python code block" in texts(server)[2]


def test_copies_are_rejected_by_review_and_repaired(server):
    server.push(DESCRIPTION, COPIES, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=1, **CFG)
    )
    assert result.ok
    repair = texts(server)[2]
    assert "ReviewRejected" in repair and "copies of training rows" in repair
    reviews = [e for e in result.transcript["events"] if e["kind"] == "review"]
    assert reviews[0]["ok"] is False and reviews[0]["scores"]["copy_fraction"] == 1.0
    assert reviews[1]["ok"] is True


def test_all_failures_give_no_program(server):
    server.push(DESCRIPTION, BROKEN, BROKEN, COPIES, COPIES)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=2, repairs=1, **CFG)
    )
    assert not result.ok and result.program is None
    assert [c.status for c in result.candidates] == ["failed", "failed"]
    assert "ProgramCrashError" in result.failure_summary()
    assert "ReviewRejected" in result.failure_summary()
    assert result.transcript["accepted"] is None
    assert len(server.requests) == 5


def test_best_candidate_wins(server):
    # the second candidate stays closer to normal rows: same hardness, but compare quality
    weak = answer(GOOD_CODE, policy="Huge jumps.", scale=25.0)
    strong = answer(GOOD_CODE, policy="Moderate moves.", scale=1.0)
    server.push(DESCRIPTION, weak, strong)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=2, repairs=0, **CFG)
    )
    a, b = result.candidates
    assert a.status in ("working", "accepted") and b.status in ("working", "accepted")
    best = max((a, b), key=lambda r: r.scores.quality)
    assert best.status == "accepted"
    assert result.program.policy == best.policy
    assert a.scores.hardness < b.scores.hardness  # huge jumps are easy anomalies


def test_rate_limit_during_generation_is_retried(server):
    server.push(DESCRIPTION, ScriptedReply.error(429, "slow down"), GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=0, **CFG)
    )
    assert result.ok
    assert len(server.requests) == 3
    call = [e for e in result.transcript["events"] if e.get("step") == "program"][0]
    assert call["attempts"] == 2


def test_auth_error_aborts_with_clear_message(server):
    server.push(ScriptedReply.error(401, "Incorrect API key provided"))
    with pytest.raises(LLMAuthError, match="401.*check the API key"):
        generate_program("KNN", openai(server), GenerationConfig(candidates=2, **CFG))
    assert len(server.requests) == 1


def test_a_provider_failure_mid_run_keeps_the_finished_candidates(server):
    # the key stops working after a program was accepted: the run ends, the program is kept
    server.push(DESCRIPTION, GOOD, ScriptedReply.error(401, "key revoked"))
    result = generate_program("KNN", openai(server), GenerationConfig(candidates=3, **CFG))
    assert result.ok and len(server.requests) == 3
    assert [c.status for c in result.candidates] == ["accepted", "llm_error"]
    assert "401" in result.stopped and result.transcript["stopped"] == result.stopped
    assert [e["kind"] for e in result.transcript["events"]].count("stopped") == 1
    assert "**run stopped early:** LLMAuthError: " in transcript_markdown(result.transcript)

    # with no working candidate by then, the result says why the run ended
    server.push(DESCRIPTION, ScriptedReply.error(401, "key revoked"))
    result = generate_program("KNN", openai(server), GenerationConfig(candidates=3, **CFG))
    assert not result.ok and len(result.candidates) == 1
    assert "stopped early: " in result.failure_summary() and "401" in result.failure_summary()

    # a failure before any call got through is still raised (no step 1 in the generic prompt)
    server.push(ScriptedReply.error(401, "Incorrect API key provided"))
    config = GenerationConfig(candidates=3, variant="generic", **CFG)
    with pytest.raises(LLMAuthError):
        generate_program("KNN", openai(server), config)


def interrupted_run(server, monkeypatch, config, calls: int) -> dict:
    """The transcript of a run that Ctrl-C ends when it asks for call ``calls + 1``."""
    provider = openai(server)
    complete = provider.complete
    before = len(server.requests)

    def interrupted(*args, **kwargs):
        if len(server.requests) - before == calls:
            raise KeyboardInterrupt
        return complete(*args, **kwargs)

    monkeypatch.setattr(provider, "complete", interrupted)
    with pytest.raises(GenerationInterrupted) as caught:
        generate_program("KNN", provider, config)
    return caught.value.transcript


def test_ctrl_c_carries_the_transcript_so_far(server, monkeypatch):
    server.push(DESCRIPTION, GOOD)
    config = GenerationConfig(candidates=2, repairs=0, **CFG)
    transcript = interrupted_run(server, monkeypatch, config, calls=2)
    assert [c["status"] for c in transcript["candidates"]] == ["working"]
    assert [e["kind"] for e in transcript["events"]].count("llm_call") == 2
    assert transcript["events"][-1]["kind"] == "interrupted"
    assert transcript["accepted"] is None
    assert "**interrupted** (Ctrl-C) after 1 candidate(s)" in transcript_markdown(transcript)


def test_resuming_an_interrupted_run_asks_only_for_the_calls_it_had_not_made(
    server, monkeypatch, tmp_path
):
    config = GenerationConfig(candidates=1, repairs=1, **CFG)
    server.push(DESCRIPTION, BROKEN, GOOD)
    reference = generate_program("KNN", openai(server), config).program
    server.push(DESCRIPTION, BROKEN)
    saved = tmp_path / "KNN-interrupted-transcript.json"
    saved.write_text(json.dumps(interrupted_run(server, monkeypatch, config, calls=2)))

    server.push(GOOD)  # the repair: the one call the interrupted run had not made
    before = len(server.requests)
    resuming = ResumingProvider(openai(server), saved)
    result = generate_program("KNN", resuming, config)
    assert len(server.requests) - before == 1
    assert (resuming.replayed, resuming.live_calls) == (2, 1)
    assert (result.program.source, result.program.name) == (reference.source, reference.name)
    assert result.program.provenance["model"] == "scripted"  # the live provider's own model
    assert [e["kind"] for e in result.transcript["events"]].count("llm_call") == 3  # all of them

    other = OpenAIProvider("other", base_url=server.url + "/v1", api_key=SECRET, retry=FAST)
    with pytest.raises(ValueError, match="recorded with openai/scripted, not openai/other"):
        ResumingProvider(other, saved)


def test_malformed_reply_drops_only_that_candidate(server):
    server.push(DESCRIPTION, ScriptedReply.body(b"{garbage"), GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=2, repairs=0, **CFG)
    )
    assert [c.status for c in result.candidates] == ["llm_error", "accepted"]
    assert "malformed" in result.candidates[0].error
    assert any(e["kind"] == "llm_error" for e in result.transcript["events"])


def test_llm_reviewer_critique_is_sent_back(server):
    server.push(
        DESCRIPTION,
        answer(GOOD_CODE, scale=3.0),
        "The noise is isotropic; it ignores the k-NN distance. VERDICT: revise",
        answer(GOOD_CODE, policy="Smaller moves.", scale=0.5),
        "Now the moves follow the data scale. VERDICT: accept",
    )
    config = GenerationConfig(candidates=1, repairs=1, llm_review=True, **CFG)
    result = generate_program("KNN", openai(server), config)
    assert result.ok
    sent = texts(server)
    assert "VERDICT" in sent[2] and "Critique the policy" in sent[2]  # reviewer prompt
    assert "ReviewerCritique" in sent[3] and "isotropic" in sent[3]  # critique -> repair
    assert result.candidates[0].repair_rounds == 1
    assert "Critique the policy" in sent[4] and "Smaller moves." in sent[4]  # re-reviewed
    assert len(sent) == 5
    assert result.program.policy == "Smaller moves."
    assert result.program.provenance["review"]["llm_verdict"] == "accept"
    verdicts = [e["verdict"] for e in result.transcript["events"] if e["kind"] == "llm_verdict"]
    assert verdicts == ["revise", "accept"]


@pytest.mark.parametrize("variant", ["generic", "random"])
def test_variants_without_step1(variant, server):
    server.push(GOOD)
    config = GenerationConfig(candidates=1, repairs=0, variant=variant, **CFG)
    result = generate_program("KNN", openai(server), config)
    assert result.ok and len(server.requests) == 1
    assert result.program.provenance["prompt_template"] == variant


def test_record_and_replay_reproduce_the_program(server, tmp_path):
    server.push(DESCRIPTION, BROKEN, GOOD)
    rec = RecordingProvider(openai(server), tmp_path / "calls.json")
    config = GenerationConfig(candidates=1, repairs=1, **CFG)
    first = generate_program("KNN", rec, config)
    replayed = generate_program("KNN", ReplayProvider(tmp_path / "calls.json"), config)
    assert replayed.program.source == first.program.source
    assert replayed.program.provenance["repair_rounds"] == 1
    assert len(server.requests) == 3
    assert SECRET not in (tmp_path / "calls.json").read_text()


def test_a_programs_generation_transcript_replays_its_generation(server, tmp_path):
    server.push(DESCRIPTION, BROKEN, GOOD)
    config = GenerationConfig(candidates=1, repairs=1, **CFG)
    first = generate_program("KNN", openai(server), config)
    saved = tmp_path / "generation.json"
    saved.write_text(json.dumps(first.transcript))
    replay = ReplayProvider(saved)
    assert replay.describe()["provider"] == "replay:openai"
    replayed = generate_program("KNN", replay, config)
    assert replayed.program.source == first.program.source
    assert replayed.program.provenance["repair_rounds"] == 1
    assert len(server.requests) == 3  # the replay sent nothing
    with pytest.raises(LLMResponseError, match="not in transcript"):  # every call used up
        replay.complete(first.transcript["events"][0]["messages"], temperature=0.0, max_tokens=4096)


# ------------------------------------------------------------------ parsing and review
def test_parse_answer_tolerates_prose_and_markdown():
    text = (
        "Sure! Let me think.\n\n**POLICY:** Swap features between seeds.\n\n"
        "### PROGRAM\n```bash\npip install numpy\n```\n"
        "```python\nimport numpy as np\n\ndef helper(x):\n    return x\n```\n"
        "```python\ndef generate_hard_anomalies(n_samples, model, X_train):\n    return X_train\n```\n"
        "**EXPLANATION:** Marginals are kept.\nHope this helps!"
    )
    parsed = parse_answer(text)
    assert parsed.code.startswith("def generate_hard_anomalies")
    assert parsed.has_entry_point
    assert parsed.policy == "Swap features between seeds."
    assert parsed.explanation.startswith("Marginals are kept.")

    bare = (
        "def generate_hard_anomalies(n_samples, model, X_train):\n    return X_train[:n_samples]\n"
    )
    assert parse_answer(bare).code == bare
    assert parse_answer("no code here").code == ""
    untagged = parse_answer("Policy: p\n```\n" + bare + "```")
    assert untagged.code == bare and untagged.policy == "p"


def test_normalize_source_makes_the_prescribed_signature_runnable(server):
    sig = "def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray:\n"
    body = "    import numpy as np\n    return np.asarray(X_train)[:n_samples] * 1.5 + 0.1\n"
    code, note = normalize_source(sig + body)
    assert code.startswith("from __future__ import annotations") and "annotations" in note
    assert normalize_source(code) == (code, "")  # idempotent
    plain = "def generate_hard_anomalies(n_samples, model, X_train):\n" + body
    assert normalize_source(plain) == (plain, "")
    # end to end: the literal signature from the prompt is accepted
    server.push(DESCRIPTION, f"POLICY: scale.\n```python\n{sig + body}```\nEXPLANATION: e.")
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=0, **CFG)
    )
    assert result.ok, result.failure_summary()
    assert any(e["kind"] == "normalize" for e in result.transcript["events"])


def test_transcript_markdown_renders_every_step(server):
    server.push(DESCRIPTION, BROKEN, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=1, **CFG)
    )
    text = transcript_markdown(result.transcript)
    for needle in (
        "LLM call: description",
        "LLM call: program",
        "LLM call: repair",
        "ProgramCrashError",
        "review (candidate 0, round 1): passed",
        "Decision: accepted candidate 0",
        DESCRIPTION,
    ):
        assert needle in text, needle


def test_review_output_measures():
    X = make_probe_data(64, seed=1)
    train_scores = np.linalg.norm(X - X.mean(0), axis=1)
    rng = np.random.default_rng(0)
    near = X[:16] + rng.normal(scale=0.3, size=(16, X.shape[1]))
    s = review_output(near, X, train_scores, np.zeros(16), n_samples=16)
    assert s.ok and s.valid and s.hardness == 1.0 and s.copy_fraction == 0.0
    assert s.novelty > 0.05 and s.quality > 0
    copies = review_output(X[:16], X, train_scores, train_scores[:16], n_samples=16)
    assert not copies.ok and copies.copy_fraction == 1.0
    same = review_output(np.ones((16, X.shape[1])) * 9, X, train_scores, np.zeros(16), n_samples=16)
    assert not same.valid and "identical" in same.problems[0]
    easy = review_output(near, X, train_scores, np.full(16, 1e9), n_samples=16)
    assert easy.hardness == 0.0 and easy.mean_score_percentile == 100.0
    wrong = review_output(near[:, :3], X, train_scores, np.zeros(16), n_samples=16)
    assert not wrong.ok and "shape" in wrong.problems[0]


def test_probe_data_is_ours_and_seeded():
    a, b = make_probe_data(50, seed=3), make_probe_data(50, seed=3)
    assert np.array_equal(a, b) and a.shape == (50, 7)
    assert np.ptp(a[:, -1]) == 0.0  # a constant column
    assert abs(np.corrcoef(a[:, 0], a[:, 3])[0, 1]) > 0.8  # correlated features


# ------------------------------------------------------------------ store and CLI
def test_store_save_and_validate(server, tmp_path):
    server.push(DESCRIPTION, GOOD)
    result = generate_program(
        "KNN", openai(server), GenerationConfig(candidates=1, repairs=0, **CFG)
    )
    path = save_generated(tmp_path, result.program, result.transcript)
    assert path == tmp_path / "KNN" / f"{result.program.name}.py"
    assert json.loads(path.with_suffix(".json").read_text())["detector"] == "KNN"
    bad_dir = tmp_path / "PCA"
    bad_dir.mkdir()
    (bad_dir / "syntax.py").write_text(
        SynthesisProgram(
            source="def generate_hard_anomalies(:\n", detector="PCA", name="s"
        ).to_text()
    )
    (bad_dir / "hostile.py").write_text(
        SynthesisProgram(
            source=HOSTILE.split("```python\n")[1].split("```")[0], detector="PCA", name="h"
        ).to_text()
    )
    (bad_dir / "nometa.py").write_text("def generate_hard_anomalies(n, m, X):\n    return X\n")
    checks = {
        p.name: (ok, msg) for p, ok, msg in validate_store(tmp_path, probe_rows=64, n_samples=16)
    }
    assert checks[path.name][0] is True and "KNN" in checks[path.name][1]
    assert checks["syntax.py"] == (False, checks["syntax.py"][1])
    assert "syntax" in checks["syntax.py"][1]
    # Errors name the line of the file, which begins with the metadata block.
    syntax_line = (
        (bad_dir / "syntax.py").read_text().splitlines().index("def generate_hard_anomalies(:")
    )
    assert f"at line {syntax_line + 1}:" in checks["syntax.py"][1]
    assert checks["hostile.py"][0] is False and "forbidden" in checks["hostile.py"][1]
    assert checks["nometa.py"][0] is False and "metadata" in checks["nometa.py"][1]
    # One file, e.g. a program written by hand, is checked on its own.
    (single,) = validate_store(bad_dir / "hostile.py", probe_rows=64, n_samples=16)
    assert single.path == bad_dir / "hostile.py" and single.message == checks["hostile.py"][1]


def test_cli_validate_times_a_hanging_program_out_at_its_own_timeout(tmp_path):
    from llmdas.cli import app

    path = tmp_path / "hang.py"
    source = (
        "def generate_hard_anomalies(n_samples, model, X_train):\n    while True:\n        pass\n"
    )
    path.write_text(SynthesisProgram(source=source, detector="PCA", name="hang").to_text())
    result = CliRunner().invoke(app, ["programs", "validate", str(path), "--timeout", "1"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert "timed out after 1 s" in output and "--timeout of llmdas programs validate" in output
    assert "--program-timeout" not in output  # enhance's option does not set this limit
    result = CliRunner().invoke(app, ["programs", "validate", str(path), "--timeout", "0"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "--timeout must be a finite number of seconds > 0" in output


def _cli_app():
    app = typer.Typer()
    app.command("generate")(generate)
    programs = typer.Typer()
    programs.command("validate")(programs_validate)
    app.add_typer(programs, name="programs")
    return app


def test_cli_generate_and_validate_end_to_end(server, tmp_path, monkeypatch):
    import llmdas.llm

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.push(DESCRIPTION, BROKEN, GOOD)
    made, real_make = [], llmdas.llm.make_provider

    def make_and_keep(*args, **kwargs):
        made.append(real_make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(llmdas.llm, "make_provider", make_and_keep)
    app, runner = _cli_app(), CliRunner()
    out = tmp_path / "store"
    result = runner.invoke(
        app,
        [
            "generate", "--detector", "knn", "--provider", "openai", "--model", "scripted",
            "--base-url", server.url + "/v1", "--candidates", "1", "--repairs", "1",
            "--out", str(out), "--temperature", "0.2", "--seed", "3", "--max-tokens", "777",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    files = sorted((out / "KNN").glob("*.py"))
    assert len(files) == 1
    program = SynthesisProgram.from_file(files[0])
    assert program.detector == "KNN" and program.provenance["repair_rounds"] == 1
    assert program.provenance["temperature"] == 0.2
    transcript = files[0].with_suffix(".json").read_text()
    assert SECRET not in transcript and SECRET not in files[0].read_text()
    assert SECRET not in result.output
    assert server.requests[1].body["temperature"] == 0.2
    assert [r.body["max_tokens"] for r in server.requests] == [777] * 3
    assert made[0]._client.is_closed()  # the SDK client's connections, when it is done

    validated = runner.invoke(app, ["programs", "validate", str(out)])
    assert validated.exit_code == 0, validated.output
    assert "yes" in validated.output


def test_cli_generate_keeps_the_transcript_of_a_failed_generation(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.push(DESCRIPTION, BROKEN)
    app, runner = _cli_app(), CliRunner()
    out = tmp_path / "store"
    result = runner.invoke(
        app,
        ["generate", "--detector", "KNN", "--model", "scripted", "--base-url", server.url + "/v1",
         "--candidates", "1", "--repairs", "0", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1
    failed = out / "KNN-failed-transcript.json"
    assert str(failed) in "".join(result.output.split())  # rich wraps long paths anywhere
    transcript = json.loads(failed.read_text(encoding="utf-8"))
    assert transcript["detector"] == "KNN" and SECRET not in failed.read_text()
    assert [p.name for p in out.iterdir()] == [failed.name]  # whole, with no temporary file


def test_cli_generate_keeps_what_a_stopped_or_interrupted_run_did(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.push(DESCRIPTION, GOOD, ScriptedReply.error(401, "key revoked"))
    app, runner = _cli_app(), CliRunner()
    out = tmp_path / "store"
    args = ["generate", "--detector", "KNN", "--model", "scripted", "--base-url",
            server.url + "/v1", "--candidates", "3", "--repairs", "0", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    message = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "warning: the run stopped at candidate 2 of 3" in message and "401" in message
    assert len(list((out / "KNN").glob("*.py"))) == 1

    import llmdas.generate

    def interrupted(*args, **kwargs):
        raise GenerationInterrupted({"events": [{"kind": "interrupted"}]})

    monkeypatch.setattr(llmdas.generate, "generate_program", interrupted)
    result = runner.invoke(app, args)
    saved = out / "KNN-interrupted-transcript.json"
    assert result.exit_code == 130 and str(saved) in "".join(result.output.split())
    assert json.loads(saved.read_text())["events"] == [{"kind": "interrupted"}]


def test_cli_generate_resumes_an_interrupted_run(server, tmp_path, monkeypatch):
    config = GenerationConfig(candidates=1, repairs=1, **{**CFG, "temperature": 0.5})
    server.push(DESCRIPTION, BROKEN)
    saved = tmp_path / "KNN-interrupted-transcript.json"
    saved.write_text(json.dumps(interrupted_run(server, monkeypatch, config, calls=2)))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    app, runner = _cli_app(), CliRunner()
    args = ["generate", "--detector", "KNN", "--model", "scripted", "--base-url",
            server.url + "/v1", "--candidates", "1", "--repairs", "1", "--resume", str(saved),
            "--out", str(tmp_path / "store")]  # fmt: skip
    server.push(GOOD)
    before = len(server.requests)
    result = runner.invoke(app, [*args, "--temperature", "0.5"])
    assert result.exit_code == 0, result.output
    assert f"LLM calls: 3 (2 answered from {saved})" in "".join(result.output.split("\n"))
    assert len(server.requests) - before == 1
    assert len(list((tmp_path / "store" / "KNN").glob("*.py"))) == 1

    # Other settings make other prompts: nothing is answered from the transcript, and it says so.
    server.push(DESCRIPTION, GOOD)
    result = runner.invoke(app, [*args, "--temperature", "0.9"])
    assert result.exit_code == 0, result.output
    assert "warning: no call of this run was in" in " ".join(result.output.split())

    for extra, message in (
        (["--provider", "replay"], "--resume goes on with a live provider"),
        (["--resume", str(tmp_path / "none.json")], "resume: cannot read transcript"),
        (["--model", "other"], "recorded with openai/scripted, not openai/other"),
    ):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 1 and message in " ".join(result.output.split())


def test_cli_record_then_replay(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.push(DESCRIPTION, GOOD)
    app, runner = _cli_app(), CliRunner()
    rec = tmp_path / "calls.json"
    common = ["--candidates", "1", "--repairs", "0", "--temperature", "0.5"]
    first = runner.invoke(
        app,
        ["generate", "--detector", "KNN", "--model", "scripted", "--base-url", server.url + "/v1",
         "--record", str(rec), "--out", str(tmp_path / "a"), *common],
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert SECRET not in rec.read_text()
    second = runner.invoke(
        app,
        ["generate", "--detector", "KNN", "--provider", "replay", "--base-url", str(rec),
         "--out", str(tmp_path / "b"), *common],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    (a,) = (tmp_path / "a" / "KNN").glob("*.py")
    (b,) = (tmp_path / "b" / "KNN").glob("*.py")
    assert a.name == b.name  # same source hash
    assert SynthesisProgram.from_file(b).provenance["provider"] == "replay:openai"
    assert len(server.requests) == 2


def test_cli_errors_are_one_line_exit_1(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.push(ScriptedReply.error(401, "Incorrect API key provided"))
    app, runner = _cli_app(), CliRunner()
    args = [
        "generate",
        "--detector",
        "KNN",
        "--model",
        "m",
        "--base-url",
        server.url + "/v1",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert any("401" in line and "API key" in line for line in lines)
    assert SECRET not in result.output

    result = runner.invoke(
        app, ["generate", "--detector", "KNN", "--provider", "nope", "--model", "m"]
    )
    assert result.exit_code == 1 and "unknown provider" in " ".join(result.output.split())

    # Mistakes that the end of a generation would hit are refused before any LLM call.
    calls_before = len(server.requests)
    afile = tmp_path / "afile"
    afile.touch()
    for options, message in (
        (["--detector", "FOO"], "unknown detector 'FOO'"),
        (["--detector", "KNN", "--out", str(afile)], "is a file; name a program store"),
        (["--detector", "KNN", "--out", str(afile / "sub")], f"cannot be written: {afile} is a"),
        (["--detector", "KNN", "--record", str(tmp_path)], "is a directory; name a file"),
        (["--detector", "KNN", "--temperature", "-1"], "--temperature must be None or a finite"),
        (["--detector", "KNN", "--temperature", "nan"], "--temperature must be None or a finite"),
        *(  # Linux: a folder where no one, root included, makes files
            [(["--detector", "KNN", "--out", "/proc/p"], "nothing can be created in /proc")]
            if Path("/proc/self").is_dir()
            else []
        ),
    ):
        result = runner.invoke(
            app, ["generate", "--model", "m", "--base-url", server.url + "/v1", *options]
        )
        assert result.exit_code == 1 and message in " ".join(result.output.split())
    result = runner.invoke(
        app, ["generate", "--detector", "KNN", "--model", "m", "--timeout", "nan"]
    )
    assert result.exit_code == 2, result.output  # a usage error, as programs validate's
    assert "--timeout must be a finite number of seconds > 0" in " ".join(result.output.split())
    assert len(server.requests) == calls_before
    transcript = tmp_path / "rec.json"
    transcript.write_text("{}")
    replay = [
        "generate",
        "--detector",
        "KNN",
        "--provider",
        "replay",
        "--base-url",
        str(transcript),
    ]
    result = runner.invoke(app, [*replay, "--record", str(transcript)])
    assert "is also the --base-url file" in " ".join(result.output.split())
    assert transcript.read_text() == "{}"

    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["programs", "validate", str(empty)])
    assert result.exit_code == 1 and "no program files" in " ".join(result.output.split())
    result = runner.invoke(app, ["programs", "validate", str(tmp_path / "missing.py")])
    assert result.exit_code == 1 and "no program store or program file" in " ".join(
        result.output.split()
    )
