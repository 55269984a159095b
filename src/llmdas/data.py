"""Datasets: finding a dataset's file by name, loading it as checked rows and labels, the paper's
split, the demo set.

Dataset names resolve in the directory named by ``$LLMDAS_DATA``; when it is unset, llmdas looks in
``../shared/datasets`` next to the working directory and the repository (where the paper's 34
datasets live on the project's machines). Paths are accepted everywhere a name is. The file
formats themselves (``.npz``, ``.mat``, CSV, ``.npy``, Parquet) are read by
:mod:`llmdas.file_formats`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from llmdas._validation import check_X
from llmdas.file_formats import (
    DATASET_SUFFIXES,
    DEFAULT_CHUNK_ROWS,
    NAMED_SUFFIXES,
    TABLE_SUFFIXES,
    column_names,
    label_index,
    read_arrays,
    suffix_of,
    table_chunks,
)

__all__ = [
    "DEMO_NAME",
    "LabelColumnWarning",
    "data_dir",
    "dataset_file",
    "feature_columns",
    "iter_features",
    "list_datasets",
    "load_dataset",
    "load_demo",
    "load_features",
    "paper_split",
    "random_split",
    "required_data_dir",
    "suggest_dataset",
]


class LabelColumnWarning(UserWarning):
    """A table read without labels has a column that looks like them (named so, 0 and 1 only)."""


#: Name of the embedded demo dataset (built from scikit-learn's bundled data; no download).
DEMO_NAME = "demo"
# Column names that say "labels": named in the error about a label column that holds none.
_LABEL_NAMES = frozenset({"label", "labels", "y", "class", "target", "outlier", "anomaly"})
_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path | None:
    """The directory where dataset names are looked up, or ``None`` when none exists."""
    env = os.environ.get("LLMDAS_DATA")
    if env:
        return Path(env).expanduser()
    for candidate in (
        Path.cwd() / ".." / "shared" / "datasets",
        _REPO_ROOT / ".." / "shared" / "datasets",
    ):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def required_data_dir(given: str | Path | None = None) -> Path:
    """``given`` (a --data option), else :func:`data_dir`; an error says how to name one if
    neither is there."""
    directory = Path(given) if given is not None else data_dir()
    if directory is None:
        raise FileNotFoundError("no data directory: pass --data DIR or set $LLMDAS_DATA")
    return directory


def list_datasets(directory: str | Path | None = None) -> list[str]:
    """Names of the datasets in ``directory`` (default :func:`data_dir`), sorted, each once (a
    name that two files share, ``wbc.npz`` and ``wbc.csv``, is refused when it is looked up)."""
    directory = Path(directory) if directory is not None else data_dir()
    if directory is None or not directory.is_dir():
        return []
    return sorted(
        {
            p.name.removesuffix(suffix_of(p))
            for p in directory.iterdir()
            if suffix_of(p) in DATASET_SUFFIXES
        }
    )


def dataset_file(directory: str | Path, name: str) -> Path | None:
    """The file of dataset ``name`` in ``directory``: ``name`` itself, or ``name`` plus one of
    :data:`~llmdas.file_formats.DATASET_SUFFIXES`; ``None`` if there is none, and an error if two
    files are it."""
    # os.path.isfile, not Path.is_file: a name too long for a file is no file, not an OSError
    named_in_full = Path(directory) / name
    if suffix_of(named_in_full) in DATASET_SUFFIXES and os.path.isfile(named_in_full):
        return named_in_full  # not ambiguous, whatever else is there
    found = [
        candidate
        for suffix in DATASET_SUFFIXES
        if os.path.isfile(candidate := Path(directory) / f"{name}{suffix}")
    ]
    if len(found) > 1:
        files = " and ".join(f.name for f in found)
        raise ValueError(  # the files' own folder: a name may be a path of its own
            f"dataset {name!r} is ambiguous: {found[0].parent} holds {files}; name the file, or "
            "keep one"
        )
    return found[0] if found else None


def suggest_dataset(directory: str | Path, name: str) -> str:
    """``"; did you mean 'x'?"`` naming the datasets in ``directory`` closest to ``name``, or ``""``.

    Names are file names, so ``WBC`` does not find ``wbc.npz`` on a case-sensitive file system;
    names that differ from ``name`` only in case are then the suggestion.
    """
    by_case: dict[str, list[str]] = {}  # names compared without case
    for known in list_datasets(directory):
        by_case.setdefault(known.lower(), []).append(known)
    key = name.lower()
    near = [key] if key in by_case else difflib.get_close_matches(key, list(by_case), n=3)
    close = [known for k in near for known in by_case[k]]
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""


def _resolve(name_or_path: str | Path) -> Path:
    if not isinstance(name_or_path, str | os.PathLike):
        given = type(name_or_path).__name__
        in_memory = hasattr(name_or_path, "shape")  # an array or a data frame
        rows = " (rows in memory need no loading: pass them to fit)" if in_memory else ""
        raise TypeError(f"a dataset is named by a string or a file path, got {given}{rows}")
    path = Path(name_or_path).expanduser()
    if os.path.isfile(path):
        return path
    directory = data_dir()
    found = dataset_file(directory, str(name_or_path)) if directory is not None else None
    if found is not None:
        return found
    if os.path.isdir(path):  # checked after the names: a folder may share a dataset's name
        raise IsADirectoryError(f"{str(name_or_path)!r} is a folder, not a data file; name a file")
    where = f"in {directory}" if directory else "($LLMDAS_DATA is not set)"
    hint = suggest_dataset(directory, str(name_or_path)) if directory else ""
    raise FileNotFoundError(f"dataset {str(name_or_path)!r} not found as a file or {where}{hint}")


def load_dataset(
    name_or_path: str | Path, *, label_column: str | int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Load a labelled dataset as ``(X, y)`` with ``y == 1`` marking anomalies.

    Parameters
    ----------
    name_or_path : str or Path
        ``"demo"`` for the embedded set, a dataset name found in :func:`data_dir`, or a path to an
        ADBench ``.npz`` (arrays ``X`` and ``y``), an ODDS ``.mat`` (``X`` and ``y``; a MATLAB v7.3
        file, such as ODDS's http and smtp, needs h5py), a ``.csv`` or gzipped ``.csv.gz`` (an
        optional header row, then numbers; a first line ``0,1,2,...``, the column names of a pandas
        frame made from an array, is a header), a 2-D ``.npy`` array or a ``.parquet`` file of
        numeric columns (needs pyarrow; a pandas index stored in it is not a column).
    label_column : str or int
        For table files (CSV, ``.npy``, Parquet): the label column's name or index (default: last).

    See Also
    --------
    load_features : the rows of a file without labels (new rows to score, unlabelled training data).
    """
    if str(name_or_path) == DEMO_NAME:
        return load_demo()
    path = _resolve(name_or_path)
    X, y = read_arrays(path, label_column)
    names = feature_columns(path, label_column=label_column)
    X = check_X(X, name=f"X of {path.name}", min_rows=2, column_names=names, first_row=1)
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{path.name}: X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if y.dtype.kind in "US":  # labels stored as text, "0" and "1", read as the numbers X's are
        with contextlib.suppress(ValueError):
            y = y.astype(np.float64)
    values = np.unique(y)
    if not set(values.tolist()) <= {0, 1}:
        # Numbers as 1 or 0.5, anything else (text labels) as itself.
        shown = [f"{v:g}" if isinstance(v, int | float) else repr(v) for v in values[:4].tolist()]
        listed = ", ".join(shown) + (", ..." if len(values) > 4 else "")
        hint = ""
        if set(values.tolist()) == {-1, 1}:
            hint = (
                "; which of -1 and 1 marks anomalies is the file's convention (scikit-learn's "
                "detectors write -1): store them as 1 and normal rows as 0"
            )
        elif suffix_of(path) in TABLE_SUFFIXES:
            where = "the last column" if label_column == -1 else f"column {label_column!r}"
            hint = f"; they were read from {where} of the file"
            names = feature_columns(path) or []  # None: a format, or a CSV file, without names
            used = label_index(path, len(names), names, label_column) if names else None
            named = [n for j, n in enumerate(names) if j != used and n.lower() in _LABEL_NAMES]
            if named:
                hint += (
                    f", but the column {named[0]!r} sounds like labels: "
                    f"label_column={named[0]!r} (--label-column {named[0]})"
                )
            hint += (
                ". A table without labels loads with load_features (on the command line: "
                "--label-column none)"
            )
        raise ValueError(
            f"{path.name}: labels must be 0 (normal) and 1 (anomaly), got {len(values)} distinct "
            f"values ({listed}){hint}"
        )
    return X, y.astype(np.int64)


