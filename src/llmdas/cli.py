"""The ``llmdas`` command line: demo, enhance, score, info, programs (and the commands other
modules register: ``cli_generate``, ``cli_benchmark``, ``cli_perf``).

Errors that come from the user's input (a missing file, bad data, a failing program) end with exit
code 1 and a one-line message; usage errors end with typer's exit code 2.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from llmdas._cli_options import detector_list, option_error
from llmdas._terminal import compact_table, console, err_console, labelled, literal, reflow
from llmdas._validation import check_feature_names
from llmdas.data import (
    DEMO_NAME,
    feature_columns,
    iter_features,
    load_dataset,
    load_features,
    paper_split,
)
from llmdas.file_formats import (
    DATASET_FORMATS,
    DEFAULT_CHUNK_ROWS,
    check_output_path,
    write_table,
)

app = typer.Typer(
    help="Enhance tabular anomaly detectors with programmatically synthesized hard anomalies.",
    no_args_is_help=True,
    add_completion=False,
)
programs_app = typer.Typer(help="Inspect synthesis programs.", no_args_is_help=True)
app.add_typer(programs_app, name="programs")


def _print_version(requested: bool) -> None:
    if requested:
        from llmdas import __version__

        console.print(f"llmdas {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Options that come before the command."""


PAPER_DETECTORS = ("PCA", "IForest", "OCSVM", "ECOD")


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # A warning is about the user's data or settings, not about the line of llmdas that raised it.
    err_console.print(labelled("[yellow]warning:[/]", message), highlight=False)


