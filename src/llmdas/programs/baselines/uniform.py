# /// llmdas-program
# name = "uniform"
# detector = "any"
# policy = """
# Draw every feature independently and uniformly from the bounding box of the training data widened
# by 10 % of its range (5 % on each side). The detector is never consulted."""
# explanation = """
# Baseline for the benchmark: uniform background noise, the oldest recipe for turning one-class
# learning into binary classification. Most such points are far from the data and easy, which is
# exactly what detector-aware hard anomalies are meant to improve on."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "baseline, not detector-aware"
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.05 * (hi - lo)
    return rng.uniform(lo - pad, hi + pad, size=(n_samples, X.shape[1]))
