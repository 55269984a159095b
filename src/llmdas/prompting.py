"""Prompt templates of Stage 1 and the messages built from them.

The templates are versioned text files shipped in ``llmdas/prompts/`` (package data)::

    version: 1.0
    ---
    Text with ${placeholders} (string.Template syntax; ``$$`` is a literal dollar).

=================  ===========================================================================
template           role
=================  ===========================================================================
``initial``        system message: the role of the LLM
``description``    step 1: describe detector t, its pseudo-code and its blind spots
``objective``      step 2: hard anomalies that the detector still scores low
``requirements``   step 2: borderline seeds, controlled extrapolation, detector-specific policy,
                   numpy only, imports inside, exact signature, answer = policy/program/explanation
``repair``         error + traceback + previous code -> fixed program
``review``         optional LLM reviewer that critiques the policy
``generic``        ablation: no detector-specific reasoning (no step 1, detector not named)
``simple``         ablation: step 1, then the objective without the requirements
``random``         ablation: ask for random perturbations of training rows
=================  ===========================================================================

Variants (``template`` in the CLI): ``default`` (step 1 + objective + requirements), ``generic``,
``simple``, ``random``.

**Data-agnostic by construction**: every function here takes a detector *name* and a variant,
never data. The only outside text is the detector's own documentation (``inspect.getdoc`` of its
class), which is knowledge about the algorithm. The prompt hash is a function of (detector,
variant, template versions) only, whatever data set the caller has loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Template

from llmdas.llm.base import Message

__all__ = [
    "TEMPLATE_NAMES",
    "VARIANTS",
    "PromptPlan",
    "PromptTemplate",
    "build_prompts",
    "detector_context",
    "load_template",
    "repair_message",
    "review_messages",
]

TEMPLATE_NAMES = (
    "initial",
    "description",
    "objective",
    "requirements",
    "repair",
    "review",
    "generic",
    "simple",
    "random",
)

#: variant -> (template of step 1 or None, templates of step 2's user message)
_VARIANT_TEMPLATES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "default": ("description", ("objective", "requirements")),
    "generic": (None, ("generic",)),
    "simple": ("description", ("simple",)),
    "random": (None, ("random",)),
}
VARIANTS = tuple(_VARIANT_TEMPLATES)

_HEADER_RE = re.compile(r"\Aversion:\s*(?P<version>\S+)\s*\n---\s*\n", re.MULTILINE)
_MAX_CONTEXT_CHARS = 1500
_MAX_TRACEBACK_CHARS = 4000


@dataclass(frozen=True)
class PromptTemplate:
    """One template file: its name, version string and body."""

    name: str
    version: str
    text: str

    def render(self, **values: str) -> str:
        """Substitute ``${name}`` placeholders; a missing value raises ``KeyError``."""
        return Template(self.text).substitute(**values).strip() + "\n"

    @property
    def placeholders(self) -> set[str]:
        found = Template.pattern.finditer(self.text)
        return {m.group("named") or m.group("braced") for m in found if not m.group("escaped")}


@cache
def load_template(name: str) -> PromptTemplate:
    """Read ``llmdas/prompts/<name>.txt`` (package data)."""
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown prompt template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    raw = (resources.files("llmdas") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")
    match = _HEADER_RE.match(raw)
    if match is None:
        raise ValueError(f"prompt template {name}.txt lacks its 'version: ...' / '---' header")
    return PromptTemplate(name=name, version=match.group("version"), text=raw[match.end() :])


# --------------------------------------------------------------------------- detector context
def _detector_class(detector: str) -> type | None:
    try:
        from llmdas.detectors import _REGISTRY, canonical_name
    except ImportError:  # pragma: no cover - registry always ships with llmdas
        return None
    try:
        target = _REGISTRY[canonical_name(detector)]
    except (ValueError, KeyError):
        return None
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return None
    # llmdas wraps some PyOD classes; the PyOD class documents the algorithm.
    for klass in cls.__mro__:
        if klass.__module__.startswith("pyod.models.") and klass.__module__ != "pyod.models.base":
            return klass
    return cls


@cache
def detector_context(detector: str) -> str:
    """What the detector's implementation documents about its algorithm (docstring summary).

    The text before the ``Parameters`` section of the class docstring, whitespace-normalised and
    capped at 1,500 characters: knowledge about the algorithm, never about any data.
    """
    cls = _detector_class(detector)
    doc = inspect.getdoc(cls) if cls is not None else None
    if cls is None or not doc:
        return f"(No reference documentation available: rely on your knowledge of {detector}.)"
    summary = re.split(r"\n\s*(Parameters|Attributes|Examples|References)\s*\n\s*-{3,}", doc)[0]
    summary = re.sub(r":cite:`[^`]*`", "[citation]", summary)
    summary = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`.]+)`", r"\1", summary)  # :class:`~a.b.C` -> C
    summary = summary.replace(".. note::", "Note:")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", summary) if p.strip()]
    text = "\n\n".join(paragraphs)
    if len(text) > _MAX_CONTEXT_CHARS:
        text = text[:_MAX_CONTEXT_CHARS].rsplit(" ", 1)[0] + " ..."
    source = f"{cls.__module__}.{cls.__qualname__}"
    return f"{text}\n(source: docstring of {source})"


# --------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class PromptPlan:
    """The rendered prompts of one (detector, variant): step 1 (optional) and step 2.

    Step 2's messages include step 1's exchange (the detector description written by the LLM),
    so the program is written in the light of that description, as in the paper.
    """

    detector: str
    variant: str
    system: str
    description: str | None
    task: str
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Compact version string of the templates used, e.g. ``initial=1.0;objective=1.0``."""
        return ";".join(f"{k}={v}" for k, v in self.versions.items())

    @property
    def sha256(self) -> str:
        """Hash of the rendered prompt text (system, step 1, step 2), not of any LLM reply."""
        payload = json.dumps(
            {"system": self.system, "description": self.description, "task": self.task},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def has_step1(self) -> bool:
        return self.description is not None

    def step1_messages(self) -> list[Message] | None:
        """Messages asking for the description and pseudo-code, or ``None`` for this variant."""
        if self.description is None:
            return None
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.description},
        ]

    def step2_messages(self, description_reply: str | None = None) -> list[Message]:
        """Messages asking for the program; ``description_reply`` is step 1's answer."""
        messages: list[Message] = [{"role": "system", "content": self.system}]
        if self.description is not None:
            if not description_reply:
                raise ValueError(f"variant {self.variant!r} needs step 1's reply for step 2")
            messages.append({"role": "user", "content": self.description})
            messages.append({"role": "assistant", "content": description_reply})
        messages.append({"role": "user", "content": self.task})
        return messages

    def all_text(self) -> str:
        return "\n".join(t for t in (self.system, self.description, self.task) if t)


