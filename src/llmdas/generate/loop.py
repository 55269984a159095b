"""The generate - check - run - repair - review loop for one detector."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from llmdas.generate.answers import ParsedAnswer, normalize_source, parse_answer
from llmdas.generate.probe import fit_probe_detector, make_probe_data
from llmdas.generate.review import ReviewScores, parse_verdict, review_output
from llmdas.llm.base import Completion, LLMError, LLMProvider, Message, check_sampling
from llmdas.llm.replay import GENERATION_TRANSCRIPT_FORMAT as TRANSCRIPT_FORMAT
from llmdas.program import ENTRY_POINT, SynthesisProgram
from llmdas.prompting import PromptPlan, build_prompts, repair_message, review_messages

logger = logging.getLogger("llmdas.generate")


class GenerationError(RuntimeError):
    """Generation could not start or was aborted (one-line message)."""


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a generation; ``transcript`` holds the calls made until then."""

    def __init__(self, transcript: dict[str, Any]) -> None:
        super().__init__("generation interrupted")
        self.transcript = transcript


@dataclass
class GenerationConfig:
    """Knobs of :func:`generate_program`."""

    candidates: int = 3
    repairs: int = 2
    variant: str = "default"
    temperature: float | None = 0.7
    max_tokens: int = 4096
    seed: int = 0
    probe_rows: int = 256
    probe_samples: int = 64
    timeout_s: float = 60.0
    memory_mb: int = 2048
    llm_review: bool = False
    max_copy_fraction: float = 0.5
    min_novelty: float = 0.05

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError("candidates must be >= 1")
        if self.repairs < 0:
            raise ValueError("repairs must be >= 0")
        if self.probe_samples < 2:
            raise ValueError("probe_samples must be >= 2")
        if not 0 <= self.seed < 2**32:  # numpy's own error says only "expected non-negative"
            raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {self.seed!r}")
        # The review's thresholds are used only once a program has run, after calls were paid for.
        if not 0 <= self.max_copy_fraction <= 1:
            raise ValueError(
                f"max_copy_fraction must be a share in [0, 1], got {self.max_copy_fraction!r}"
            )
        if not (math.isfinite(self.min_novelty) and self.min_novelty >= 0):
            raise ValueError(f"min_novelty must be a finite number >= 0, got {self.min_novelty!r}")
        check_sampling(self.temperature, self.max_tokens)


@dataclass
class CandidateReport:
    """What happened to one candidate."""

    index: int
    status: str = "pending"  # "working", "failed", "accepted", "llm_error"
    repair_rounds: int = 0
    error: str = ""
    scores: ReviewScores | None = None
    source: str = ""
    policy: str = ""
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "repair_rounds": self.repair_rounds,
            "error": self.error,
            "scores": self.scores.to_dict() if self.scores else None,
            "program_sha256": _sha(self.source) if self.source else "",
        }


