"""Command-line functions of Stage 1, registered by :mod:`llmdas.cli`.

``llmdas generate --detector PCA --provider openai --model gpt-4o`` and
``llmdas programs validate DIR``. They are plain typer-annotated functions so that the main app
can register them (``app.command("generate")(generate)``,
``programs_app.command("validate")(programs_validate)``).

Errors end with exit code 1 and a one-line message, Ctrl-C during a generation with 130 once the
transcript so far is saved; API keys come from the environment only.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmdas._atomic import write_json
from llmdas._cli_options import option_error, seconds_option
from llmdas._terminal import compact_table, console, err_console, labelled, literal

if TYPE_CHECKING:
    from llmdas.generate import GenerationResult

__all__ = ["generate", "programs_validate"]


def _one_line_errors(func):
    """As :func:`llmdas.cli.user_errors`, for the errors of LLM calls and of the loop too."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from llmdas.cli import show_warning
        from llmdas.generate import GenerationError
        from llmdas.llm.base import LLMError
        from llmdas.program import ProgramFormatError
        from llmdas.sandbox import ProgramError

        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_warning  # one line each, as every command's
                return func(*args, **kwargs)
        except (
            LLMError,
            GenerationError,
            ProgramError,
            ProgramFormatError,
            ValueError,
            FileNotFoundError,
            LookupError,
            ImportError,
        ) as exc:
            message = " ".join(str(exc).split())
            err_console.print(labelled("[bold red]error:[/]", message), highlight=False)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:  # outside the loop, which saves its calls itself
            from llmdas.cli import exit_interrupted

            exit_interrupted()

    return wrapper


