"""The documentation's examples still work.

The README's Python block runs as written; every ``llmdas`` command in a shell block of the README
or of ``docs/`` names a command and options that exist, and every ``make`` command a target.
"""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from llmdas.cli import app
from llmdas.data import load_demo

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(language: str, page: Path = README) -> list[str]:
    # Indented fences too: docs put some commands inside list items.
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", page.read_text(), flags=re.M | re.S)


def _shell_lines(program: str) -> list[tuple[str, str]]:
    """``(page, arguments)`` of every line of the shell blocks that runs ``program``, continuations
    joined and comments dropped."""
    lines = []
    for page in DOCS:
        for block in _blocks("bash", page):
            for line in block.replace("\\\n", " ").splitlines():
                words = line.split("#", 1)[0].split(maxsplit=1)
                if len(words) == 2 and words[0] == program:
                    lines.append((page.name, words[1]))
    return lines


def _commands() -> list[tuple[str, list[str]]]:
    """``(page, words)`` of every ``llmdas ...`` line of the shell blocks."""
    return [(page, shlex.split(arguments)) for page, arguments in _shell_lines("llmdas")]


def test_python_example_runs_as_written(tmp_path, monkeypatch):
    # The example loads "cardio" by name from $LLMDAS_DATA: give it the demo rows under that name.
    X, y = load_demo()
    np.savez(tmp_path / "cardio.npz", X=X, y=y)
    monkeypatch.setenv("LLMDAS_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (code,) = _blocks("python")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    base, classifier = namespace["base"], namespace["classifier"]
    np.testing.assert_allclose(base + classifier, namespace["scores"])
    assert (tmp_path / "pca.joblib").is_file()


COMMANDS = _commands()


def test_the_readme_shows_commands():
    assert sum(page == README.name for page, _ in COMMANDS) >= 10  # the pattern still finds them


@pytest.mark.parametrize(
    ("page", "words"), COMMANDS, ids=[f"{p}: {' '.join(w[:2])}" for p, w in COMMANDS]
)
def test_documented_commands_use_options_that_exist(page, words):
    path = [w for w in words[:2] if not w.startswith("-")]
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"{page}: llmdas {' '.join(path)}: {result.output}"
    help_text = re.sub(r"\s+", " ", result.output)
    for option in (w.split("=", 1)[0] for w in words if w.startswith("--")):
        assert option in help_text, f"{page}: llmdas {' '.join(path)} has no option {option}"


def _make_targets() -> list[tuple[str, str]]:
    """``(page, target)`` of every ``make ...`` in inline code or on a line of a shell block."""
    inline = [
        (page.name, code)
        for page in DOCS
        for code in re.findall(r"`make ([^`]*)`", page.read_text())
    ]
    targets = []
    for page, arguments in inline + _shell_lines("make"):
        words = [w for w in arguments.split() if "=" not in w]  # VAR=value
        targets.append((page, words[0]))
    return targets


MAKE_TARGETS = _make_targets()


def test_documented_make_targets_exist():
    defined = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert {"demo", "test"} <= {target for _, target in MAKE_TARGETS}  # the pattern finds them
    missing = [(page, target) for page, target in MAKE_TARGETS if target not in defined]
    assert not missing, f"make targets the docs name but the Makefile lacks: {missing}"


def _relative_links(page: Path) -> list[str]:
    """Targets of the page's Markdown links that point into the repository (no URL, no anchor)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and t[:1] != "#"]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_links_between_pages_lead_to_files_that_exist(page):
    missing = [t for t in _relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


def test_the_link_check_finds_links():
    assert "docs/method.md" in _relative_links(README)  # the pattern still finds them