@dataclass
class GenerationResult:
    """Outcome of :func:`generate_program`. ``program`` is ``None`` when no candidate worked."""

    detector: str
    program: SynthesisProgram | None
    candidates: list[CandidateReport]
    transcript: dict[str, Any]
    usage: dict[str, int]
    #: The provider error that ended the run before all candidates were drawn ("": none).
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return self.program is not None

    @property
    def accepted(self) -> CandidateReport | None:
        return next((c for c in self.candidates if c.status == "accepted"), None)

    def failure_summary(self) -> str:
        reasons = "; ".join(f"candidate {c.index}: {c.error}" for c in self.candidates if c.error)
        stopped = f"; stopped early: {self.stopped}" if self.stopped else ""
        return f"no working program for {self.detector} ({reasons or 'no candidate'}){stopped}"


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class _Session:
    """State of one generation run: provider, probe, transcript, token usage."""

    def __init__(self, detector: str, provider: LLMProvider, config: GenerationConfig) -> None:
        from llmdas.sandbox import SandboxLimits

        self.provider = provider
        self.config = config
        self.plan: PromptPlan = build_prompts(detector, config.variant)
        self.detector = self.plan.detector
        self.limits = SandboxLimits(
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            timeout_setting="GenerationConfig's timeout_s",
        )
        self.X_probe = make_probe_data(config.probe_rows, seed=config.seed)
        try:
            _, self.score_fn = fit_probe_detector(self.detector, self.X_probe, config.seed)
        except ValueError as exc:
            raise GenerationError(str(exc)) from None
        self.train_scores = self.score_fn(self.X_probe)
        self.usage = {"input_tokens": 0, "output_tokens": 0, "calls": 0}
        self.events: list[dict[str, Any]] = []
        self.started = _now()
        #: A provider error no further call would get past (bad key, server gone): the run ends.
        self.stopped: LLMError | None = None

    # ---------------------------------------------------------------- recording
    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        record = {"seq": len(self.events), "kind": kind, **data}
        self.events.append(record)
        return record

    def ask(
        self, step: str, messages: list[Message], candidate: int | None, round_: int
    ) -> Completion:
        logger.info(
            "%s: %s call (candidate %s, round %d) to %s/%s",
            self.detector,
            step,
            "-" if candidate is None else candidate,
            round_,
            self.provider.name,
            self.provider.model,
        )
        try:
            completion = self.provider.complete(
                messages, temperature=self.config.temperature, max_tokens=self.config.max_tokens
            )
        except LLMError as exc:
            self.event(
                "llm_error",
                step=step,
                candidate=candidate,
                round=round_,
                messages=messages,
                error={"type": type(exc).__name__, "message": str(exc)},
            )
            raise
        self.usage["input_tokens"] += completion.usage.get("input_tokens", 0)
        self.usage["output_tokens"] += completion.usage.get("output_tokens", 0)
        self.usage["calls"] += 1
        self.event(
            "llm_call",
            step=step,
            candidate=candidate,
            round=round_,
            messages=messages,
            reply=completion.text,
            usage=completion.usage,
            model=completion.model,
            raw_id=completion.raw_id,
            attempts=completion.attempts,
            finish_reason=completion.finish_reason,
        )
        if completion.truncated:
            logger.warning(
                "%s: the %s answer stopped at the token limit (max_tokens %d), so it may be "
                "cut short",
                self.detector,
                step,
                self.config.max_tokens,
            )
        return completion

    # ---------------------------------------------------------------- testing a program
    def test(self, answer: ParsedAnswer, candidate: int, round_: int) -> tuple[str, str, str]:
        """Check, run and review; return ``(error_kind, message, traceback)`` or ``("", ...)``.

        On success the review scores are stored in ``self.last_scores``.
        """
        from llmdas.sandbox import ProgramCrashError, ProgramError, check_source, run_program

        self.last_scores: ReviewScores | None = None
        missing = ""
        if not answer.code:
            missing = f"the answer holds no ```python code block defining {ENTRY_POINT}"
        elif not answer.has_entry_point:
            missing = (
                f"the code does not define the required function {ENTRY_POINT}"
                "(n_samples: int, model, X_train: np.ndarray) at top level"
            )
        where = {"candidate": candidate, "round": round_}
        if missing:
            return self._failed("check", where, "", "NoProgramFound", missing, stage="extract")
        try:
            check_source(answer.code)
        except ProgramError as exc:
            kind, message = type(exc).__name__, str(exc)
            return self._failed(
                "check", where, "static check failed: ", kind, message, stage="static"
            )
        self.event("check", candidate=candidate, round=round_, stage="static", ok=True)
        try:
            result = run_program(
                answer.code,
                self.score_fn,
                self.X_probe,
                self.config.probe_samples,
                seed=self.config.seed,
                limits=self.limits,
            )
        except ProgramError as exc:
            tb = exc.traceback if isinstance(exc, ProgramCrashError) else ""
            return self._failed("run", where, "run failed: ", type(exc).__name__, str(exc), tb)
        self.event(
            "run",
            candidate=candidate,
            round=round_,
            ok=True,
            rows=int(result.X.shape[0]),
            n_score_calls=result.n_score_calls,
            elapsed_s=round(result.elapsed_s, 3),
        )
        scores = review_output(
            result.X,
            self.X_probe,
            self.train_scores,
            self.score_fn(result.X),
            n_samples=self.config.probe_samples,
            max_copy_fraction=self.config.max_copy_fraction,
            min_novelty=self.config.min_novelty,
        )
        scores.n_score_calls = result.n_score_calls
        scores.elapsed_s = round(result.elapsed_s, 3)
        self.event(
            "review", candidate=candidate, round=round_, ok=scores.ok, scores=scores.to_dict()
        )
        logger.info(
            "%s: candidate %d round %d: %s", self.detector, candidate, round_, scores.summary()
        )
        if not scores.ok:
            return "ReviewRejected", "; ".join(scores.problems) + f" ({scores.summary()})", ""
        self.last_scores = scores
        return "", "", ""

    def _failed(
        self,
        event: str,
        where: dict[str, int],
        what: str,
        kind: str,
        message: str,
        traceback: str | None = None,
        **fields: Any,
    ) -> tuple[str, str, str]:
        """Log and record a failed check or run of a candidate (``where``), and return what
        :meth:`test` returns for it; a run's error keeps its traceback, even an empty one."""
        logger.info(
            "%s: candidate %d round %d: %s%s", self.detector, *where.values(), what, message
        )
        error = {"type": kind, "message": message}
        if traceback is not None:
            error["traceback"] = traceback
        self.event(event, **where, **fields, ok=False, error=error)
        return kind, message, traceback or ""

    # ---------------------------------------------------------------- one candidate
    def run_candidate(self, index: int, description: str | None) -> CandidateReport:
        report = CandidateReport(index=index)
        messages = self.plan.step2_messages(description)
        try:
            completion = self.ask("program", messages, index, 0)
        except LLMError as exc:
            self.stop_if_fatal(exc)
            report.status, report.error = "llm_error", str(exc)
            return report
        round_ = 0
        best: tuple[ParsedAnswer, ReviewScores, int] | None = None
        while True:
            reply = completion.text
            answer = parse_answer(reply)
            code, note = normalize_source(answer.code)
            if note:
                answer = ParsedAnswer(code, answer.policy, answer.explanation)
                self.event("normalize", candidate=index, round=round_, note=note)
            kind, message, tb = self.test(answer, index, round_)
            if kind and completion.truncated:  # the likely cause, for the LLM and the user
                message = (
                    f"the answer stopped at the token limit of {self.config.max_tokens} tokens "
                    f"and may be cut short (answer more briefly); {message}"
                )
            if not kind and self.last_scores is not None:
                scores = self.last_scores
                if self.config.llm_review:
                    critique = self.llm_review(answer, scores, index, round_)
                    if scores.verdict == "revise" and round_ < self.config.repairs:
                        kind, message = "ReviewerCritique", critique
                if best is None or _rank(scores) >= _rank(best[1]):
                    best = (answer, scores, round_)
                if not kind:
                    break
            report.error = f"{kind}: {message}"
            if round_ >= self.config.repairs:
                break
            round_ += 1
            messages = [
                *messages,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": repair_message(answer.code, kind, message, tb)},
            ]
            self.event("repair", candidate=index, round=round_, error_kind=kind, message=message)
            logger.info(
                "%s: candidate %d: repair round %d after %s", self.detector, index, round_, kind
            )
            try:
                completion = self.ask("repair", messages, index, round_)
            except LLMError as exc:
                self.stop_if_fatal(exc)
                report.error = str(exc)
                break
        report.repair_rounds = round_
        if best is None:
            report.status = "failed"
            logger.warning("%s: candidate %d dropped: %s", self.detector, index, report.error)
            return report
        answer, scores, report.repair_rounds = best  # rounds that led to the kept version
        report.status, report.error, report.scores = "working", "", scores
        report.source, report.policy, report.explanation = (
            answer.code,
            answer.policy,
            answer.explanation,
        )
        return report

    def stop_if_fatal(self, exc: LLMError) -> None:
        """End the run after ``exc`` when no other call would get past it; the candidates
        finished so far still decide, so that the calls already paid for are not lost."""
        if _fatal(exc):
            self.stopped = exc
            self.event("stopped", error={"type": type(exc).__name__, "message": str(exc)})
            logger.warning("%s: stopping early: %s", self.detector, exc)

    def llm_review(
        self, answer: ParsedAnswer, scores: ReviewScores, index: int, round_: int
    ) -> str:
        messages = review_messages(self.detector, answer.policy, answer.code, scores.summary())
        try:
            text = self.ask("llm_review", messages, index, round_).text
        except LLMError as exc:
            self.stop_if_fatal(exc)
            scores.verdict, scores.critique = "unknown", f"(review failed: {exc})"
            return scores.critique
        scores.verdict = parse_verdict(text)
        scores.critique = " ".join(text.split())[:2000]
        self.event("llm_verdict", candidate=index, round=round_, verdict=scores.verdict)
        return text


