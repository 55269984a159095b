"""Converters and checks shared by the command-line options: comma-separated lists
(``--detectors``, ``--datasets``, ``--seeds``, ``--sizes``), time limits in seconds, and the
errors of the Python settings that options set."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import typer

from llmdas._validation import check_seconds, repeated


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


def int_list(text: str, option: str, low: int, high: int | None, expected: str) -> list[int]:
    """The integers in ``low..high`` (``high`` None: no upper bound) listed in ``text``; any
    other item is a usage error saying that ``option`` must be ``expected``."""

    def convert(item: str) -> int:
        try:
            value = int(item)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise typer.BadParameter(f"{option} must be {expected}, got {text!r}")
        return value

    return comma_list(text, option, convert)


def seconds_option(value: float | None, option: str) -> None:
    """A time-limit option: None (not given) or a finite number of seconds > 0."""
    if value is None:
        return
    try:
        check_seconds(value, option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def option_error(exc: ValueError, settings: Collection[str]) -> ValueError:
    """``exc`` about one of ``settings`` (``n_synthetic must be ...``), reworded to name the option
    that sets it (``--n-synthetic must be ...``); any other error as it is."""
    name, _, rest = str(exc).partition(" ")
    if name in settings:
        return ValueError(f"--{name.replace('_', '-')} {rest}")
    return exc