def build_prompts(detector: str, variant: str = "default") -> PromptPlan:
    """Render the prompts for ``detector`` (a name) and ``variant``. Takes no data, by design."""
    if not isinstance(detector, str) or not detector.strip():
        raise TypeError("detector must be a detector name (a non-empty string)")
    if variant not in _VARIANT_TEMPLATES:
        raise ValueError(f"unknown prompt variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    detector = _display_name(detector)
    step1_name, step2_names = _VARIANT_TEMPLATES[variant]
    values = {"detector": detector}
    initial = load_template("initial")
    versions = {"initial": initial.version}
    description = None
    if step1_name is not None:
        tpl = load_template(step1_name)
        versions[tpl.name] = tpl.version
        description = tpl.render(detector_context=detector_context(detector), **values)
    parts = []
    for name in step2_names:
        tpl = load_template(name)
        versions[tpl.name] = tpl.version
        parts.append(tpl.render(**{k: v for k, v in values.items() if k in tpl.placeholders}))
    return PromptPlan(
        detector=detector,
        variant=variant,
        system=initial.render(),
        description=description,
        task="\n".join(parts),
        versions=versions,
    )


def _display_name(detector: str) -> str:
    try:
        from llmdas.detectors import canonical_name

        return canonical_name(detector)
    except (ImportError, ValueError):
        return detector.strip()


def repair_message(
    code: str, error_kind: str, error_message: str, traceback: str | None = None
) -> str:
    """The user message that sends a failure back to the LLM (``repair`` template)."""
    tb = (traceback or "").strip()
    if len(tb) > _MAX_TRACEBACK_CHARS:
        tb = "...\n" + tb[-_MAX_TRACEBACK_CHARS:]
    section = f"Traceback:\n{tb}\n" if tb else ""
    return load_template("repair").render(
        error_kind=error_kind,
        error_message=" ".join(error_message.split()) or "(no message)",
        traceback_section=section,
        code=code.strip() or "(no code was found in your answer)",
    )


def review_messages(detector: str, policy: str, code: str, metrics: str) -> list[Message]:
    """Messages asking an LLM reviewer to critique a candidate (``review`` template)."""
    text = load_template("review").render(
        detector=_display_name(detector),
        policy=policy.strip() or "(no policy stated)",
        code=code.strip(),
        metrics=metrics.strip(),
    )
    return [
        {"role": "system", "content": load_template("initial").render()},
        {"role": "user", "content": text},
    ]