def user_errors(func):
    """Turn the errors a user can cause into a one-line message and exit code 1, and print
    warnings as one line each."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from llmdas.program import ProgramFormatError
        from llmdas.sandbox import ProgramError, SandboxUnavailableError

        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_warning
                return func(*args, **kwargs)
        except (
            ValueError,
            OSError,  # a file not found, a directory where a file is needed, no permission, ...
            LookupError,
            ProgramError,
            ProgramFormatError,
            ImportError,
            SandboxUnavailableError,
        ) as exc:
            err_console.print(labelled("[bold red]error:[/]", exc), highlight=False)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            exit_interrupted()

    return wrapper


def exit_interrupted() -> NoReturn:
    """End a command that Ctrl-C stopped with one line and exit code 130 (typer says nothing)."""
    err_console.print(
        labelled(
            "[bold red]interrupted:[/]",
            "stopped before the end; a file is written whole or not at all, so those not yet "
            "written are missing, not half-written",
        ),
        highlight=False,
    )
    raise typer.Exit(code=130) from None


def _auc_pr_roc(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return float(average_precision_score(y, scores)), float(roc_auc_score(y, scores))


@app.command()
@user_errors
def demo(
    detectors: Annotated[str, typer.Option(help="Comma-separated detector names.")] = ",".join(
        PAPER_DETECTORS
    ),
    data: Annotated[
        str, typer.Option(help="Dataset name or file; default: the embedded demo set.")
    ] = DEMO_NAME,
    label_column: Annotated[
        str,
        typer.Option(
            help="Label column of a CSV, .npy or Parquet --data table: 'last', a column name or "
            "an index (the AUCs need labels)."
        ),
    ] = "last",
    seed: Annotated[int, typer.Option(help="Random seed.", min=0, max=2**32 - 1)] = 42,
) -> None:
    """Run base vs enhanced detectors on the embedded demo data (paper split) and compare."""
    from llmdas.enhanced import EnhancedDetector

    names = detector_list(detectors)
    labels = _label_column(label_column)
    if labels is None:
        raise typer.BadParameter(
            "demo compares AUCs on the test rows, which needs their labels: --label-column names "
            "the column that holds them",
            param_hint="--label-column",
        )
    X, y = load_dataset(data, label_column=labels)
    X_train, X_test, y_test = paper_split(X, y)
    console.print(
        f"[bold]{data}[/]: {X_train.shape[0]} training rows (normal only), {X_test.shape[0]} test rows "
        f"({int(y_test.sum())} anomalies), {X.shape[1]} features; seed {seed}"
    )
    table = compact_table("Base vs enhanced on the test set (AUC-PR, AUC-ROC)")
    for column in (
        "detector",
        "PR base",
        "PR enh.",
        "ΔPR",
        "ROC base",
        "ROC enh.",
        "ΔROC",
        "fit s",
    ):
        table.add_column(column, justify="left" if column == "detector" else "right", no_wrap=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("enhancing", total=len(names))
        for name in names:
            progress.update(task, description=f"enhancing {name}")
            model = EnhancedDetector(name, random_state=seed).fit(X_train)
            base_pr, base_roc = _auc_pr_roc(y_test, model.base_decision_function(X_test))
            enh_pr, enh_roc = _auc_pr_roc(y_test, model.decision_function(X_test))
            table.add_row(
                name,
                f"{base_pr:.4f}",
                f"{enh_pr:.4f}",
                _signed(enh_pr - base_pr),
                f"{base_roc:.4f}",
                f"{enh_roc:.4f}",
                _signed(enh_roc - base_roc),
                f"{sum(model.timings_.values()):.2f}",
            )
            progress.advance(task)
    console.print(table)


def _signed(value: float) -> str:
    colour = "green" if value > 0 else "red" if value < 0 else "white"
    return f"[{colour}]{value:+.4f}[/]"


def _label_column(text: str) -> str | int | None:
    """``--label-column``: 'none', 'last', an integer index or a header name."""
    if text.lower() == "none":
        return None
    if text.lower() == "last":
        return -1
    try:
        return int(text)
    except ValueError:
        return text


_LABEL_COLUMN_HELP = (
    "Label column of a CSV, .npy or Parquet table: 'last', 'none' (no labels), a column name "
    "or an index."
)


# Options that `enhance` and `score` share.
_ScoresOutOption = Annotated[
    Path, typer.Option(help="Where to write the scores (.csv, .npy or .parquet).")
]
_LabelsOutOption = Annotated[
    Path | None,
    typer.Option(help="Also write 0/1 labels (1 = anomaly, score above threshold_) here."),
]
_MODEL_HELP = "A model saved by `llmdas enhance --save` (a pickle: open only models you trust)."
_NJobsOption = Annotated[
    int,
    typer.Option(
        "--n-jobs",
        min=1,
        help="Threads for the classifier's trees, in fitting and scoring: 2 roughly halves the "
        "classifier's share of scoring a large file, and slows down small ones.",
    ),
]
_ChunkRowsOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="Rows of the file to score (CSV, .npy or Parquet) read and scored at a time, "
        "which bounds the memory a large file needs.",
    ),
]
_PartsOption = Annotated[
    bool,
    typer.Option(
        "--parts",
        help="Also write each score's two summands, the detector's evidence and the "
        "classifier's: columns score, base, classifier (a 3-column array for .npy).",
    ),
]


@app.command()
@user_errors
def enhance(
    detector: Annotated[str, typer.Option(help="Base detector name (e.g. PCA, IForest).")],
    data: Annotated[
        Path,
        typer.Option(
            help=f"Training data: {DATASET_FORMATS}. Rows labelled 1 (anomalies) are dropped "
            "before fitting; with --label-column none every row trains."
        ),
    ],
    scores_out: _ScoresOutOption,
    score_data: Annotated[
        Path | None, typer.Option(help="Rows to score (default: every row of --data).")
    ] = None,
    label_column: Annotated[str, typer.Option(help=_LABEL_COLUMN_HELP)] = "last",
    score_label_column: Annotated[
        str | None,
        typer.Option(help="Label column of a --score-data table (default: as --label-column)."),
    ] = None,
    labels_out: _LabelsOutOption = None,
    contamination: Annotated[
        float,
        typer.Option(
            help="Share of training rows above the threshold that --labels-out uses, in (0, 0.5]."
        ),
    ] = 0.1,
    parts: _PartsOption = False,
    detector_param: Annotated[
        list[str] | None,
        typer.Option(
            "--detector-param",
            help="A constructor argument of the base detector as NAME=VALUE, e.g. "
            "n_estimators=200 (repeat the option for more).",
        ),
    ] = None,
    weight: Annotated[
        str,
        typer.Option(
            help="Classifier weight: 'auto' (from how well it separates its synthetic rows) or a "
            "number >= 0; 0 scores with the base detector alone."
        ),
    ] = "auto",
    weight_scale: Annotated[
        str,
        typer.Option(
            help="Largest automatic weight: 'auto' (the scale tuned for a built-in program, 0.7 "
            "for any other) or a number >= 0."
        ),
    ] = "auto",
    n_synthetic: Annotated[
        str,
        typer.Option(
            help="Synthetic anomalies: a fraction of the training rows, written with a point "
            "(0.5, 1.0), or a count (500)."
        ),
    ] = "0.5",
    normalization: Annotated[
        str,
        typer.Option(
            help="Score fusion: 'tail' (llmdas's) or 'minmax' (the paper's; with --weight 1 "
            "--n-synthetic 0.1 --no-distance-feature its fusion rule, amount of synthetic rows "
            "and classifier input)."
        ),
    ] = "tail",
    no_distance_feature: Annotated[
        bool,
        typer.Option(
            "--no-distance-feature",
            help="Give the classifier the columns alone, as the paper does, without each row's "
            "distance to its nearest training rows.",
        ),
    ] = False,
    program: Annotated[
        str | None,
        typer.Option(help="Program file or built-in name (default: built-in for the detector)."),
    ] = None,
    save: Annotated[Path | None, typer.Option(help="Save the fitted model here (joblib).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.", min=0, max=2**32 - 1)] = 0,
    program_timeout: Annotated[
        float, typer.Option(help="Seconds the synthesis program may run.")
    ] = 120.0,
    on_program_error: Annotated[
        str,
        typer.Option(
            help="What a program that fails (crashes, times out, returns bad rows) does: 'raise' "
            "stops with its error; 'base' warns and scores with the base detector alone."
        ),
    ] = "raise",
    chunk_rows: _ChunkRowsOption = DEFAULT_CHUNK_ROWS,
    n_jobs: _NJobsOption = 1,
) -> None:
    """Fit an enhanced detector on the normal rows of DATA and write anomaly scores."""
    from llmdas.detectors import canonical_name, make_detector
    from llmdas.programs import load_program
    from llmdas.sandbox import check_source

    check_outputs(  # a wrong suffix must not cost a fit
        {"--scores-out": scores_out, "--labels-out": labels_out, "--save": save},
        {
            "--data": data,
            "--score-data": score_data,
            "--program": Path(program) if program else None,
        },
        tables=_TABLE_OUTPUTS,
    )
    if score_label_column is not None and score_data is None:
        raise ValueError("--score-label-column is the label column of --score-data: give both")
    detector = canonical_name(detector)  # before the data are read
    # A program that cannot run is found now, not by the fit after the data are read.
    loaded = load_program(program) if program else None
    if loaded is not None and on_program_error == "raise":
        check_source(loaded.file_aligned_source)
    params = _detector_params(detector_param or [])
    if "random_state" in params:  # one seed feeds the detector, the program and the classifier
        raise ValueError(
            "--detector-param random_state: the base detector's seed is --seed's, which also "
            "seeds the program and the classifier; pass --seed instead"
        )
    base = make_detector(detector, random_state=seed, **params) if params else detector
    model = _checked_model(  # before the data are read, which may take minutes
        base,
        program=loaded,
        weight=_auto_or_number(weight, "--weight"),
        weight_scale=_auto_or_number(weight_scale, "--weight-scale"),
        n_synthetic=_n_synthetic(n_synthetic),
        normalization=normalization,
        distance_feature=not no_distance_feature,
        contamination=contamination,
        random_state=seed,
        program_timeout=program_timeout,
        on_program_error=on_program_error,
        n_jobs=n_jobs,
    )
    labels = _label_column(label_column)
    columns = feature_columns(data, label_column=labels)
    X, X_train = _training_rows(data, labels)
    score_labels = labels if score_label_column is None else _label_column(score_label_column)

    def score_chunks() -> Iterable[np.ndarray]:
        """The rows to score: every row of --data, or those of --score-data a chunk at a time."""
        if score_data is None:
            return [X]
        return iter_features(score_data, label_column=score_labels, chunk_rows=chunk_rows)

    if score_data is not None:  # checked before the fit, which may take minutes
        inherited = labels if score_label_column is None else None
        _check_score_data(score_data, columns, score_labels, inherited)
        # A first pass checks every chunk and keeps none, so memory does not grow with the file;
        # the rows are read again after the fit.
        for _ in _of_width(score_chunks(), X.shape[1], score_data, f"{data.name} has"):
            pass
    model.fit(X_train)
    if columns is not None:
        # The CLI reads CSV and Parquet files itself, so it records their column names as fit
        # records those of a data frame; `llmdas score` checks new files against them.
        model.feature_names_in_ = np.asarray(columns, dtype=object)
    _print_fit(model, len(X_train))
    if save is not None:  # first, so that the fit is kept whatever happens to the scores
        model.save(save)
        console.print(f"saved model to {save}")
    n_written = _write_scores(model, score_chunks(), scores_out, labels_out, parts)
    also = "" if labels_out is None else f" and their labels to {labels_out}"
    console.print(f"wrote {n_written} scores to {scores_out}{also}")


def _training_rows(data: Path, labels: str | int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every row of ``data`` and its normal rows (those not labelled 1), which the fit uses."""
    if labels is None:
        X = load_features(data)
        return X, X
    X, y = load_dataset(data, label_column=labels)
    X_train = X[y == 0]
    if len(X_train) == 0:
        raise ValueError(
            f"{data.name} has no normal rows to fit on: every row is labelled 1 (anomaly); "
            "if the file has no label column, pass --label-column none"
        )
    if len(X_train) < len(X):  # said, so that a 0/1 feature taken for labels is seen
        where = "the last column" if labels == -1 else f"column {labels!r}"
        if data.suffix in (".npz", ".mat"):
            where = "y"
        console.print(
            f"{data.name}: {len(X) - len(X_train)} of {len(X)} rows are labelled 1 "
            f"(anomaly) in {where} and are not fitted (--label-column none fits every row)",
            highlight=False,
        )
    return X, X_train


