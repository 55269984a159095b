"""The built-in program library and lookup of programs by name, detector or path.

One hand-written program per registry detector lives in ``llmdas/programs/builtin/<detector>.py``.
They follow the paper's requirements for LLM-written programs (borderline seeds, detector-aware
controlled extrapolation, numpy only, imports inside the function) and say in their provenance that
people wrote them, not a language model.
"""

from __future__ import annotations

import sys
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from llmdas._validation import require_file
from llmdas.detectors import canonical_name, known_name
from llmdas.program import SynthesisProgram, program_files

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = [
    "baseline_program",
    "builtin_program",
    "list_baselines",
    "list_builtin",
    "load_program",
    "load_store",
]


def _builtin_files(folder_name: str = "builtin") -> dict[str, Traversable]:
    folder = resources.files("llmdas.programs") / folder_name
    if not folder.is_dir():
        return {}
    return {f.name[:-3]: f for f in folder.iterdir() if f.name.endswith(".py")}


def list_baselines() -> list[SynthesisProgram]:
    """The synthesis baselines (``llmdas/programs/baselines``): not detector-aware, sorted by name.

    Gaussian noise, uniform noise, SMOTE-style interpolation and ADBench's four synthetic anomaly
    types, written as ordinary synthesis programs so that benchmarks run them through the same
    sandboxed path as detector-aware programs.
    """
    files = _builtin_files("baselines")
    return [
        SynthesisProgram.from_text(
            files[key].read_text(encoding="utf-8"), origin=f"baselines/{key}.py"
        )
        for key in sorted(files)
    ]


def baseline_program(name: str) -> SynthesisProgram:
    """The synthesis baseline called ``name`` (e.g. ``"gaussian"``, ``"adbench_local"``)."""
    files = _builtin_files("baselines")
    key = name.lower().replace("-", "_")
    if key not in files:
        raise LookupError(
            f"no synthesis baseline {name!r}; choose one of {', '.join(sorted(files))}"
        )
    return SynthesisProgram.from_text(
        files[key].read_text(encoding="utf-8"), origin=f"baselines/{key}.py"
    )


def list_builtin() -> list[SynthesisProgram]:
    """All built-in programs, sorted by detector name."""
    files = _builtin_files()
    return [
        SynthesisProgram.from_text(
            files[key].read_text(encoding="utf-8"), origin=f"builtin/{key}.py"
        )
        for key in sorted(files)
    ]


def builtin_program(detector: str) -> SynthesisProgram:
    """The built-in program written for ``detector`` (a registry name, case-insensitive)."""
    name = canonical_name(detector)
    files = _builtin_files()
    key = name.lower()
    if key not in files:
        raise LookupError(f"no built-in synthesis program for detector {name!r}")
    return SynthesisProgram.from_text(
        files[key].read_text(encoding="utf-8"), origin=f"builtin/{key}.py"
    )


def load_program(spec: str | Path | SynthesisProgram) -> SynthesisProgram:
    """Resolve a program given as an instance, a ``.py`` path, a built-in name or a detector name."""
    if isinstance(spec, SynthesisProgram):
        return spec
    if not isinstance(spec, str | Path):
        raise TypeError(
            "a program is a SynthesisProgram, a .py file or a built-in program's name, "
            f"got {spec!r}"
        )
    if isinstance(spec, str) and "\n" in spec:  # no name or path holds a line break
        raise ValueError(
            "the program is given as source text; wrap it as "
            "SynthesisProgram.from_source(source, detector=..., name=...), or save it as a .py file"
        )
    path = Path(spec).expanduser()
    if path.suffix == ".py" or path.exists():
        return SynthesisProgram.from_file(require_file(path, "program file"))
    for program in list_builtin():
        if program.name == str(spec):
            return program
    try:
        return builtin_program(str(spec))
    except (LookupError, ValueError):
        pass
    try:
        return baseline_program(str(spec))
    except LookupError:
        names = ", ".join(p.name for p in list_builtin())
        baselines = ", ".join(p.name for p in list_baselines())
        raise LookupError(
            f"unknown program {str(spec)!r}: not a file, built-in program ({names}), "
            f"baseline ({baselines}) or detector"
        ) from None


def load_store(directory: str | Path) -> dict[str, SynthesisProgram]:
    """Programs in a program store (``DIR/**/*.py``), keyed by their detector's registry name.

    A store holds one program per detector. Where it holds several, the one created last (the
    ``created`` of its provenance, then the file name) is used, with a warning naming it: the
    choice must not depend on file times, which a copy or a checkout sets anew.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"program store {directory} is not a directory")
    found: dict[str, list[tuple[Path, SynthesisProgram]]] = {}
    for path in program_files(directory):
        program = SynthesisProgram.from_file(path)
        detector = canonical_name(program.detector)
        found.setdefault(detector, []).append((path, program))
        folder = known_name(path.parent.name) if path.parent != directory else None
        if folder is not None and folder != detector:  # e.g. a file copied to another's folder
            warnings.warn(
                f"{path.relative_to(directory)} in program store {directory} declares detector "
                f"{detector}, and is used for {detector}, not for {folder} (the folder's name "
                "does not count)",
                UserWarning,
                stacklevel=2,
            )

    def created(candidate: tuple[Path, SynthesisProgram]) -> str:
        return str(candidate[1].provenance.get("created", ""))

    chosen: dict[str, SynthesisProgram] = {}
    for detector, candidates in found.items():
        last = max(candidates, key=lambda c: (created(c), c[0].name))
        chosen[detector] = last[1]
        if len(candidates) > 1:
            which = (
                f"the one created last, {last[0].relative_to(directory)} (created {created(last)})"
                if created(last)
                else f"{last[0].relative_to(directory)}, the last by file name (none of them says "
                "when it was created)"
            )
            warnings.warn(
                f"program store {directory} holds {len(candidates)} programs for {detector}; "
                f"using {which}; keep one per detector to choose yourself",
                UserWarning,
                stacklevel=2,
            )
    return chosen
