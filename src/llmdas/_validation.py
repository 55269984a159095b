"""Input validation at the library boundary, in the spirit of scikit-learn's ``check_array``.

Everything that enters llmdas from a user goes through :func:`check_X`, so errors name the problem
("X contains NaN", "X has 3 features, but the detector was fitted with 5") instead of surfacing as a
traceback from deep inside a detector.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_X"]


def check_X(
    X,
    *,
    name: str = "X",
    min_rows: int = 1,
    n_features: int | None = None,
    require_variation: bool = False,
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
    """
    if hasattr(X, "to_numpy"):  # pandas / polars frames
        X = X.to_numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} cannot be read as a 2-D numeric array: {exc}") from exc
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
    if arr.ndim != 2:
        hint = " (reshape a single row with X.reshape(1, -1))" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (rows x features), got {arr.ndim}-D{hint}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} has {arr.shape[0]} row(s); at least {min_rows} are needed")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        parts = [f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else ""]
        raise ValueError(
            f"{name} contains {' and '.join(p for p in parts if p)} value(s); "
            "impute or drop them before fitting or scoring"
        )
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