def _check_score_data(
    score_data: Path,
    columns: list[str] | None,
    score_labels: str | int | None,
    inherited_labels: str | int | None,
) -> None:
    """Refuse a --score-data table whose columns differ from --data's, or that lacks the label
    column it inherits (``inherited_labels``) from --label-column."""
    header = feature_columns(score_data)  # every column; None without a header row
    if isinstance(inherited_labels, str) and header is not None and inherited_labels not in header:
        raise ValueError(
            f"{score_data.name} has no label column named {inherited_labels!r}; if it holds no "
            "labels, pass --score-label-column none"
        )
    _check_columns(columns, score_data, score_labels)


def _print_fit(model, n_train: int) -> None:
    """Say what was fitted, and whether the classifier takes part (weight 0: the base alone)."""
    written_for = _other_detector(model.program_.detector, model.detector_name_)
    other = f" (written for {written_for})" if written_for else ""
    n_synthetic = 0 if model.synthetic_ is None else len(model.synthetic_)
    console.print(
        f"fitted {model.detector_name_} + {model.program_.name}{other} on {n_train} normal rows "
        f"({n_synthetic} synthetic anomalies) in {sum(model.timings_.values()):.1f} s"
    )
    if model.program_error_ is not None:
        console.print("no classifier: the program failed (warning above); the base detector alone")
    else:
        console.print(
            f"classifier weight {model.weight_:.2f} (separability of its synthetic rows "
            f"{model.separability_:.3f}; 0 = the base detector alone)"
        )


