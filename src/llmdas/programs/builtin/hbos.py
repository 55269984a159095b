# /// llmdas-program
# name = "hbos-bin-combination"
# detector = "HBOS"
# policy = """
# Take borderline normal rows (top decile of HBOS scores) and resample half of their features
# independently from the training marginals (values of random other rows), producing rows whose
# every coordinate falls into a populated histogram bin but whose combination is new; keep the
# lowest-scored candidates."""
# explanation = """
# HBOS multiplies per-feature histogram densities and ignores feature interactions, so rows built from
# common per-feature values score low even when the joint pattern never appears in normal data."""
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

    m = 3 * n_samples
    cand = seeds[rng.integers(len(seeds), size=m)].copy()
    mask = rng.random((m, d)) < 0.5
    donors = X[rng.integers(n, size=(m, d)), np.arange(d)]
    cand[mask] = donors[mask]
    keep = np.argsort(model.predict_score(cand))[:n_samples]
    return cand[keep]
