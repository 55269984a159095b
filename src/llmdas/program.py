"""Synthesis programs: the unit of work that Stage 1 produces and Stage 2 runs.

A synthesis program is a Python source that defines::

    def generate_hard_anomalies(n_samples: int, model, X_train: np.ndarray) -> np.ndarray

``model`` exposes only ``model.predict_score(X)`` (higher = more anomalous) and ``X_train`` holds
the normal training rows. The function returns ``(n_samples, n_features)`` synthetic anomalies.

On disk a program is a ``.py`` file whose metadata sits in an inline-metadata comment block in the
format of PEP 723 (a TOML document between ``# /// llmdas-program`` and ``# ///``)::

    # /// llmdas-program
    # name = "pca-residual"
    # detector = "PCA"
    # policy = "Start from borderline rows ..."
    # explanation = "..."
    # [provenance]
    # author = "llmdas authors"
    # generator = "human"
    # ///
    def generate_hard_anomalies(n_samples, model, X_train):
        ...

The block is plain comments, so the file stays a valid Python module that linters and editors
understand, and the metadata can be read without executing anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmdas._atomic import replacing

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["ENTRY_POINT", "ProgramFormatError", "SynthesisProgram", "program_files"]

#: Name of the function every synthesis program must define.
ENTRY_POINT = "generate_hard_anomalies"

_BLOCK_TYPE = "llmdas-program"
# PEP 723's reference regular expression, specialised to our block type.
_BLOCK_RE = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$\s?"
)


class ProgramFormatError(ValueError):
    """A program whose file or fields are malformed: no metadata block, a field of the wrong type."""


@dataclass(frozen=True)
class SynthesisProgram:
    """A synthesis program together with what a reader needs to trust it.

    Parameters
    ----------
    source : str
        The Python code that defines ``generate_hard_anomalies`` (without the metadata block).
    detector : str
        Name of the detector the program was written for (e.g. ``"PCA"``).
    name : str
        Short identifier, unique within a program store.
    policy : str
        One paragraph: how the program turns borderline normal rows into hard anomalies.
    explanation : str
        Why the policy makes rows that this detector still scores low.
    provenance : dict
        Who or what wrote the program and how: ``author``, ``generator`` (``"human"`` or
        ``"llm"``), ``created`` (ISO date), and for generated programs ``provider``, ``model``,
        ``prompt_template``, ``prompt_sha256``, ``repair_rounds``, ``review`` …
    first_line : int
        The line of the program file on which ``source`` begins (1 for a program not read from a
        file). Not part of the program's identity; see :attr:`file_aligned_source`.
    """

    source: str
    detector: str
    name: str
    policy: str = ""
    explanation: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    first_line: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A program is handed around as data (stores, transcripts, benchmarks): a wrong type is
        # refused here, where it is made, not in the sandbox or a hash much later.
        for name in ("source", "detector", "name", "policy", "explanation"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ProgramFormatError(f"a program's {name} must be text, got {value!r}")
        if not isinstance(self.provenance, dict):
            raise ProgramFormatError(
                f"a program's provenance must be a dict, got {self.provenance!r}"
            )
        if not isinstance(self.first_line, int) or self.first_line < 1:
            raise ProgramFormatError(
                f"a program's first_line must be an int >= 1, got {self.first_line!r}"
            )

    @property
    def sha256(self) -> str:
        """Hash of the source code alone: identifies the behaviour, not the metadata."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    @property
    def file_aligned_source(self) -> str:
        """The source after ``first_line - 1`` empty lines: what is checked and run.

        Line numbers in static-check errors, crash messages and tracebacks are then the lines
        of the program file a user opens, not of the source without its metadata block.
        """
        return "\n" * (self.first_line - 1) + self.source

    # ------------------------------------------------------------------ serialisation
    def to_text(self) -> str:
        """Render the program as a ``.py`` file with its metadata block."""
        meta = {
            "name": self.name,
            "detector": self.detector,
            "policy": self.policy,
            "explanation": self.explanation,
        }
        lines = [f"# /// {_BLOCK_TYPE}"]
        lines += [f"# {line}" if line else "#" for line in _dump_toml(meta, self.provenance)]
        lines.append("# ///")
        return "\n".join(lines) + "\n" + self.source.lstrip("\n")

    def save(self, path: str | Path) -> Path:
        """Write the program to ``path`` (a ``.py`` file) and return the path.

        The write is atomic: a failed one keeps the file that was there and leaves no partial one.
        """
        path = Path(path)
        with replacing(path) as tmp:
            tmp.write_text(self.to_text(), encoding="utf-8")
        return path

    @classmethod
    def from_text(cls, text: str, *, origin: str = "<text>") -> SynthesisProgram:
        """Parse a program file's text. ``origin`` names it in error messages."""
        blocks = [m for m in _BLOCK_RE.finditer(text) if m.group("type") == _BLOCK_TYPE]
        if not blocks:
            name = Path(origin).stem if origin != "<text>" else "my-program"
            lines = [
                "# /// llmdas-program",
                f'# name = "{name}"',
                '# detector = "DETECTOR"',
                "# ///",
            ]
            raise ProgramFormatError(
                f"{origin}: no '# /// {_BLOCK_TYPE}' metadata block found; start the file with "
                f"the lines {', '.join(map(repr, lines))} (llmdas.program describes the other "
                "fields: policy, explanation, provenance)"
            )
        if len(blocks) > 1:
            raise ProgramFormatError(f"{origin}: more than one '# /// {_BLOCK_TYPE}' block")
        block = blocks[0]
        toml_text = "\n".join(
            line[2:] if line.startswith("# ") else line[1:]
            for line in block.group("content").splitlines()
        )
        try:
            meta = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as exc:
            raise ProgramFormatError(f"{origin}: metadata block is not valid TOML: {exc}") from exc
        missing = [key for key in ("name", "detector") if key not in meta]
        if missing:
            raise ProgramFormatError(f"{origin}: metadata lacks {', '.join(missing)}")
        for key in ("name", "detector"):
            if not isinstance(meta[key], str):
                raise ProgramFormatError(
                    f"{origin}: {key} must be a quoted string, got {meta[key]!r}"
                )
        provenance = meta.get("provenance", {})
        if not isinstance(provenance, dict):
            raise ProgramFormatError(
                f"{origin}: provenance must be a table of keys ('[provenance]', then lines such "
                f"as 'author = \"...\"'), got {type(provenance).__name__} {provenance!r}"
            )
        source = (text[: block.start()] + text[block.end() :]).strip("\n") + "\n"
        first_line = 1
        if not text[: block.start()].strip():  # the usual layout: metadata first, then code
            rest = text[block.end() :]
            blank = len(rest) - len(rest.lstrip("\n"))
            first_line = text[: block.end()].count("\n") + blank + 1
        return cls(
            source=source,
            detector=meta["detector"],
            name=meta["name"],
            policy=str(meta.get("policy", "")).strip(),
            explanation=str(meta.get("explanation", "")).strip(),
            provenance=dict(provenance),
            first_line=first_line,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SynthesisProgram:
        """Read a program file written by :meth:`save` (or by hand in the same format)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # -sig: an editor's byte-order mark
        except OSError as exc:
            raise ProgramFormatError(f"cannot read program file {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise ProgramFormatError(f"program file {path} is not UTF-8 text") from None
        return cls.from_text(text, origin=str(path))

    @classmethod
    def from_source(
        cls, source: str, *, detector: str = "any", name: str = "unnamed", **metadata: Any
    ) -> SynthesisProgram:
        """Wrap bare source code (no metadata block) as a program, e.g. one typed by a user."""
        return cls(source=source, detector=detector, name=name, **metadata)


def program_files(directory: str | Path) -> list[Path]:
    """The program files (``*.py``) under ``directory``, sorted, hidden files and folders skipped.

    Hidden names are skipped because they are not programs anyone saved: the temporary file of
    an interrupted :meth:`SynthesisProgram.save` and editor or notebook copies such as
    ``.ipynb_checkpoints/``, which would otherwise load as a second program for a detector.
    """
    directory = Path(directory)
    return sorted(
        path
        for path in directory.rglob("*.py")
        if not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


# ---------------------------------------------------------------------- TOML writing
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if "\n" in value and '"""' not in value:
            escaped = value.replace("\\", "\\\\")
            return '"""\n' + escaped.rstrip("\n") + '"""'
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    raise TypeError(f"cannot store {type(value).__name__} in program metadata")


def _dump_toml(meta: dict[str, Any], provenance: dict[str, Any]) -> list[str]:
    """Tiny TOML writer for our flat metadata; ``tomllib`` reads it back."""
    text = [f"{key} = {_toml_value(value)}" for key, value in meta.items()]
    if provenance:
        text.append("")
        text.append("[provenance]")
        text += [f"{key} = {_toml_value(value)}" for key, value in provenance.items()]
    return "\n".join(text).splitlines()
