"""Stage 1 of LLM-DAS: ask an LLM for a synthesis program, test it, repair it, review it.

For one detector the loop is::

    step 1   describe the detector and write its pseudo-code          (one LLM call, shared)
    for each of N candidates:
      step 2   write generate_hard_anomalies(...)                      (LLM call)
      extract  the ```python block (prose around it is tolerated)
      check    static check of the source                             (llmdas.sandbox)
      run      in the sandbox, on llmdas's own probe data, against the detector fitted on it
      review   validity, hardness, novelty (+ optional LLM reviewer)
      on any failure: send error + traceback + code back (repair prompt), at most K rounds
    keep the best working candidate -> SynthesisProgram + full transcript

The LLM never sees any data, and neither does the program during generation: the probe data set
is made here (:func:`make_probe_data`, a seeded Gaussian mixture with correlated, skewed and
constant features), never taken from the user. Every step is logged on ``llmdas.generate`` and
recorded in the transcript.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from llmdas.llm.base import Completion, LLMError, LLMProvider, Message
from llmdas.program import ENTRY_POINT, SynthesisProgram
from llmdas.prompting import PromptPlan, build_prompts, repair_message, review_messages

__all__ = [
    "TRANSCRIPT_FORMAT",
    "CandidateReport",
    "GenerationConfig",
    "GenerationError",
    "GenerationResult",
    "ParsedAnswer",
    "ReviewScores",
    "fit_probe_detector",
    "generate_program",
    "make_probe_data",
    "normalize_source",
    "parse_answer",
    "review_output",
    "transcript_markdown",
]

logger = logging.getLogger("llmdas.generate")

TRANSCRIPT_FORMAT = "llmdas-generation-transcript"


class GenerationError(RuntimeError):
    """Generation could not start or was aborted (one-line message)."""


# --------------------------------------------------------------------------- probe data
def make_probe_data(n_rows: int = 256, seed: int = 0) -> np.ndarray:
    """llmdas's own probe data set: never the user's data.

    Seven features: a two-component Gaussian mixture in three latent dimensions, two features
    that are noisy linear combinations of those (correlations a program can break), one skewed
    (log-normal) feature and one constant column (programs must survive zero variance).
    """
    if n_rows < 16:
        raise ValueError("the probe data set needs at least 16 rows")
    rng = np.random.default_rng(seed)
    component = rng.random(n_rows) < 0.6
    centres = np.where(component[:, None], [0.0, 0.0, 0.0], [3.0, -2.0, 1.0])
    latent = centres + rng.normal(size=(n_rows, 3)) * [1.0, 0.7, 0.5]
    corr1 = 0.8 * latent[:, 0] + 0.2 * rng.normal(size=n_rows)
    corr2 = -0.6 * latent[:, 1] + 0.5 * latent[:, 2] + 0.2 * rng.normal(size=n_rows)
    skewed = rng.lognormal(mean=0.0, sigma=0.6, size=n_rows)
    constant = np.full(n_rows, 1.0)
    return np.column_stack([latent, corr1, corr2, skewed, constant])


def fit_probe_detector(detector: str, X_probe: np.ndarray, seed: int = 0):
    """Fit ``detector`` on the probe data; return ``(fitted, score_fn)``."""
    import warnings

    from llmdas.detectors import make_detector, score_detector

    # the probe's constant column makes some detectors warn (zero variance, skewness); expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = make_detector(detector, random_state=seed).fit(X_probe)
        train_scores = score_detector(fitted, X_probe)

    def score_fn(X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return score_detector(fitted, X, reference=train_scores)

    return fitted, score_fn


# --------------------------------------------------------------------------- answers
@dataclass(frozen=True)
class ParsedAnswer:
    """The three parts of an answer. ``code`` is "" when no program was found."""

    code: str
    policy: str
    explanation: str

    @property
    def has_entry_point(self) -> bool:
        return bool(re.search(rf"^\s*def\s+{ENTRY_POINT}\s*\(", self.code, re.MULTILINE))


_FENCE_RE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)```", re.DOTALL)
_SECTION_RE = re.compile(
    r"^[ \t#>*_]*(?P<name>policy|program|code|explanation)[ \t*_]*:?[ \t*_]*(?=\S|$)",
    re.IGNORECASE | re.MULTILINE,
)


def parse_answer(text: str) -> ParsedAnswer:
    """Extract code, policy and explanation from an LLM answer, tolerating prose and markdown.

    The code is the fenced block (``python`` or untagged) that defines the entry point, else the
    first python block; without fences, the whole answer if it parses as Python.
    """
    blocks = [
        (m.group("lang").lower(), m.group("body"), m.start(), m.end())
        for m in _FENCE_RE.finditer(text)
    ]
    code, span = "", None
    usable = [b for b in blocks if b[0] in ("python", "py", "python3", "")]
    with_entry = [b for b in usable if re.search(rf"def\s+{ENTRY_POINT}\s*\(", b[1])]
    chosen = with_entry[0] if with_entry else (usable[0] if usable else None)
    if chosen is not None:
        code, span = chosen[1], (chosen[2], chosen[3])
    elif not blocks and f"def {ENTRY_POINT}" in text:
        try:
            ast.parse(text)
            code = text
        except SyntaxError:
            code = ""
    code = code.strip("\n") + "\n" if code.strip() else ""

    prose = text if span is None else text[: span[0]] + "\n" + text[span[1] :]
    sections: dict[str, str] = {}
    marks = list(_SECTION_RE.finditer(prose))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(prose)
        body = prose[mark.end() : end]
        body = _FENCE_RE.sub("", body)
        body = " ".join(body.replace("*", " ").split())
        name = mark.group("name").lower()
        if body and name not in sections:
            sections[name] = body
    policy = sections.get("policy", "")
    explanation = sections.get("explanation", "")
    if not policy and span is not None:  # prose before the code, without headings
        policy = " ".join(text[: span[0]].split())
    return ParsedAnswer(code=code, policy=policy, explanation=explanation)


_FUTURE_ANNOTATIONS = "from __future__ import annotations\n\n"


def normalize_source(code: str) -> tuple[str, str]:
    """Make the prescribed signature runnable with imports inside the function.

    The prompt asks for ``def generate_hard_anomalies(n_samples: int, model, X_train:
    np.ndarray) -> np.ndarray`` *and* for every import inside the function; taken literally,
    ``np`` is undefined when the ``def`` statement evaluates its annotations. When the entry point
    has annotations and the module does not already postpone them, ``from __future__ import
    annotations`` is prepended (nothing else changes). Returns ``(code, note)``; ``note`` is ""
    when the code was left as is.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, ""
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(a.name == "annotations" for a in node.names)
        ):
            return code, ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == ENTRY_POINT:
            args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            if node.returns is not None or any(a.annotation is not None for a in args):
                return (
                    _FUTURE_ANNOTATIONS + code,
                    "prepended 'from __future__ import annotations' so that the annotations "
                    "of the prescribed signature need no module-level import",
                )
    return code, ""


