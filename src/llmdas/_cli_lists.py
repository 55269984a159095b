"""The comma-separated list options (``--detectors``, ``--datasets``, ``--seeds``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from llmdas._validation import repeated


def comma_list(
    text: str, option: str, convert: Callable[[str], Any] = str, *, hint: str = ""
) -> list[Any]:
    """The items of ``text``, each passed through ``convert``; an empty list (an empty shell
    variable, say) or an item given twice is a usage error naming ``option``."""
    items = [convert(item.strip()) for item in text.split(",") if item.strip()]
    if not items:
        raise typer.BadParameter(f"no {option.lstrip('-')} given{hint}")
    twice = repeated(items)
    if twice:
        raise typer.BadParameter(f"{option} gives {', '.join(twice)} more than once")
    return items


def detector_list(text: str) -> list[str]:
    """``--detectors``: canonical detector names (``pca`` is ``PCA``), each once."""
    from llmdas.detectors import canonical_name

    return comma_list(text, "--detectors", canonical_name)
