"""Files that appear whole or not at all: written beside their final path, then renamed over it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["replacing", "write_json", "write_text"]


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; it replaces ``path`` on success.

    A write that fails or is interrupted (a full disk, Ctrl-C, a killed process) leaves the old
    file as it was and no partial one, and readers never see a half-written file. The temporary
    name keeps ``path``'s suffix, as writers such as ``np.save`` add theirs otherwise.
    """
    path = Path(path)
    if path.is_symlink():  # replace the file it points to, not the link
        path = path.resolve()
    if path.is_dir():  # else os.replace fails naming the temporary file, after all the writing
        raise IsADirectoryError(f"{path} is a directory; name a file in it")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per process and thread; not tempfile.mkstemp, whose 0600 mode the file would keep.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)  # atomic within one file system
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically and making its folder (see :func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` to ``path`` as indented UTF-8 JSON, atomically (see :func:`replacing`)."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