def load_features(name_or_path: str | Path, *, label_column: str | int | None = None) -> np.ndarray:
    """Load the rows of a dataset file as a finite 2-D array ``X``, with or without labels.

    Parameters
    ----------
    name_or_path : str or Path
        As for :func:`load_dataset`. An ``.npz`` or ``.mat`` file needs only ``X``; a ``y`` in it
        is ignored.
    label_column : str, int or None
        For table files (CSV, ``.npy``, Parquet): the column to drop as labels (and check, as
        :func:`load_dataset` does), by header name or index. ``None`` (the default): every column
        is a feature.
    """
    if str(name_or_path) == DEMO_NAME:
        return load_demo()[0]
    path = _resolve(name_or_path)
    if label_column is not None and suffix_of(path) in TABLE_SUFFIXES:
        return load_dataset(path, label_column=label_column)[0]
    names = feature_columns(path)  # None: a format, or a CSV file, without names
    X = check_X(
        read_arrays(path, None)[0], name=f"X of {path.name}", column_names=names, first_row=1
    )
    _warn_of_label_like_columns(path, X, names or [])
    return X


def _warn_of_label_like_columns(path: Path, X: np.ndarray, names: list[str]) -> None:
    """A column named like labels that holds only 0 and 1, read as a feature: its rows marked 1
    (anomalies, most likely) would train as normal rows, and the labels would score them."""
    for j, name in enumerate(names):
        if name.lower() in _LABEL_NAMES and set(np.unique(X[:, j]).tolist()) == {0.0, 1.0}:
            warnings.warn(
                f"column {name!r} of {path.name} holds only 0 and 1 and is named like labels, "
                "but is read as a feature: if it holds labels, pass "
                f"label_column={name!r} (on the command line: --label-column {name})",
                LabelColumnWarning,
                stacklevel=3,
            )


