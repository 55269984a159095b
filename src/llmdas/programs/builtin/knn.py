# /// llmdas-program
# name = "knn-gap-interpolation"
# detector = "KNN"
# policy = """
# Take pairs of borderline normal rows (top decile of kNN distances) that are far apart and place
# candidates on the segment between them, slightly pushed off it; keep the candidates the detector
# still scores low. These rows fall in low-density gaps between normal clusters."""
# explanation = """
# kNN scores a row by its distance to its k-th nearest training row. Points in gaps between two
# sparse borderline regions can stay within that distance of some training rows while lying where
# no normal data exists, so the detector misses them."""
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
    # A feature that does not vary (relative to its magnitude) gets no noise: any would give the
    # row away.
    spread[spread <= 1e-12 * np.abs(X).max(axis=0)] = 0.0

    m = 3 * n_samples
    a = seeds[rng.integers(len(seeds), size=m)]
    b = seeds[rng.integers(len(seeds), size=m)]
    t = rng.uniform(0.3, 0.7, size=(m, 1))
    cand = a + t * (b - a) + rng.normal(scale=0.3, size=(m, d)) * spread
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
