# /// llmdas-program
# name = "iforest-dense-direction-shift"
# detector = "IForest"
# policy = """
# Take borderline normal rows (top decile of isolation scores) and shift a small random subset of
# their features by 1-3 feature standard deviations, choosing the features where the training data is
# dense (small inter-quantile range relative to the full range), then keep the candidates with the
# lowest isolation scores."""
# explanation = """
# Isolation Forest isolates rows with axis-parallel random splits drawn uniformly over each feature's
# range. Shifts on a few features that stay inside the overall range but leave the dense core are
# rarely isolated early, so the detector scores them low although they break the joint structure of
# normal rows: exactly the anomalies it misses."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "Hand-written for llmdas following the LLM-DAS paper's program requirements; not produced by an LLM."
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    n, d = X.shape
    scores = model.predict_score(X)
    seeds = X[np.argsort(scores)[-max(5, n // 10) :]]

    spread = X.std(axis=0)
    spread[spread == 0] = 1.0
    lo, hi = X.min(axis=0), X.max(axis=0)
    q25, q75 = np.percentile(X, [25, 75], axis=0)
    # Features whose core is narrow compared with their range: split points rarely land near it.
    density = (hi - lo) / np.maximum(q75 - q25, 1e-12)
    weights = density / density.sum() if np.isfinite(density).all() and density.sum() > 0 else None

    m = 3 * n_samples
    cand = seeds[rng.integers(len(seeds), size=m)].copy()
    n_feat = max(1, d // 4)
    for i in range(m):
        cols = rng.choice(d, size=min(n_feat, d), replace=False, p=weights)
        cand[i, cols] += (
            rng.choice([-1.0, 1.0], size=len(cols)) * rng.uniform(1, 3, len(cols)) * spread[cols]
        )
    cand = np.clip(cand, lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