@_one_line_errors
def generate(
    detector: Annotated[str, typer.Option(help="Detector name, e.g. IForest.")],
    provider: Annotated[
        str, typer.Option(help="openai, anthropic, gemini, or replay (base-url = transcript).")
    ] = "openai",
    model: Annotated[str, typer.Option(help="Model name as the provider knows it.")] = "",
    base_url: Annotated[
        str,
        typer.Option(
            help="Server URL (OpenAI-compatible: include /v1, e.g. http://localhost:11434/v1 "
            "for Ollama; default: $OPENAI_BASE_URL, $ANTHROPIC_BASE_URL or "
            "$GOOGLE_GEMINI_BASE_URL, else the provider's API); for replay, a --record file or "
            "a saved program's .json transcript."
        ),
    ] = "",
    candidates: Annotated[int, typer.Option(min=1, help="Candidate programs to draw.")] = 3,
    repairs: Annotated[int, typer.Option(min=0, help="Repair rounds per candidate.")] = 2,
    out: Annotated[Path, typer.Option(help="Program store directory.")] = Path("programs"),
    template: Annotated[
        str, typer.Option(help="Prompt variant: default, generic, simple or random.")
    ] = "default",
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    max_tokens: Annotated[
        int,
        typer.Option(
            min=1,
            help="Token limit of each answer (a reasoning model's thinking counts against it).",
        ),
    ] = 4096,
    seed: Annotated[
        int, typer.Option(help="Seed of the probe data and sandbox runs.", min=0, max=2**32 - 1)
    ] = 0,
    llm_review: Annotated[
        bool, typer.Option(help="Also ask the LLM to critique each working candidate.")
    ] = False,
    record: Annotated[
        Path | None, typer.Option(help="Record every LLM call to this transcript (for replay).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Go on with an earlier run of the same settings that was interrupted or stopped: "
            "its transcript (a --record file or the .json a run saved) answers the calls it "
            "holds, the provider the rest."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per LLM request.")] = 120.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False,
) -> None:
    """Ask an LLM for a synthesis program for a detector, test, repair and review it, then save it."""
    from llmdas.cli import check_can_create, check_outputs
    from llmdas.detectors import canonical_name
    from llmdas.generate import GenerationConfig, GenerationInterrupted, generate_program
    from llmdas.llm import RecordingProvider, ResumingProvider, make_provider
    from llmdas.store import save_generated

    # Mistakes the LLM calls (which cost money and minutes) would only reach at their end.
    seconds_option(timeout, "--timeout")
    detector = canonical_name(detector)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; name a program store directory")
    check_can_create("--out", out, out)
    check_outputs(
        {"--record": record},
        {"--base-url": Path(base_url) if base_url else None, "--resume": resume},
    )
    if resume is not None and provider.lower().strip() == "replay":
        raise ValueError("--resume goes on with a live provider; --provider replay needs none")
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = GenerationConfig(
            candidates=candidates,
            repairs=repairs,
            variant=template,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            llm_review=llm_review,
        )
    except ValueError as exc:  # ranges typer does not check: a temperature of nan, say
        raise option_error(exc, {"temperature"}) from None
    llm = make_provider(provider, model or None, base_url=base_url or None, timeout=timeout)
    resuming = ResumingProvider(llm, resume) if resume is not None else None
    llm = resuming or llm
    if record is not None:  # outermost, so that it records the replayed calls too
        llm = RecordingProvider(llm, record)
    described = llm.describe()
    where = f" at {described['base_url_host']}" if described.get("base_url_host") else ""
    console.print(
        f"Generating a program for [bold]{detector}[/] with {described['provider']}/"
        f"{described['model']}{where}: {candidates} candidate(s), {repairs} repair round(s), "
        f"prompt variant {template}",
        highlight=False,
    )
    try:
        with llm:
            result = generate_program(detector, llm, config)
    except GenerationInterrupted as stop:  # keep the calls already paid for
        saved = _save_transcript(out, detector, "interrupted", stop.transcript)
        err_console.print(
            f"interrupted; the transcript so far is in {saved} (go on with --resume {saved})",
            highlight=False,
        )
        raise typer.Exit(code=130) from None

    _print_candidates(result)
    usage = result.usage
    replayed = "" if resuming is None else f" ({resuming.replayed} answered from {resume})"
    console.print(
        f"LLM calls: {usage['calls']}{replayed}, tokens in/out: {usage['input_tokens']}/"
        f"{usage['output_tokens']}",
        highlight=False,
    )
    if resuming is not None and resuming.replayed == 0:
        warnings.warn(
            f"no call of this run was in {resume}: its prompts, temperature or max_tokens "
            "differ from the earlier run's, so every call went to the provider",
            stacklevel=1,
        )
    if result.program is None:  # save the transcript so the failure can be studied
        failed = _save_transcript(out, result.detector, "failed", result.transcript)
        again = (
            f" (once the provider works, go on with --resume {failed})" if result.stopped else ""
        )
        raise ValueError(f"{result.failure_summary()}; transcript in {failed}{again}")
    if result.stopped:
        warnings.warn(
            f"the run stopped at candidate {len(result.candidates)} of {candidates}: "
            f"{result.stopped}; the best one finished before it is accepted",
            stacklevel=1,
        )
    path = save_generated(out, result.program, result.transcript)
    console.print(
        f"[bold green]accepted[/] {literal(result.program.name)} -> {path} "
        f"(transcript {path.with_suffix('.json').name})",
        highlight=False,
    )


def _print_candidates(result: GenerationResult) -> None:
    """A table of the candidates a generation run tried: status, repairs and review scores."""
    table = compact_table(f"Candidates for {result.detector}")
    for column in ("#", "status", "repairs", "hardness", "novelty", "note"):
        table.add_column(column)
    for report in result.candidates:
        scores = report.scores
        table.add_row(
            str(report.index),
            report.status,
            str(report.repair_rounds),
            f"{scores.hardness:.2f}" if scores else "-",
            f"{scores.novelty:.2f}" if scores else "-",
            literal((report.error[:80] + "...") if len(report.error) > 80 else report.error),
        )
    console.print(table)


def _save_transcript(out: Path, detector: str, outcome: str, transcript: dict) -> Path:
    """Save the transcript of a run without a program as OUT/DETECTOR-OUTCOME-transcript.json."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{detector}-{outcome}-transcript.json"
    write_json(path, transcript)
    return path


@_one_line_errors
def programs_validate(
    directory: Annotated[
        Path, typer.Argument(help="Program store directory, or one program file.")
    ] = Path("programs"),
    timeout: Annotated[
        float,
        typer.Option(help="Seconds each program may run on the probe data."),
    ] = 60.0,
) -> None:
    """Check every program in a store, or one program file: it parses, is safe and runs."""
    from llmdas.store import validate_store

    seconds_option(timeout, "--timeout")
    checks = validate_store(directory, timeout_s=timeout)
    if not checks:
        raise FileNotFoundError(f"no program files (*.py) under {directory}")
    root = directory.parent if directory.is_file() else directory
    table = compact_table(f"Programs in {root}")
    table.add_column("file")
    table.add_column("ok")
    table.add_column("message")
    for path, ok, message in checks:
        table.add_row(
            str(path.relative_to(root)),
            "[green]yes[/]" if ok else "[red]no[/]",
            literal(message),
        )
    console.print(table)
    bad = [c for c in checks if not c.ok]
    if bad:
        raise ValueError(f"{len(bad)} of {len(checks)} program(s) failed validation")