def iter_features(
    name_or_path: str | Path,
    *,
    label_column: str | int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[np.ndarray]:
    """The rows of a file as :func:`load_features` reads them, at most ``chunk_rows`` at a time.

    CSV, ``.npy`` and Parquet files are read one chunk at a time, so that scoring a file larger
    than memory holds a chunk of it, not all of it; ``.npz`` and ``.mat`` files are read whole and
    then split. Every chunk is checked as :func:`load_features` checks the whole file (numbers
    only, no missing values, the same columns throughout), and an error names the rows it is about.
    A label column is dropped without checking its values, which scoring does not use.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    path = None if str(name_or_path) == DEMO_NAME else _resolve(name_or_path)
    if path is None or suffix_of(path) not in TABLE_SUFFIXES:
        X = load_features(name_or_path)
        for start in range(0, len(X), chunk_rows):
            yield X[start : start + chunk_rows]
        return
    done, label = 0, None
    for table, header in table_chunks(path, chunk_rows):
        if label_column is not None and label is None:
            label = label_index(path, table.shape[1], header, label_column)
        if label is not None:
            table = np.delete(table, label, axis=1)
            header = None if header is None else header[:label] + header[label + 1 :]
        yield check_X(
            table,
            name=f"X of {path.name} (rows {done + 1}-{done + len(table)})",
            column_names=header,
            first_row=done + 1,
        )
        done += len(table)
    if done == 0:
        raise ValueError(f"{path.name} holds no rows")


def feature_columns(
    name_or_path: str | Path, *, label_column: str | int | None = None
) -> list[str] | None:
    """The names of a CSV or Parquet file's feature columns, or ``None`` when it names none.

    An empty CSV file (no line that is not blank) raises ``ValueError``: it holds no rows.

    ``label_column`` is dropped as :func:`load_features` drops it. Other formats carry no column
    names, and give ``None``. Only a CSV file's first line, or a Parquet file's schema, is read.
    """
    path = None if str(name_or_path) == DEMO_NAME else _resolve(name_or_path)
    if path is None or suffix_of(path) not in NAMED_SUFFIXES:
        return None
    header = column_names(path)
    if header is None:
        return None
    if label_column is not None:
        del header[label_index(path, len(header), header, label_column)]
    return header


def load_demo() -> tuple[np.ndarray, np.ndarray]:
    """The embedded demo set: scikit-learn's breast-cancer data prepared ODDS-style.

    Benign tumours are the normal class; malignant ones are anomalies, subsampled (deterministically)
    to 10 % of the rows, the way ODDS builds ``wbc`` from the same source. 30 features, 397 rows.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X, malignant = data.data, data.target == 0
    normal_idx = np.flatnonzero(~malignant)
    n_anomalies = int(round(len(normal_idx) / 9))  # anomalies = 10 % of the final set
    anomaly_idx = np.random.default_rng(0).choice(
        np.flatnonzero(malignant), n_anomalies, replace=False
    )
    keep = np.sort(np.concatenate([normal_idx, anomaly_idx]))
    return X[keep].astype(np.float64), malignant[keep].astype(np.int64)


def paper_split(X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's split: the first half of the inliers (file order) trains; the rest tests.

    Returns ``X_train, X_test, y_test``. The test set keeps file order and holds the second half of
    the inliers and every anomaly.
    """
    X, y = _check_labelled(X, y)
    inliers = np.flatnonzero(y == 0)
    train = inliers[: len(inliers) // 2]
    test_mask = np.ones(len(y), dtype=bool)
    test_mask[train] = False
    return X[train], X[test_mask], y[test_mask]


def random_split(
    X, y, seed: int = 0, train_fraction: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`paper_split`, but ``train_fraction`` of the inliers, drawn at random with
    ``seed``, trains; a fraction that leaves either side fewer than 2 inliers is refused."""
    X, y = _check_labelled(X, y)
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    inliers = np.flatnonzero(y == 0)
    n_train = int(len(inliers) * train_fraction)
    if not 2 <= n_train <= len(inliers) - 2:  # as paper_split: two normal rows on each side
        raise ValueError(
            f"train_fraction={train_fraction:g} of the {len(inliers)} normal rows trains on "
            f"{n_train} and tests on {len(inliers) - n_train}; each needs at least 2"
        )
    rng = np.random.default_rng(seed)
    train = np.sort(rng.choice(inliers, n_train, replace=False))
    test_mask = np.ones(len(y), dtype=bool)
    test_mask[train] = False
    return X[train], X[test_mask], y[test_mask]


def _check_labelled(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = check_X(X, min_rows=2)
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0 (normal) and 1 (anomaly) only")
    if np.count_nonzero(y == 0) < 4:
        raise ValueError("need at least 4 normal rows (y == 0) to split into train and test")
    if not y.any():  # every metric of the test rows would be undefined, or 0 by convention
        raise ValueError(
            "y holds no anomaly (1): the test rows would all be normal, and AUC-PR and AUC-ROC "
            "are undefined"
        )
    return X, y