@app.command()
@user_errors
def score(
    model: Annotated[Path, typer.Option(help=_MODEL_HELP)],
    data: Annotated[Path, typer.Option(help=f"Rows to score: {DATASET_FORMATS}.")],
    scores_out: _ScoresOutOption,
    label_column: Annotated[str, typer.Option(help=_LABEL_COLUMN_HELP)] = "none",
    labels_out: _LabelsOutOption = None,
    parts: _PartsOption = False,
    chunk_rows: _ChunkRowsOption = DEFAULT_CHUNK_ROWS,
    n_jobs: _NJobsOption = 1,
) -> None:
    """Score the rows of DATA with a saved enhanced detector (no refitting)."""
    from llmdas.enhanced import load

    check_outputs(
        {"--scores-out": scores_out, "--labels-out": labels_out},
        {"--model": model, "--data": data},
        tables=_TABLE_OUTPUTS,
    )
    fitted = load(model)
    if fitted.classifier_ is not None and "n_jobs" in fitted.classifier_.get_params():
        # Only how many threads predict: the scores are the same for any count.
        fitted.classifier_.set_params(n_jobs=n_jobs)
    labels = _label_column(label_column)
    _check_columns(getattr(fitted, "feature_names_in_", None), data, labels)
    chunks = iter_features(data, label_column=labels, chunk_rows=chunk_rows)
    hint = "--label-column" if labels is None else None
    chunks = _of_width(chunks, fitted.n_features_in_, data, "the model was fitted on", hint)
    n_written = _write_scores(fitted, chunks, scores_out, labels_out, parts)
    wrote = scores_out if labels_out is None else f"{scores_out} and {labels_out}"
    console.print(f"scored {n_written} rows of {data.name} with {model.name}; wrote {wrote}")


