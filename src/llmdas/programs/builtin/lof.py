# /// llmdas-program
# name = "lof-cluster-fringe"
# detector = "LOF"
# policy = """
# Take borderline normal rows (top decile of LOF scores) and push each one away from its nearest
# training neighbour by 1-2 times their distance, adding a small random component; keep the
# candidates whose local outlier factor stays lowest. They form a thin fringe around the clusters."""
# explanation = """
# LOF compares a row's local density with that of its neighbours. On the fringe of a sparse cluster
# the neighbours themselves have low density, so a row pushed a little further out keeps a factor
# close to one and is scored as normal."""
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

    # Nearest training neighbour of each seed (in standardised units), in blocks to bound memory.
    unit = np.where(spread > 0, spread, 1.0)
    Zs, Zx = seeds / unit, X / unit
    nearest = np.empty_like(seeds)
    for start in range(0, len(seeds), 256):
        block = Zs[start : start + 256]
        dist = ((block[:, None, :] - Zx[None, :, :]) ** 2).sum(axis=2)
        dist[dist == 0] = np.inf  # the seed itself
        nearest[start : start + 256] = X[np.argmin(dist, axis=1)]

    m = 3 * n_samples
    idx = rng.integers(len(seeds), size=m)
    away = seeds[idx] - nearest[idx]
    cand = (
        seeds[idx]
        + rng.uniform(1, 2, size=(m, 1)) * away
        + rng.normal(scale=0.1, size=(m, d)) * spread
    )
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
