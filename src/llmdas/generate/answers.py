"""Reading an LLM's answer: the policy, the ```python program and its comments."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from llmdas.program import ENTRY_POINT


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
