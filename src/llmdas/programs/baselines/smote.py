# /// llmdas-program
# name = "smote"
# detector = "any"
# policy = """
# SMOTE-style interpolation: pick a training row at random, pick one of its k = 5 nearest training
# neighbours (Euclidean distance on standardised features), and return a point drawn uniformly on the
# segment between them. The detector is never consulted."""
# explanation = """
# Baseline for the benchmark: interpolated rows lie inside the normal data's convex hull, so they are
# 'as hard as possible' without any knowledge of the detector. Comparing against it separates the
# value of detector-aware placement from the value of merely staying close to the data."""
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
    n, d = X.shape
    if n < 2:
        return X[np.zeros(n_samples, dtype=int)]
    spread = X.std(axis=0)
    spread[spread == 0] = 1.0
    Z = (X - X.mean(axis=0)) / spread
    sq = (Z**2).sum(axis=1)
    k = min(5, n - 1)
    seed_idx = rng.integers(n, size=n_samples)
    partner = np.empty(n_samples, dtype=int)
    # Nearest neighbours of the seeds only, in blocks, so memory stays bounded on large data.
    for start in range(0, n_samples, 256):
        rows = seed_idx[start : start + 256]
        dist = sq[rows, None] - 2.0 * Z[rows] @ Z.T + sq[None, :]
        dist[np.arange(len(rows)), rows] = np.inf
        nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
        partner[start : start + len(rows)] = nearest[
            np.arange(len(rows)), rng.integers(k, size=len(rows))
        ]
    gap = rng.uniform(size=(n_samples, 1))
    return X[seed_idx] + gap * (X[partner] - X[seed_idx])