def _rank(scores: ReviewScores) -> tuple[bool, float, float]:
    """Ranking key of working candidates: not rejected by the LLM reviewer, quality, hardness."""
    return (scores.verdict != "revise", scores.quality, scores.hardness)


def _fatal(exc: LLMError) -> bool:
    """Errors that no other candidate would escape: bad key, unreachable server, bad request."""
    from llmdas.llm.base import LLMAuthError, LLMConnectionError, LLMRequestError

    return isinstance(exc, (LLMAuthError, LLMConnectionError, LLMRequestError))


def generate_program(
    detector: str,
    provider: LLMProvider,
    config: GenerationConfig | None = None,
    *,
    name: str | None = None,
) -> GenerationResult:
    """Run the Stage-1 loop for ``detector`` and return the best working program, if any.

    Raises :class:`~llmdas.llm.base.LLMError` when step 1 fails, or when the provider fails
    before any call got through in a way that no retry or other candidate can fix (key refused,
    server unreachable). Such a failure later ends the run early: the candidates finished by then
    decide, and ``stopped`` says why. Ctrl-C raises :class:`GenerationInterrupted`, which carries
    the transcript of the calls made so far.
    """
    config = config or GenerationConfig()
    session = _Session(detector, provider, config)
    plan = session.plan
    logger.info(
        "%s: generating with %s/%s, variant %s, %d candidate(s), %d repair round(s)",
        session.detector,
        provider.name,
        provider.model,
        plan.variant,
        config.candidates,
        config.repairs,
    )
    description = None
    step1 = plan.step1_messages()
    if step1 is not None:
        description = session.ask("description", step1, None, 0).text

    reports: list[CandidateReport] = []
    try:
        for index in range(config.candidates):
            if session.stopped is not None:
                break
            reports.append(session.run_candidate(index, description))
    except KeyboardInterrupt:
        session.event("interrupted", candidates_finished=len(reports))
        raise GenerationInterrupted(_transcript(session, reports, None)) from None
    if session.stopped is not None and session.usage["calls"] == 0:
        raise session.stopped  # nothing got through: a wrong key or address, not a lost run
    working = [(r, r.scores) for r in reports if r.status == "working" and r.scores is not None]
    program = None
    chosen = None
    if working:
        chosen, scores = max(working, key=lambda pair: (*_rank(pair[1]), -pair[0].index))
        chosen.status = "accepted"
        program = _make_program(session, chosen, name)
        session.event(
            "decision",
            accepted_candidate=chosen.index,
            reason=f"best quality among {len(working)} working candidate(s): {scores.summary()}",
            program_sha256=program.sha256,
        )
        logger.info("%s: accepted candidate %d (%s)", session.detector, chosen.index, program.name)
    else:
        session.event("decision", accepted_candidate=None, reason="no working candidate")
        logger.warning("%s: no working candidate", session.detector)

    return GenerationResult(
        detector=session.detector,
        program=program,
        candidates=reports,
        transcript=_transcript(session, reports, program),
        usage=dict(session.usage),
        stopped="" if session.stopped is None else str(session.stopped),
    )


