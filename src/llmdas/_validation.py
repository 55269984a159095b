"""Input validation at the library boundary, in the spirit of scikit-learn's ``check_array``.

Everything that enters llmdas from a user goes through :func:`check_X`, so errors name the problem
("X contains NaN", "X has 3 features, but the detector was fitted with 5") instead of surfacing as a
traceback from deep inside a detector.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

__all__ = [
    "check_X",
    "check_seconds",
    "check_feature_names",
    "check_unique_names",
    "feature_names",
    "largest_beyond",
    "require_dir",
    "require_file",
]


def _numeric_array(X, name: str) -> np.ndarray:
    """``X`` as a real-valued numeric (or boolean) array of any shape, or a ``ValueError``."""
    if sparse.issparse(X):  # np.asarray would wrap it in a 0-d object array
        raise ValueError(
            f"{name} is a sparse matrix; the detectors need dense rows: pass {name}.toarray()"
        )
    if np.ma.isMaskedArray(X) and np.ma.count_masked(X):  # np.asarray would drop the mask
        raise ValueError(
            f"{name} is a masked array with {np.ma.count_masked(X)} masked value(s), which would "
            "be read as the numbers under the mask; impute or drop them first"
        )
    if _is_pandas_frame(X):
        X = _pandas_frame_values(X, name)
    elif hasattr(X, "to_numpy"):  # polars frames, pandas series
        X = X.to_numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} cannot be read as a 2-D numeric array: {exc}") from exc
    if arr.dtype.kind in "mM":  # as float: days or seconds since 1970, and NaT as -9.2e18
        raise ValueError(
            f"{name} holds dates or durations ({arr.dtype}); encode them as numbers first "
            "(e.g. seconds since a reference time), as for a data frame's date columns"
        )
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be numeric, got values of type {arr.dtype}; "
                "encode categorical columns as numbers first"
            ) from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got complex numbers")
    return arr


def check_X(
    X,
    *,
    name: str = "X",
    min_rows: int = 1,
    n_features: int | None = None,
    require_variation: bool = False,
    column_names: list[str] | None = None,
    first_row: int | None = None,
) -> np.ndarray:
    """Return ``X`` as a finite, 2-D float64 array or raise ``ValueError`` naming the problem.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
    name : str
        How the argument is called in messages.
    min_rows : int
        Fewest rows accepted (fitting needs at least 2).
    n_features : int, optional
        Expected number of columns (the count seen at fit time).
    require_variation : bool
        Reject ``X`` whose rows are all identical (training data with nothing to learn from).
    column_names, first_row : optional
        For rows read from a file: its column names, and the number (counting from 1) of the
        row that is ``X``'s first, so that a NaN is located as the user sees the file.
    """
    arr = _numeric_array(X, name)
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1 and name.isidentifier():  # one column or one row? as scikit-learn does
            hint = f" ({name}.reshape(-1, 1) makes one column of it, {name}.reshape(1, -1) one row)"
        raise ValueError(f"{name} must be 2-D (rows x features), got {arr.ndim}-D{hint}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} has {arr.shape[0]} row(s), fewer than the {min_rows} needed")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        names = feature_names(X) or column_names
        raise ValueError(_non_finite_message(arr, name, names, first_row))
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features, but the detector was fitted with {n_features}"
        )
    if require_variation and not (arr != arr[0]).any():
        raise ValueError(
            f"every column of {name} is constant (all {arr.shape[0]} rows are identical), so "
            "there is nothing to tell anomalies apart by; check that the right data was passed"
        )
    return np.ascontiguousarray(arr)


def _non_finite_message(
    arr: np.ndarray, name: str, names: list[str] | None, first_row: int | None
) -> str:
    """How many NaN and infinite values ``arr`` holds, and where: in a table of many rows and
    columns, a count alone leaves the user to search for them."""
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(np.isinf(arr).sum())
    counts = " and ".join(
        part for n, part in ((n_nan, f"{n_nan} NaN"), (n_inf, f"{n_inf} infinite")) if n
    )
    if names is not None and len(names) != arr.shape[1]:
        names = None
    # A file's rows and columns count from 1, as its reader's other messages do; an array's from 0.
    base = 0 if first_row is None else 1
    bad = ~np.isfinite(arr)
    columns = np.flatnonzero(bad.any(axis=0))
    shown = [repr(names[j]) if names else str(j + base) for j in columns[:5]]
    more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
    where = f"column{'s' * (len(columns) > 1)} {', '.join(shown)}{more}"
    row, column = divmod(int(bad.argmax()), arr.shape[1])
    if first_row is not None:
        counted = "rows count" if names else "rows and columns count"
        where += f"; the first in row {first_row + row} ({counted} from 1)"
    else:
        where += "" if names else " (counting from 0)"
        if name.isidentifier():  # an argument's name: point at the first value, as X[row, column]
            where += f"; the first is {name}[{row}, {column}]"
    return (
        f"{name} contains {counts} value(s) in {where}; "
        "impute or drop them before fitting or scoring"
    )


def largest_beyond(X: np.ndarray, limit: float) -> tuple[int, float] | None:
    """``(column, its largest absolute value)`` of the column of ``X`` that reaches furthest past
    ``limit``; ``None`` when every value lies within ``limit``."""
    peak = np.maximum(X.max(axis=0), -X.min(axis=0))  # no |X| copy of a large X
    if not (peak > limit).any():
        return None
    j = int(peak.argmax())
    return j, float(peak[j])


def _is_pandas_frame(X) -> bool:
    return (
        type(X).__module__.startswith("pandas") and hasattr(X, "columns") and hasattr(X, "dtypes")
    )


def _pandas_frame_values(frame, name: str) -> np.ndarray:
    """A pandas frame's values as floats, naming the columns that hold no numbers.

    Nullable number columns (``Int64``, ``boolean``, ...) keep their missing values as NaN, which
    :func:`check_X` then reports as such instead of as values of type ``object``.
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    other = [
        f"{column!r} ({dtype})"
        for column, dtype in frame.dtypes.items()
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]
    if other:
        raise ValueError(
            f"{name} has columns that do not hold numbers: {preview(other, show=str)}; encode "
            "them as numbers (or drop them) first"
        )
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


