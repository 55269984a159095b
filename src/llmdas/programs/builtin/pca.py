# /// llmdas-program
# name = "pca-minor-subspace"
# detector = "PCA"
# policy = """
# Take borderline normal rows (top decile of PCA scores on the training data) and move them along
# the minor principal directions of the standardised training data, by a random fraction of the
# spread those directions have. PCA scores a row by its squared projections on the principal axes,
# each divided by that axis' variance, so moves of this size leave the off-manifold residual
# moderate. Candidates are over-generated and the ones the detector scores lowest (while still
# displaced from their seeds) are kept."""
# explanation = """
# PCA's blind spot is the low-variance subspace: a row that is slightly off the normal manifold in
# minor directions but central in the major ones receives only a moderate score. Seeding from
# borderline rows puts the synthetic anomalies next to the decision boundary, and the hardness
# filter keeps those the detector misses, so a classifier trained on them learns exactly the region
# where PCA is weakest."""
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

    # Borderline seeds: the top decile of training scores (at least a handful of rows).
    order = np.argsort(scores)
    seeds = X[order[-max(5, n // 10) :]]

    # Principal directions of the standardised data; the minor half is PCA's weak spot.
    mean, spread = X.mean(axis=0), X.std(axis=0)
    spread[spread == 0] = 1.0
    Z = (X - mean) / spread
    _, sing, vt = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
    axis_sd = sing / np.sqrt(max(n - 1, 1))
    k = max(1, vt.shape[0] // 2)
    minor, minor_sd = vt[-k:], np.maximum(axis_sd[-k:], 1e-3)

    # Over-generate 3x, then keep the hardest (lowest-scored) candidates.
    m = 3 * n_samples
    base = seeds[rng.integers(len(seeds), size=m)]
    coeff = rng.normal(size=(m, k)) * minor_sd * rng.uniform(1.0, 3.0, size=(m, 1))
    cand = base + (coeff @ minor) * spread
    cand_scores = model.predict_score(cand)
    keep = np.argsort(cand_scores)[:n_samples]
    return cand[keep]
