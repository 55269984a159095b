"""Program store: ``DIR/<detector>/<name>.py`` with the generation transcript beside it.

A store is a plain directory (it is what ``llmdas.programs.load_store`` reads)::

    programs/
      IForest/
        iforest-llm-1a2b3c4d.py      # SynthesisProgram.to_text(): metadata block + source
        iforest-llm-1a2b3c4d.json    # the generation transcript (prompts, replies, errors, review)

:func:`validate_store` checks every program: it parses, passes the static check and runs on
llmdas's probe data against the detector it names.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmdas._atomic import write_json
from llmdas.program import ProgramFormatError, SynthesisProgram, program_files

if TYPE_CHECKING:
    import numpy as np

    from llmdas.sandbox import SandboxLimits

    ScoreFn = Callable[[np.ndarray], np.ndarray]

__all__ = ["StoreCheck", "save_generated", "validate_store"]

logger = logging.getLogger("llmdas.store")


def save_generated(
    directory: str | Path, program: SynthesisProgram, transcript: dict[str, Any] | None = None
) -> Path:
    """Write ``program`` to ``DIR/<detector>/<name>.py`` (and the transcript as ``.json``)."""
    folder = Path(directory) / _safe(program.detector)
    path = folder / f"{_safe(program.name)}.py"
    if transcript is not None:  # first, so that no program appears without its transcript
        write_json(path.with_suffix(".json"), transcript)
    program.save(path)
    logger.info("saved program %s to %s", program.name, path)
    return path


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    if not cleaned:
        raise ValueError(f"cannot make a file name from {name!r}")
    return cleaned


@dataclass(frozen=True)
class StoreCheck:
    """Result of checking one program file."""

    path: Path
    ok: bool
    message: str

    def __iter__(self):  # unpacks as (path, ok, message)
        return iter((self.path, self.ok, self.message))


def validate_store(
    directory: str | Path,
    *,
    probe_rows: int = 128,
    n_samples: int = 32,
    seed: int = 0,
    timeout_s: float = 60.0,
    memory_mb: int = 2048,
) -> list[StoreCheck]:
    """Check each ``*.py`` under ``directory``: parses, passes the static check, runs on probe data.

    ``directory`` may also be one program file, e.g. one written by hand. Returns one
    :class:`StoreCheck` ``(path, ok, message)`` per file, sorted by path. A program whose detector
    is not a known detector name is run against IForest.
    """
    from llmdas.generate import fit_probe_detector, make_probe_data
    from llmdas.sandbox import SandboxLimits

    directory = Path(directory)
    if directory.is_file():
        files = [directory]
    elif directory.is_dir():
        files = program_files(directory)
    else:
        raise FileNotFoundError(f"no program store or program file {directory}")
    X_probe = make_probe_data(probe_rows, seed=seed)
    limits = SandboxLimits(
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        timeout_setting="validate_store's timeout_s, --timeout of llmdas programs validate",
    )
    # One probe detector per detector named, fitted once for all the files.
    score_fn_of = functools.cache(lambda detector: fit_probe_detector(detector, X_probe, seed)[1])
    return [
        _check_program(path, score_fn_of, X_probe, n_samples, seed=seed, limits=limits)
        for path in files
    ]


def _check_program(
    path: Path,
    score_fn_of: Callable[[str], ScoreFn],
    X_probe: np.ndarray,
    n_samples: int,
    *,
    seed: int,
    limits: SandboxLimits,
) -> StoreCheck:
    """One file of :func:`validate_store`: format, static check, run and review of its rows;
    ``score_fn_of(detector)`` is the scoring function of that detector fitted on ``X_probe``."""
    from llmdas.detectors import canonical_name
    from llmdas.generate import review_output
    from llmdas.sandbox import ProgramError, check_source, run_program

    try:
        program = SynthesisProgram.from_file(path)
    except ProgramFormatError as exc:
        return StoreCheck(path, False, str(exc))
    try:
        check_source(program.file_aligned_source)
    except ProgramError as exc:
        return StoreCheck(path, False, f"static check: {exc}")
    try:
        detector = canonical_name(program.detector)
        note = ""
    except ValueError:
        detector = "IForest"
        note = f" (unknown detector {program.detector!r}; scored with {detector})"
    score_fn = score_fn_of(detector)
    try:
        result = run_program(
            program.file_aligned_source, score_fn, X_probe, n_samples, seed=seed, limits=limits
        )
    except ProgramError as exc:
        return StoreCheck(path, False, f"run: {exc}")
    scores = review_output(
        result.X, X_probe, score_fn(X_probe), score_fn(result.X), n_samples=n_samples
    )
    message = f"{detector}: {result.X.shape[0]} rows, {scores.summary()}{note}"
    if scores.problems:
        return StoreCheck(path, False, "; ".join(scores.problems) + f" - {message}")
    return StoreCheck(path, True, message)
