# /// llmdas-program
# name = "drl-residual-drift"
# detector = "DRL"
# policy = """
# Start from borderline normal rows (training rows scored above the 90th percentile) and, for each
# one, probe a handful of candidate directions in standardised feature space (random directions
# plus the outward direction away from the training mean) with one small step each.  Keep the two
# directions along which the detector's score rises least, i.e. along which the decomposition
# residual of the representation stays small, and extrapolate the seed along them with growing
# steps (1 to 6 feature standard deviations).  Return, per seed, the farthest candidate whose score
# is still below the 99th percentile of the training scores; when no step qualifies, return the
# candidate with the lowest score.  All scoring is done in a few batched calls."""
# explanation = """
# DRL scores a row by how badly its representation is reconstructed as a convex mixture of a few
# fixed basis vectors.  Because the encoder is piecewise linear, moving a row along directions to
# which the decomposition is insensitive changes the residual little even far outside the normal
# data: such rows are clear departures from the training distribution in input space but look
# normal to DRL.  Starting from borderline rows puts the synthetic anomalies next to the decision
# boundary, and the score ceiling keeps them in the detector's blind spot, which is exactly where a
# classifier trained on normal-versus-synthetic rows can add information."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "Hand-written for llmdas following the LLM-DAS paper's program requirements; not produced by an LLM."
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    X = np.asarray(X_train, dtype=np.float64)
    n, d = X.shape
    n_samples = int(n_samples)
    if n_samples <= 0:
        return np.empty((0, d))
    # Seeded from numpy's global generator, so np.random.seed(...) makes the program reproducible.
    rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))

    def score(rows):
        # Score in a few large batches (never row by row); non-finite scores count as "very high".
        rows = rows.reshape(-1, d)
        out = np.empty(len(rows))
        for start in range(0, len(rows), 20000):
            out[start : start + 20000] = np.asarray(
                model.predict_score(rows[start : start + 20000]), dtype=np.float64
            ).ravel()
        return np.where(np.isfinite(out), out, np.inf)

    # Per-feature scale. A feature that does not vary (relative to its magnitude, so that X and
    # 1e-12 * X move alike) is not moved: any other value would give the row away.
    mean = X.mean(axis=0)
    sd = X.std(axis=0)
    varies = sd > 1e-12 * np.abs(X).max(axis=0)
    sd = np.where(varies, sd, 0.0)

    # Training scores on a subsample keep the cost small on large data sets.
    ref_idx = rng.choice(n, size=min(n, 4096), replace=False)
    ref_scores = score(X[ref_idx])
    seed_floor = np.quantile(ref_scores, 0.90)  # borderline normal rows
    ceiling = np.quantile(ref_scores, 0.99)  # "decomposition residual still small"
    pool = ref_idx[ref_scores >= seed_floor]
    if len(pool) == 0:
        pool = ref_idx
    seeds = X[rng.choice(pool, size=n_samples, replace=True)]
    seed_scores = score(seeds)

    # Candidate directions in standardised space: K-1 random ones plus the outward direction.
    K = 8
    dirs = rng.standard_normal((n_samples, K, d))
    outward = (seeds - mean) / np.where(varies, sd, 1.0)
    dirs[:, 0, :] = outward + 1e-3 * dirs[:, 0, :]  # tiny jitter: the seed may sit at the mean
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True) + 1e-12

    # Probe: one step of half a standard deviation per direction; the score increase per unit step
    # measures how fast the decomposition residual grows along that direction.
    probe = 0.5
    probe_scores = score(seeds[:, None, :] + probe * dirs * sd).reshape(n_samples, K)
    growth = (probe_scores - seed_scores[:, None]) / probe
    best = np.argsort(growth, axis=1)[:, :2]  # the two "flattest" directions per seed
    chosen = np.take_along_axis(dirs, best[:, :, None], axis=1)  # (n_samples, 2, d)

    # Extrapolate along the flat directions with growing steps and keep the farthest candidate
    # whose score stays under the ceiling.
    steps = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    cand = seeds[:, None, None, :] + steps[None, None, :, None] * chosen[:, :, None, :] * sd
    cand = cand.reshape(n_samples, -1, d)  # (n_samples, 2 * len(steps), d)
    cand_scores = score(cand).reshape(n_samples, -1)
    dist = np.tile(steps, 2)[None, :]
    ok = cand_scores <= ceiling
    far_ok = np.where(ok, dist, -np.inf).argmax(axis=1)
    lowest = cand_scores.argmin(axis=1)
    pick = np.where(ok.any(axis=1), far_ok, lowest)
    out = cand[np.arange(n_samples), pick]

    # Keep values finite and within a generous band around the training range.
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, sd)
    out = np.clip(np.nan_to_num(out, nan=0.0), lo - 3 * span, hi + 3 * span)
    return out
