"""llmdas's own probe data set and the detector fitted on it: what a candidate program runs on
during generation, so that neither the LLM nor the program ever sees the user's data."""

from __future__ import annotations

import numpy as np


def make_probe_data(n_rows: int = 256, seed: int = 0) -> np.ndarray:
    """llmdas's own probe data set: never the user's data.

    Seven features: a two-component Gaussian mixture in three latent dimensions, two features
    that are noisy linear combinations of those (correlations a program can break), one skewed
    (log-normal) feature and one constant column (programs must survive zero variance).
    """
    if n_rows < 16:
        raise ValueError("the probe data set needs at least 16 rows")
    rng = np.random.default_rng(seed)
    component = rng.random(n_rows) < 0.6
    centres = np.where(component[:, None], [0.0, 0.0, 0.0], [3.0, -2.0, 1.0])
    latent = centres + rng.normal(size=(n_rows, 3)) * [1.0, 0.7, 0.5]
    corr1 = 0.8 * latent[:, 0] + 0.2 * rng.normal(size=n_rows)
    corr2 = -0.6 * latent[:, 1] + 0.5 * latent[:, 2] + 0.2 * rng.normal(size=n_rows)
    skewed = rng.lognormal(mean=0.0, sigma=0.6, size=n_rows)
    constant = np.full(n_rows, 1.0)
    return np.column_stack([latent, corr1, corr2, skewed, constant])


def fit_probe_detector(detector: str, X_probe: np.ndarray, seed: int = 0):
    """Fit ``detector`` on the probe data; return ``(fitted, score_fn)``."""
    import warnings

    from llmdas.detectors import make_detector, score_detector

    # the probe's constant column makes some detectors warn (zero variance, skewness); expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = make_detector(detector, random_state=seed).fit(X_probe)
        train_scores = score_detector(fitted, X_probe)

    def score_fn(X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return score_detector(fitted, X, reference=train_scores)

    return fitted, score_fn