# --------------------------------------------------------------------------- review
@dataclass
class ReviewScores:
    """Measures of one candidate's output on the probe data (see :func:`review_output`)."""

    n_rows: int = 0
    valid: bool = False
    unique_fraction: float = 0.0
    hardness: float = 0.0
    mean_score_percentile: float = 0.0
    novelty: float = 0.0
    copy_fraction: float = 0.0
    quality: float = 0.0
    n_score_calls: int = 0
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    verdict: str = ""
    critique: str = ""

    @property
    def ok(self) -> bool:
        return self.valid and not self.problems

    def summary(self) -> str:
        return (
            f"hardness {self.hardness:.2f} (share of rows below the 95th percentile of training "
            f"scores), mean score percentile {self.mean_score_percentile:.1f}, novelty "
            f"{self.novelty:.2f} (median distance to the nearest training row / typical "
            f"nearest-neighbour distance), copies {self.copy_fraction:.0%}, unique rows "
            f"{self.unique_fraction:.0%}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _standardise(X_train: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[~(std > 1e-12)] = 1.0
    return [(a - mean) / std for a in (X_train, *arrays)]


def _min_distances(A: np.ndarray, B: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    out = np.empty(len(A))
    for start in range(0, len(A), 512):
        chunk = A[start : start + 512]
        d2 = (chunk**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * chunk @ B.T
        np.maximum(d2, 0.0, out=d2)
        if exclude_self:
            idx = np.arange(start, start + len(chunk))
            d2[np.arange(len(chunk)), idx] = np.inf
        out[start : start + len(chunk)] = np.sqrt(d2.min(axis=1))
    return out


def review_output(
    X_syn: np.ndarray,
    X_train: np.ndarray,
    train_scores: np.ndarray,
    syn_scores: np.ndarray,
    *,
    n_samples: int,
    max_copy_fraction: float = 0.5,
    min_novelty: float = 0.05,
    min_unique_fraction: float = 0.1,
) -> ReviewScores:
    """Validity, hardness and novelty of synthetic rows against the training rows.

    * **validity**: finite, shape ``(n_samples, d)``, not all identical (unique-row share).
    * **hardness**: share of synthetic rows scored below the 95th percentile of the training
      scores (the detector still takes them for normal); also the mean percentile of their
      scores among the training scores.
    * **novelty**: median over synthetic rows of the distance to the nearest training row,
      divided by the median nearest-neighbour distance among training rows (standardised
      features). A row closer than 1e-6 of that scale is a copy.
    * **quality** = hardness x min(1, novelty): the ranking key.
    """
    X_syn = np.asarray(X_syn, dtype=float)
    scores = ReviewScores(n_rows=int(X_syn.shape[0]) if X_syn.ndim else 0)
    d = X_train.shape[1]
    if X_syn.ndim != 2 or X_syn.shape != (n_samples, d):
        scores.problems.append(f"output has shape {X_syn.shape}, expected ({n_samples}, {d})")
        return scores
    if not np.isfinite(X_syn).all():
        scores.problems.append("output holds NaN or infinite values")
        return scores
    n_unique = len(np.unique(np.round(X_syn, 12), axis=0))
    scores.unique_fraction = n_unique / len(X_syn)
    scores.valid = not (len(X_syn) > 1 and n_unique == 1)
    if not scores.valid:
        scores.problems.append("all generated rows are identical")
    elif scores.unique_fraction < min_unique_fraction:
        scores.problems.append(f"only {n_unique} distinct rows among {len(X_syn)}")

    train_scores = np.asarray(train_scores, dtype=float)
    syn_scores = np.asarray(syn_scores, dtype=float)
    threshold = np.percentile(train_scores, 95)
    scores.hardness = float(np.mean(syn_scores < threshold))
    ranks = np.searchsorted(np.sort(train_scores), syn_scores, side="right") / len(train_scores)
    scores.mean_score_percentile = float(100.0 * ranks.mean())

    Z_train, Z_syn = _standardise(X_train, X_syn)
    typical = float(np.median(_min_distances(Z_train, Z_train, exclude_self=True)))
    if not typical > 0:
        typical = 1.0
    dist = _min_distances(Z_syn, Z_train)
    scores.copy_fraction = float(np.mean(dist <= 1e-6 * typical))
    scores.novelty = float(np.median(dist) / typical)
    if scores.copy_fraction > max_copy_fraction:
        scores.problems.append(
            f"{scores.copy_fraction:.0%} of the generated rows are copies of training rows"
        )
    elif scores.novelty < min_novelty:
        scores.problems.append(
            f"generated rows are near-copies of training rows (novelty {scores.novelty:.3f})"
        )
    scores.quality = float(scores.hardness * min(1.0, scores.novelty))
    return scores


_VERDICT_RE = re.compile(r"VERDICT\s*:\s*\**\s*(accept|revise)", re.IGNORECASE)


def _parse_verdict(text: str) -> str:
    found = _VERDICT_RE.findall(text)
    return found[-1].lower() if found else "unknown"


# --------------------------------------------------------------------------- loop
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

    @property
    def ok(self) -> bool:
        return self.program is not None

    @property
    def accepted(self) -> CandidateReport | None:
        return next((c for c in self.candidates if c.status == "accepted"), None)

    def failure_summary(self) -> str:
        reasons = "; ".join(f"candidate {c.index}: {c.error}" for c in self.candidates if c.error)
        return f"no working program for {self.detector} ({reasons or 'no candidate'})"


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
        self.limits = SandboxLimits(timeout_s=config.timeout_s, memory_mb=config.memory_mb)
        self.X_probe = make_probe_data(config.probe_rows, seed=config.seed)
        try:
            _, self.score_fn = fit_probe_detector(self.detector, self.X_probe, config.seed)
        except ValueError as exc:
            raise GenerationError(str(exc)) from None
        self.train_scores = self.score_fn(self.X_probe)
        self.usage = {"input_tokens": 0, "output_tokens": 0, "calls": 0}
        self.events: list[dict[str, Any]] = []
        self.started = _now()

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
        if missing:
            logger.info("%s: candidate %d round %d: %s", self.detector, candidate, round_, missing)
            self.event(
                "check",
                candidate=candidate,
                round=round_,
                stage="extract",
                ok=False,
                error={"type": "NoProgramFound", "message": missing},
            )
            return "NoProgramFound", missing, ""
        try:
            check_source(answer.code)
        except ProgramError as exc:
            logger.info(
                "%s: candidate %d round %d: static check failed: %s",
                self.detector,
                candidate,
                round_,
                exc,
            )
            self.event(
                "check",
                candidate=candidate,
                round=round_,
                stage="static",
                ok=False,
                error={"type": type(exc).__name__, "message": str(exc)},
            )
            return type(exc).__name__, str(exc), ""
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
            logger.info(
                "%s: candidate %d round %d: run failed: %s", self.detector, candidate, round_, exc
            )
            self.event(
                "run",
                candidate=candidate,
                round=round_,
                ok=False,
                error={"type": type(exc).__name__, "message": str(exc), "traceback": tb},
            )
            return type(exc).__name__, str(exc), tb
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

    # ---------------------------------------------------------------- one candidate
    def run_candidate(self, index: int, description: str | None) -> CandidateReport:
        report = CandidateReport(index=index)
        messages = self.plan.step2_messages(description)
        try:
            reply = self.ask("program", messages, index, 0).text
        except LLMError as exc:
            if _fatal(exc):
                raise
            report.status, report.error = "llm_error", str(exc)
            return report
        round_ = 0
        best: tuple[ParsedAnswer, ReviewScores, int] | None = None
        while True:
            answer = parse_answer(reply)
            code, note = normalize_source(answer.code)
            if note:
                answer = ParsedAnswer(code, answer.policy, answer.explanation)
                self.event("normalize", candidate=index, round=round_, note=note)
            kind, message, tb = self.test(answer, index, round_)
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
                reply = self.ask("repair", messages, index, round_).text
            except LLMError as exc:
                if _fatal(exc):
                    raise
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

    def llm_review(
        self, answer: ParsedAnswer, scores: ReviewScores, index: int, round_: int
    ) -> str:
        messages = review_messages(self.detector, answer.policy, answer.code, scores.summary())
        try:
            text = self.ask("llm_review", messages, index, round_).text
        except LLMError as exc:
            if _fatal(exc):
                raise
            scores.verdict, scores.critique = "unknown", f"(review failed: {exc})"
            return scores.critique
        scores.verdict = _parse_verdict(text)
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

    Raises :class:`~llmdas.llm.base.LLMError` when the provider fails in a way that no retry or
    other candidate can fix (key refused, server unreachable), or when step 1 fails.
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

    reports = [session.run_candidate(i, description) for i in range(config.candidates)]
    working = [r for r in reports if r.status == "working" and r.scores is not None]
    program = None
    chosen = None
    if working:
        chosen = max(
            working,
            key=lambda r: (*_rank(r.scores), -r.index),
        )
        chosen.status = "accepted"
        program = _make_program(session, chosen, name)
        session.event(
            "decision",
            accepted_candidate=chosen.index,
            reason=f"best quality among {len(working)} working candidate(s): {chosen.scores.summary()}",
            program_sha256=program.sha256,
        )
        logger.info("%s: accepted candidate %d (%s)", session.detector, chosen.index, program.name)
    else:
        session.event("decision", accepted_candidate=None, reason="no working candidate")
        logger.warning("%s: no working candidate", session.detector)

    transcript = {
        "format": TRANSCRIPT_FORMAT,
        "version": 1,
        "detector": session.detector,
        "variant": plan.variant,
        "prompt_template": plan.variant,
        "prompt_version": plan.version,
        "prompt_sha256": plan.sha256,
        "llm": provider.describe(),
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
        "usage": dict(session.usage),
    }
    return GenerationResult(
        detector=session.detector,
        program=program,
        candidates=reports,
        transcript=transcript,
        usage=dict(session.usage),
    )


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


# --------------------------------------------------------------------------- rendering
def transcript_markdown(transcript: dict[str, Any], *, title: str | None = None) -> str:
    """Render a generation transcript as Markdown, in order: prompts, replies, checks, review.

    For each LLM call only the messages that are new in its conversation are printed (a repair
    call repeats the earlier turns, which were printed before); the JSON keeps every message.
    """
    llm = transcript.get("llm", {})
    out = [f"# {title or 'Generation transcript: ' + str(transcript.get('detector'))}", ""]
    out += [
        f"- detector: `{transcript.get('detector')}`, prompt variant `{transcript.get('variant')}`"
        f" ({transcript.get('prompt_version')}), prompt sha256 `{transcript.get('prompt_sha256')}`",
        f"- LLM endpoint: provider `{llm.get('provider')}`, model `{llm.get('model')}`, host "
        f"`{llm.get('base_url_host') or 'default'}`",
        f"- probe data: {transcript.get('probe', {}).get('kind')}, "
        f"{transcript.get('probe', {}).get('rows')} x {transcript.get('probe', {}).get('columns')}",
        f"- started {transcript.get('started')}, finished {transcript.get('finished')}; token usage "
        f"{transcript.get('usage')}",
        "",
    ]
    seen: list[list[Message]] = []

    def new_messages(messages: list[Message]) -> list[Message]:
        best = 0
        for earlier in seen:
            n = 0
            while n < min(len(earlier), len(messages)) and earlier[n] == messages[n]:
                n += 1
            best = max(best, n)
        seen.append(messages)
        return messages[best:]

    fence = "`" * 4
    for event in transcript.get("events", []):
        kind = event.get("kind")
        where = (
            ""
            if event.get("candidate") is None
            else f" (candidate {event['candidate']}, round {event.get('round', 0)})"
        )
        if kind in ("llm_call", "llm_error"):
            out.append(f"## {event['seq']}. LLM call: {event.get('step')}{where}")
            out.append("")
            fresh = new_messages(event.get("messages", []))
            skipped = len(event.get("messages", [])) - len(fresh)
            if skipped:
                out.append(f"*({skipped} earlier message(s) of this conversation, shown above)*")
                out.append("")
            for message in fresh:
                out.append(f"**{message['role']}:**")
                out.append("")
                out += [f"{fence}text", message["content"].rstrip(), fence, ""]
            if kind == "llm_call":
                out.append(
                    f"**reply** (model `{event.get('model')}`, id `{event.get('raw_id')}`, "
                    f"usage {event.get('usage')}, attempts {event.get('attempts')}):"
                )
                out.append("")
                out += [f"{fence}markdown", str(event.get("reply", "")).rstrip(), fence, ""]
                seen[-1] = [*seen[-1], {"role": "assistant", "content": event.get("reply", "")}]
            else:
                out += [f"**error:** {event['error']['type']}: {event['error']['message']}", ""]
        elif kind in ("check", "run"):
            label = "static check" if kind == "check" else "sandbox run on the probe data"
            if event.get("ok"):
                extra = (
                    f": {event.get('rows')} rows, {event.get('n_score_calls')} score call(s), "
                    f"{event.get('elapsed_s')} s"
                    if kind == "run"
                    else ""
                )
                out += [f"**{label}{where}: passed**{extra}", ""]
            else:
                err = event.get("error", {})
                out += [f"**{label}{where}: failed**: {err.get('type')}: {err.get('message')}", ""]
                if err.get("traceback"):
                    out += [fence, err["traceback"].rstrip(), fence, ""]
        elif kind == "review":
            s = event.get("scores", {})
            verdict = (
                "passed" if event.get("ok") else "rejected: " + "; ".join(s.get("problems", []))
            )
            out += [
                f"**review{where}: {verdict}** - hardness {s.get('hardness'):.3f}, mean score "
                f"percentile {s.get('mean_score_percentile'):.1f}, novelty "
                f"{s.get('novelty'):.3f}, copies {s.get('copy_fraction'):.0%}, unique rows "
                f"{s.get('unique_fraction'):.0%}",
                "",
            ]
        elif kind == "normalize":
            out += [f"**normalised{where}:** {event.get('note')}", ""]
        elif kind == "llm_verdict":
            out += [f"**LLM reviewer verdict{where}: {event.get('verdict')}**", ""]
        elif kind == "repair":
            out += [f"**repair{where}** after {event.get('error_kind')}", ""]
        elif kind == "decision":
            accepted = event.get("accepted_candidate")
            head = "no candidate accepted" if accepted is None else f"accepted candidate {accepted}"
            out += [f"## Decision: {head}", "", str(event.get("reason", "")), ""]
    out.append("## Candidates")
    out.append("")
    out.append("| # | status | repair rounds | hardness | novelty | error |")
    out.append("|---|---|---|---|---|---|")
    for c in transcript.get("candidates", []):
        s = c.get("scores") or {}
        hardness = f"{s['hardness']:.3f}" if s else "-"
        novelty = f"{s['novelty']:.3f}" if s else "-"
        error = str(c.get("error", "")).replace("|", "/")
        out.append(
            f"| {c['index']} | {c['status']} | {c['repair_rounds']} | {hardness} | {novelty} "
            f"| {error} |"
        )
    out.append("")
    return "\n".join(out)
