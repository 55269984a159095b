"""What the command-line modules share for printing: the two consoles and the table style."""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def compact_table(title: str, **options) -> Table:
    """A table without vertical rules, two spaces between columns, so that wide ones fit 80."""
    # The box's own divider is a space; one more of padding before each column makes two.
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1), **options)


# A line that starts a list item or is indented keeps its line break (see reflow).
_OWN_LINE = re.compile(r"\s|[-*•]\s|\d+[.)]\s")


def reflow(text: str) -> str:
    """Prose wrapped at a fixed width in a file, as lines the terminal wraps at its own width.

    Program metadata is wrapped at about 100 columns; printed as it is in 80 columns, every line
    breaks twice. Consecutive lines of a paragraph are joined; blank lines, list items ("- ",
    "1. ") and indented lines, which an LLM's policy may hold, start a line as before.
    """
    lines: list[str] = []
    for line in text.strip().splitlines():
        if lines and lines[-1] and line.strip() and not _OWN_LINE.match(line):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line.rstrip())
    return "\n".join(lines)


def literal(text: object) -> str:
    """``text`` as console markup that shows it as it is.

    Messages and tables hold text from users, data files, programs and language models, whose
    square brackets rich would otherwise read as markup and drop ("[provenance]" would vanish
    from a message about that table).
    """
    return escape(str(text))


def labelled(label: str, text: object) -> str:
    """Console markup for ``label`` (markup allowed) followed by ``text`` shown literally."""
    return f"{label} {literal(text)}"