def _transcript(
    session: _Session, reports: list[CandidateReport], program: SynthesisProgram | None
) -> dict[str, Any]:
    """Everything a run did: settings, probe, every event, the candidates and the decision."""
    plan, config = session.plan, session.config
    return {
        "format": TRANSCRIPT_FORMAT,
        "version": 1,
        "detector": session.detector,
        "variant": plan.variant,
        "prompt_template": plan.variant,
        "prompt_version": plan.version,
        "prompt_sha256": plan.sha256,
        "llm": session.provider.describe(),
        "started": session.started,
        "finished": _now(),
        "config": asdict(config),
        "probe": {
            "kind": "llmdas gaussian mixture (make_probe_data); no user data",
            "rows": int(session.X_probe.shape[0]),
            "columns": int(session.X_probe.shape[1]),
            "seed": config.seed,
        },
        "events": session.events,
        "candidates": [r.to_dict() for r in reports],
        "accepted": None if program is None else {"name": program.name, "sha256": program.sha256},
        "stopped": None if session.stopped is None else str(session.stopped),
        "usage": dict(session.usage),
    }


def _make_program(session: _Session, report: CandidateReport, name: str | None) -> SynthesisProgram:
    scores = report.scores
    assert scores is not None
    described = session.provider.describe()
    source_sha = _sha(report.source)
    provenance: dict[str, Any] = {
        "generator": "llm",
        "author": f"{described['provider']}:{described['model']}",
        "provider": described["provider"],
        "model": described["model"],
        "base_url_host": described.get("base_url_host", "") or "default",
        "prompt_template": session.plan.variant,
        "prompt_version": session.plan.version,
        "prompt_sha256": session.plan.sha256,
        "created": _now(),
        "candidate": report.index,
        "candidates": session.config.candidates,
        "repair_rounds": report.repair_rounds,
        "review": {
            "hardness": round(scores.hardness, 4),
            "mean_score_percentile": round(scores.mean_score_percentile, 2),
            "novelty": round(scores.novelty, 4),
            "copy_fraction": round(scores.copy_fraction, 4),
            "unique_fraction": round(scores.unique_fraction, 4),
            "quality": round(scores.quality, 4),
            "llm_verdict": scores.verdict or "not requested",
            "probe": f"make_probe_data(n_rows={session.config.probe_rows}, seed={session.config.seed})",
        },
        "usage": {
            "input_tokens": session.usage["input_tokens"],
            "output_tokens": session.usage["output_tokens"],
            "calls": session.usage["calls"],
        },
    }
    if session.config.temperature is not None:  # TOML has no null: leave the key out
        provenance["temperature"] = session.config.temperature
    return SynthesisProgram(
        source=report.source,
        detector=session.detector,
        name=name or f"{session.detector.lower()}-llm-{source_sha[:8]}",
        policy=report.policy,
        explanation=report.explanation,
        provenance=provenance,
    )
