"""What the command-line modules share for printing: the two consoles and the table style."""

from __future__ import annotations

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