def feature_names(X) -> list[str] | None:
    """The column names of a data frame ``X`` (pandas, polars, ...), or ``None``.

    As in scikit-learn, only string names count: a frame with the default integer columns, or an
    array, has no feature names.
    """
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    if not names or not all(isinstance(c, str) for c in names):
        return None
    check_unique_names(names, "X")
    return [str(c) for c in names]


def check_unique_names(names: list[str], owner: str) -> None:
    """Raise ``ValueError`` when two columns share a name, as scikit-learn does for data frames.

    Which of the two a name meant, when columns are matched or a label column is picked by name,
    would be a guess.
    """
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            what = f"names two columns {name!r}" if name else "leaves two columns without a name"
            raise ValueError(
                f"{owner} {what} (columns {seen[name]} and {j}); give every column its own name"
            )
        seen[name] = j


def check_seconds(value: Any, name: str) -> float:
    """``value`` as a time limit in seconds: a finite number > 0, or ``ValueError`` naming ``name``
    (``nan`` and ``inf`` pass a ``> 0`` test, or fail it silently, and would never time out)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        ok = False
    else:
        ok = math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def repeated(values: list[Any]) -> list[str]:
    """The values that occur more than once in ``values``, as sorted strings."""
    return sorted({str(v) for v in values if values.count(v) > 1})


def check_feature_names(
    fitted: list[str] | np.ndarray | None, given: list[str] | None, *, name: str = "X"
) -> None:
    """Raise ``ValueError`` when the columns ``given`` are not the ``fitted`` ones in their order.

    Scoring columns in the wrong order would give wrong scores without any error, since every
    column holds numbers. Nothing is checked unless both sides have names (an array has none).
    """
    if fitted is None or given is None:
        return
    fitted = [str(c) for c in fitted]
    if list(given) == fitted:
        return
    missing = [c for c in fitted if c not in set(given)]
    unexpected = [c for c in given if c not in set(fitted)]
    if not missing and not unexpected and len(given) == len(fitted):
        raise ValueError(
            f"the columns of {name} are the fitted ones in a different order; put them in the "
            f"order of fit: {preview(fitted)}"
        )
    parts = [f"missing {preview(missing)}" if missing else ""]
    parts.append(f"not seen at fit {preview(unexpected)}" if unexpected else "")
    if not missing and not unexpected:  # the same names, some of them repeated
        parts = [f"{len(given)} columns for the {len(fitted)} fitted ones"]
    raise ValueError(
        f"the columns of {name} do not match the ones the detector was fitted with: "
        + "; ".join(p for p in parts if p)
    )


def preview(names: list[str], limit: int = 6, show=repr) -> str:
    """The first ``limit`` of ``names`` for a message, then how many there are in all."""
    shown = ", ".join(show(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it is a file; otherwise an error saying what it is instead.

    ``what`` names the file in the message ("model file", "result store").
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a directory, not a file")
    if not path.is_file():
        if path.exists():  # a device, a pipe, a socket
            raise ValueError(f"{what} {path} is not a regular file")
        raise FileNotFoundError(f"{what} {path} does not exist")
    return path


def require_dir(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it is a directory; otherwise an error saying what it is instead."""
    path = Path(path)
    if path.is_file():
        raise NotADirectoryError(f"{what} {path} is a file, not a directory")
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {path} does not exist")
    return path