@app.command()
@user_errors
def info(
    model: Annotated[Path, typer.Argument(help=_MODEL_HELP)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the description as one JSON object.")
    ] = False,
) -> None:
    """Describe a saved model: detector, program, training data, classifier weight, threshold."""
    from llmdas.enhanced import load

    about = _describe(load(model))
    if as_json:
        # Plain output, not rich's: a program reads it. Detector settings that JSON cannot
        # hold (an array, an object) appear as their repr.
        typer.echo(json.dumps(about, indent=2, default=repr))
        return
    program, versions = about["program"], about["versions"]
    params = ", ".join(f"{name}={value!r}" for name, value in about["detector_params"].items())
    names = about["feature_names"]
    separability = about["separability"]
    origin = [f"sha256 {program['sha256'][:12]}"]
    origin += [str(program[key]) for key in ("author", "generator") if program[key]]
    written_for = _other_detector(program["detector"], about["detector"])
    if written_for:
        origin.append(f"written for {written_for}")
    rows = [
        ("detector", f"{about['detector']}({params})"),
        ("program", f"{program['name']} ({', '.join(origin)})"),
        ("trained on", f"{about['n_train']} rows x {about['n_features']} features"),
        ("feature names", "none recorded" if names is None else _name_list(names)),
        ("synthetic anomalies", str(about["n_synthetic"])),
        ("classifier", about["classifier"] or "none"),
        ("classifier input", _input_text(about) if about["classifier"] else "none"),
        ("separability", "none" if separability is None else f"{separability:.3f}"),
        ("classifier weight", _weight_text(about["weight"], about["weight_scale"])),
        ("fusion", _fusion_text(about["fusion"])),
        ("contamination", f"{about['contamination']:g}"),
        ("threshold_", f"{about['threshold']:.6g}"),
        ("fit seconds", ", ".join(f"{k} {v:.3f}" for k, v in about["fit_seconds"].items())),
        ("fitted with", ", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded"),
    ]
    if about["program_error"] is not None:
        rows.append(
            ("program error", f"{literal(about['program_error'])} (fell back to the detector)")
        )
    table = Table(title=str(model), show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


#: How the fusion normalises the classifier's score, by the class of the fitted normaliser.
_CLASSIFIER_EVIDENCE = {
    "TailNormalizer": "tail",
    "EcdfNormalizer": "squared-rank",
    "MinMaxNormalizer": "minmax",
}


def _fusion_text(fusion: dict[str, Any]) -> str:
    if fusion["normalization"] == "minmax":
        return "min-max of both scores (the paper's rule)"
    text = "tail evidence of the base score + weight x " + (
        "tail evidence of the classifier score"
        if fusion["classifier"] == "tail"
        else "squared classifier rank"
    )
    if fusion["base_ceiling"] is not None:
        text += f"; base scores first as -log({fusion['base_ceiling']:.6g} - score)"
    return text


def _input_text(about: dict[str, Any]) -> str:
    distance = about["distance_feature"]
    if distance is None:
        return "the standardised columns"
    return (
        f"the standardised columns and the distance to the {distance['neighbours']} nearest of "
        f"{distance['reference_rows']} distinct training rows"
    )


def _name_list(names: list[str]) -> str:
    """``a, b, c``; quoted where a name holds a comma, so that ``'x, mm', y`` reads as two."""
    return (
        ", ".join(repr(name) for name in names)
        if any("," in n for n in names)
        else ", ".join(names)
    )


def _other_detector(written_for: str, detector: str) -> str | None:
    """The detector a program was written for, where it is a known one other than ``detector``:
    a cross use, allowed but easy to make by mistake. ``None`` for a baseline's ``any``."""
    from llmdas.detectors import known_name

    known = known_name(written_for)
    return known if known not in (None, detector) else None


def _describe(fitted) -> dict[str, Any]:
    """What ``llmdas info`` says of a fitted model, as plain values."""
    from llmdas.detectors import changed_params

    program = fitted.program_
    names = getattr(fitted, "feature_names_in_", None)
    separability = float(fitted.separability_)  # NaN after a fallback to the detector
    base_map = getattr(fitted, "_base_map", None)  # absent from models saved before it
    distance = getattr(fitted, "distance_feature_", None)  # likewise
    return {
        "detector": fitted.detector_name_,
        "detector_params": changed_params(fitted.detector_),
        "program": {
            "name": program.name,
            "detector": program.detector,  # the one it was written for; "any" for the baselines
            "sha256": program.sha256,
            "author": program.provenance.get("author"),  # None: the program does not say
            "generator": program.provenance.get("generator"),
        },
        "n_train": len(fitted.base_scores_),
        "n_features": int(fitted.n_features_in_),
        "feature_names": None if names is None else [str(name) for name in names],
        "n_synthetic": 0 if fitted.synthetic_ is None else len(fitted.synthetic_),
        "classifier": None if fitted.classifier_ is None else type(fitted.classifier_).__name__,
        "distance_feature": None
        if distance is None
        else {"neighbours": distance.k, "reference_rows": int(distance.index.n_samples_fit_)},
        "separability": separability if math.isfinite(separability) else None,
        "weight": float(fitted.weight_),
        # The automatic weight's largest value; None for a fixed weight and for models saved
        # before the scale was recorded (METHOD_VERSION 8).
        "weight_scale": getattr(fitted, "weight_scale_", None) if fitted.weight == "auto" else None,
        "fusion": {
            "normalization": fitted.normalization,
            # "squared-rank": a model fitted before METHOD_VERSION 7 (llmdas.fusion.EcdfNormalizer).
            "classifier": _CLASSIFIER_EVIDENCE[type(fitted._clf_norm).__name__],
            # OCSVM's scores enter the fusion as -log(ceiling - s) (llmdas.fusion.LogGap).
            "base_ceiling": None if base_map is None else base_map.ceiling,
        },
        "contamination": float(fitted.contamination),
        "threshold": float(fitted.threshold_),
        "fit_seconds": dict(fitted.timings_),
        # Absent from models saved before versions were recorded.
        "versions": dict(getattr(fitted, "versions_", {})),
        "program_error": None if fitted.program_error_ is None else str(fitted.program_error_),
    }


def _check_columns(fitted: np.ndarray | list[str] | None, data: Path, label_column) -> None:
    """Refuse a CSV or Parquet file that names other columns than the model was fitted on, and
    warn, as ``decision_function`` does for arrays and frames, where one side has no names."""
    from llmdas.enhanced import FeatureNamesWarning

    given = feature_columns(data, label_column=label_column)
    if (fitted is None) != (given is None):
        warnings.warn(
            f"{data.name} does not name its columns (no header row), but the model was fitted with "
            "column names; its columns are taken to be the fitted ones in their order"
            if given is None
            else f"{data.name} names its columns, but the model was fitted without names; "
            "they are not checked",
            FeatureNamesWarning,
            stacklevel=2,
        )
    try:
        check_feature_names(fitted, given, name=data.name)
    except ValueError as exc:
        one_more = fitted is not None and given is not None and len(given) == len(fitted) + 1
        if label_column is None and one_more:
            raise ValueError(f"{exc} (if that column holds labels, pass --label-column)") from None
        raise


def _of_width(
    chunks: Iterable[np.ndarray],
    width: int,
    data: Path,
    expected: str,
    label_option: str | None = None,
) -> Iterator[np.ndarray]:
    """The chunks of ``data``; the first with other than ``width`` columns fails, saying
    ``expected`` before the width, and naming ``label_option`` when one column is extra."""
    for chunk in chunks:
        if chunk.shape[1] != width:
            hint = (
                f" (if one of them holds labels, pass {label_option})"
                if label_option is not None and chunk.shape[1] == width + 1
                else ""
            )
            raise ValueError(
                f"{data.name} has {chunk.shape[1]} feature columns, {expected} {width}{hint}"
            )
        yield chunk


def _detector_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` items as constructor arguments; a value is a Python literal or a word."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--detector-param takes NAME=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()  # a bare word such as rbf or auto
        params[name.strip()] = value
    return params


# The EnhancedDetector parameters that options of `enhance` set (--n-synthetic sets n_synthetic),
# for its errors about them.
_OPTION_PARAMS = frozenset(
    {
        "weight",
        "weight_scale",
        "n_synthetic",
        "normalization",
        "contamination",
        "program_timeout",
        "on_program_error",
        "n_jobs",
    }
)


def _checked_model(detector, **settings):
    """An unfitted EnhancedDetector whose settings are checked now, not when it is fitted; an
    error about one names its option (``--weight must be ...``)."""
    from llmdas.enhanced import EnhancedDetector

    try:
        model = EnhancedDetector(detector, **settings)  # PyOD checks contamination here
        model._check_params()  # the others are checked at fit, as scikit-learn does
    except ValueError as exc:
        raise option_error(exc, _OPTION_PARAMS) from None
    return model


def _weight_text(weight: float, scale: float | None) -> str:
    """The fusion weight, and for an automatic one the most it could have been."""
    if scale is None:
        return f"{weight:.3f} (0 = the base detector alone)"
    return f"{weight:.3f} of at most {scale:g} (0 = the base detector alone)"


def _auto_or_number(text: str, option: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{option} must be 'auto' or a number >= 0, got {text!r}") from None


def _n_synthetic(text: str) -> float | int:
    """A count when ``text`` is a whole number (``500``), else a fraction (``0.5``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"--n-synthetic must be a fraction of the training rows or a count, got {text!r}"
        ) from None


# The options whose files write_table writes (their suffix sets the format).
_TABLE_OUTPUTS = ("--scores-out", "--labels-out")


def check_outputs(
    outputs: dict[str, Path | None],
    inputs: dict[str, Path | None],
    *,
    tables: tuple[str, ...] = (),
) -> None:
    """Refuse, before any work, an output that is an input file, another output or a directory:
    writing it would destroy what the command reads (or has just written); or one in a folder
    where no file can be made, which would fail only after the work. The outputs named in
    ``tables`` are written by :func:`llmdas.file_formats.write_table`, and their suffix is
    checked too."""
    taken = {path.resolve(): option for option, path in inputs.items() if path and path.is_file()}
    for option, path in outputs.items():
        if path is None:
            continue
        if option in tables:
            check_output_path(path)
        if path.is_dir():
            raise ValueError(f"{option} {path} is a directory; name a file in it")
        check_can_create(option, path, path.parent)
        key = path.resolve()
        if key in taken:
            raise ValueError(
                f"{option} {path} is also the {taken[key]} file; writing it would overwrite "
                "that: choose another path"
            )
        taken[key] = option


def check_can_create(option: str, path: Path, folder: Path) -> None:
    """Refuse ``path`` of ``option`` when nothing can be created in ``folder`` (made if missing,
    with its parents): the command would fail only after its work."""
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():  # it would go inside a file
        raise ValueError(f"{option} {path} cannot be written: {existing} is a file")
    try:  # a real write, not os.access, which says yes to root even where nothing can be made
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as exc:
        raise ValueError(
            f"{option} {path} cannot be written: nothing can be created in {existing} "
            f"({exc.strerror})"
        ) from None


def _write_scores(
    model,
    chunks: Iterable[np.ndarray],
    scores_out: Path,
    labels_out: Path | None,
    parts: bool = False,
) -> int:
    """Write ``model``'s scores of the rows in ``chunks`` (and, if asked, their 0/1 labels).

    Every chunk is scored before anything is written, so that a bad row anywhere leaves no
    partial output. Returns the number of rows.
    """
    from llmdas.enhanced import FeatureNamesWarning

    with warnings.catch_warnings():
        # The file's columns were checked against the fitted ones (_check_columns); its rows come
        # as plain arrays.
        warnings.simplefilter("ignore", FeatureNamesWarning)
        scored = [model.score_parts(X) for X in chunks]
    base = np.concatenate([p.base for p in scored])
    classifier = np.concatenate([p.classifier for p in scored])
    scores = base + classifier
    if parts:
        write_table(scores_out, {"score": scores, "base": base, "classifier": classifier})
    else:
        write_table(scores_out, {"score": scores})
    if labels_out is not None:
        # PyOD's rule: a row is an anomaly when its score exceeds threshold_.
        write_table(labels_out, {"label": (scores > model.threshold_).astype(np.int64)}, "%d")
    return len(scores)


@programs_app.command("list")
def programs_list() -> None:
    """List the built-in synthesis programs."""
    from llmdas.programs import list_builtin

    table = compact_table("Built-in synthesis programs")
    for column in ("name", "detector", "author", "generator", "sha256"):
        table.add_column(column)
    for program in list_builtin():
        prov = program.provenance
        table.add_row(
            program.name,
            program.detector,
            prov.get("author", "?"),
            prov.get("generator", "?"),
            program.sha256[:12],
        )
    console.print(table)


@programs_app.command("show")
@user_errors
def programs_show(
    name: Annotated[str, typer.Argument(help="Program name, detector name or .py file.")],
) -> None:
    """Show one program: policy, explanation, provenance and code."""
    from llmdas.programs import load_program

    program = load_program(name)
    console.print(
        f"[bold]{literal(program.name)}[/] (detector {literal(program.detector)}, "
        f"sha256 {program.sha256[:12]})"
    )
    console.print(
        f"\n[bold]Policy[/]\n{literal(reflow(program.policy))}\n\n"
        f"[bold]Explanation[/]\n{literal(reflow(program.explanation))}\n"
    )
    console.print("[bold]Provenance[/]")
    for key, value in program.provenance.items():
        console.print(f"  {literal(key)}: {literal(value)}", highlight=False)
    console.print(
        Syntax(program.source, "python", line_numbers=True, start_line=program.first_line)
    )


def _register_stage1() -> None:
    from llmdas.cli_generate import generate, programs_validate

    app.command("generate")(generate)
    programs_app.command("validate")(programs_validate)


_register_stage1()


def main() -> None:  # pragma: no cover - console entry point
    app()


# Commands that live in their own modules: benchmark, summary and report; perf.
from llmdas.cli_benchmark import register as _register_benchmark  # noqa: E402
from llmdas.cli_perf import register as _register_perf  # noqa: E402

_register_benchmark(app)
_register_perf(app)
