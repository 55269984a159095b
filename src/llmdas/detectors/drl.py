"""DRL: Decomposed Representation Learning for tabular anomaly detection.

DRL (Ye et al., "DRL: Decomposed Representation Learning for Tabular Anomaly Detection",
ICLR 2025) is a one-class detector: it is trained on normal rows only and learns a
representation space in which every normal row can be written as a mixture of a handful of
*fixed* basis vectors.  Anomalies, which the training never had to express that way, leave a
large decomposition residual, and that residual is the anomaly score.

This is the only llmdas module that imports :mod:`torch`.  The detector registry imports it
lazily, so the rest of llmdas works without torch installed (``pip install llmdas[deep]``).

Model
-----
For a preprocessed (by default standardised) input row ``x`` in ``R^d``:

* **Encoder** ``f``: two blocks of ``Linear(bias=False) -> LeakyReLU(0.2)`` with ``hidden_dim``
  (128) units each, giving the representation ``h = f(x)``.
* **Basis** ``B``: ``n_basis`` (5) random orthonormal vectors in ``R^hidden_dim``, drawn once
  from ``random_state`` (Gaussian matrix, orthonormalised with a QR factorisation) and never
  trained.
* **Weight learner** ``phi``: ``Linear(d, hidden_dim, bias=False) -> LeakyReLU(0.2) ->
  Linear(hidden_dim, n_basis, bias=False)`` followed by a softmax, so the coefficients
  ``w = softmax(phi(x))`` are positive and sum to one.  As in the official code, ``phi`` reads
  the input ``x`` (not ``h``).
* **Decomposition** ``h' = w @ B`` (a convex combination of the basis vectors).
* **Decoder** ``g``: one ``Linear(hidden_dim, d, bias=False)``; used only by the alignment loss.

Training loss (mean over a mini-batch)::

    L = sum_k (h - h')_k ** 2                               # decomposition
        + alignment_weight  * (1 - cos(g(h), x))            # alignment, default 0.1
        + separation_weight * S(w)                          # separation, default 0.06

* *Decomposition*: the squared distance between the representation and its decomposition,
  summed over the ``hidden_dim`` coordinates (the score below uses the mean instead; the two
  differ by a constant factor).
* *Alignment*: keeps the representation informative about the input, so that the encoder cannot
  collapse everything onto the basis.  Following the official implementation this is the cosine
  between the input and its linear reconstruction ``g(h)`` from the representation; the official
  code minimises ``-cos``, we minimise ``1 - cos``, which has the same gradient.
  (A summary that reads "alignment = 1 - cos(h, h')" describes a different quantity; we follow
  the authors' code.)
* *Separation*: keeps the basis-weight patterns of different rows apart, so that the weight
  learner does not map every row to the same mixture.  For each batch a random
  ``separation_fraction`` (80 %) of its rows is drawn, the pairwise cosine similarities of their
  weight vectors ``w`` are computed, and the sum over the off-diagonal pairs divided by
  ``m ** 2`` (``m`` = rows drawn) is minimised.  This matches the official code; batches with
  fewer than two drawn rows skip the term.

Anomaly score: ``mean_k (h - h')_k ** 2`` (higher = more anomalous).

Optimisation: Adam (``lr`` 0.05, ``weight_decay`` 1e-5), :class:`torch.optim.lr_scheduler.
ExponentialLR` with ``gamma`` 0.98 stepped once per epoch, mini-batches of ``batch_size`` (512)
shuffled rows, ``epochs`` (200, the official default) epochs.

Preprocessing: the official code's default (``--preprocess standard``) standardises every
feature with a ``StandardScaler`` fitted on the training rows.  The detector does the same
internally (``preprocess="standard"``): means and standard deviations are fitted in
:meth:`DRL.fit` and reused by :meth:`DRL.decision_function`; constant features get a scale of 1.
``"minmax"`` (training min / max) and ``"none"`` mirror the official code's other options.  This
is part of the detector, not of any benchmark protocol.

Deviations from the official implementation
-------------------------------------------
* The official repository's batch scripts (``predefines.py`` / ``run_job.py``) choose the
  number of epochs (1 to 400), the preprocessing (standard / min-max / none / quantile) and the
  two loss weights *per data set*; its README and ``main.py`` defaults are the setting used
  here (200 epochs, ``standard``, weights 0.1 / 0.06, ``lr`` 0.05).  We use the defaults
  everywhere, since llmdas has no labelled validation data to tune on; this costs accuracy on
  some data sets compared with the published per-data-set figures.
* Basis: orthonormalised by QR instead of explicit Gram-Schmidt (same distribution of bases).
* Alignment uses ``1 - cos`` rather than ``-cos`` (identical gradient, non-negative loss).
* Randomness comes from ``random_state`` through private generators (global torch/numpy state
  is left untouched), so fits are reproducible on CPU.
* Scoring runs in batches of ``score_batch_size`` rows so large inputs fit in memory.
* Batches are formed from a private random permutation per epoch; the last, smaller batch is
  kept (as with a ``DataLoader`` without ``drop_last``).

Threads and global torch state
------------------------------
``n_jobs`` sets torch's intra-op thread count for the duration of :meth:`DRL.fit` /
:meth:`DRL.decision_function` and restores it afterwards (``None`` leaves it alone; for many
small fits on a shared machine ``n_jobs=1`` is usually fastest).  On CPU, :meth:`DRL.fit` also
switches on ``torch.use_deterministic_algorithms`` while it runs and restores the previous
setting; both are process-wide switches, so do not fit DRL concurrently from several threads of
one process.

Devices
-------
``device="auto"`` uses CUDA when :func:`torch.cuda.is_available` and the CPU otherwise; any
torch device string is accepted ("cuda" where no CUDA device is available is refused at fit).
All tensors are created on, or moved to, that device; the random draws are made on the CPU and
copied, so a given ``random_state`` gives the same initialisation on every device.  The CUDA
path was written to be device-agnostic but, at the time of writing, had only been exercised on
CPU.  Bit-for-bit determinism is guaranteed on CPU only (cuBLAS reductions may differ in the
last bits between runs).

Pickling stores the network weights on the CPU; unpickling rebuilds the network on the resolved
device (falling back to the CPU when the original device is unavailable).
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import torch
from pyod.models.base import BaseDetector
from sklearn.utils import check_array, check_random_state
from torch import nn
from torch.nn import functional as F

__all__ = ["DRL"]


class _DRLNetwork(nn.Module):
    """Encoder, weight learner, fixed basis and alignment decoder of DRL."""

    def __init__(self, n_features: int, hidden_dim: int, basis: torch.Tensor):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, hidden_dim, bias=False),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, hidden_dim, bias=False),
            nn.LeakyReLU(0.2),
        )
        self.weight_learner = nn.Sequential(
            nn.Linear(n_features, hidden_dim, bias=False),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_dim, basis.shape[0], bias=False),
        )
        self.decoder = nn.Linear(hidden_dim, n_features, bias=False)
        # Fixed, not trained: a buffer travels with .to(device) and the state dict.
        self.basis: torch.Tensor
        self.register_buffer("basis", basis)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the representation ``h``, its decomposition ``h'`` and the weights ``w``."""
        h = self.encoder(x)
        w = F.softmax(self.weight_learner(x), dim=1)
        return h, w @ self.basis, w


def _random_orthonormal_basis(n_basis: int, dim: int, rng: np.random.RandomState) -> np.ndarray:
    """``n_basis`` orthonormal rows in ``R^dim`` drawn from a Gaussian matrix via QR."""
    gaussian = rng.standard_normal((dim, n_basis))
    q, r = np.linalg.qr(gaussian)
    # Fix the signs so that the result is a deterministic function of the draw.
    q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
    return q.T.astype(np.float32)


def _resolve_device(device) -> torch.device:
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:  # torch lists two dozen device types; say what usually fits
        raise ValueError(
            f"device {device!r} is not a torch device ('auto', 'cpu', 'cuda')"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: no CUDA device is available to this PyTorch "
            f"({torch.__version__}); use device='auto' or 'cpu'"
        )
    return resolved


@contextlib.contextmanager
def _torch_threads(n_jobs):
    """Temporarily set torch's intra-op thread count (``None`` leaves torch's default)."""
    if n_jobs is None:
        yield
        return
    n = int(n_jobs)
    if n < 0:
        n = max(1, (os.cpu_count() or 1) + 1 + n)
    n = max(1, n)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _deterministic_on_cpu(device: torch.device):
    """Ask torch for deterministic kernels while fitting on CPU, restoring the flag after.

    On CUDA we leave the flag alone: enforcing it would need ``CUBLAS_WORKSPACE_CONFIG`` set
    before CUDA initialises, which a library must not impose on its caller.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


class DRL(BaseDetector):
    """Decomposed Representation Learning (Ye et al., ICLR 2025) as a PyOD detector.

    Trained on normal rows only; the score of a row is the mean squared residual between its
    representation and that representation's decomposition on a fixed orthonormal basis.  See
    the module docstring for the model, the losses and the deviations from the official code.

    Parameters
    ----------
    contamination : float in (0, 0.5], default 0.1
        Expected share of outliers; sets ``threshold_`` on the training scores.
    hidden_dim : int, default 128
        Width of the encoder / weight-learner layers and of the representation space.
    n_basis : int, default 5
        Number of fixed orthonormal basis vectors (must not exceed ``hidden_dim``).
    epochs : int, default 200
        Training epochs (the official default).
    batch_size : int, default 512
        Training mini-batch size.
    lr : float, default 0.05
        Adam learning rate.
    weight_decay : float, default 1e-5
        Adam weight decay.
    gamma : float, default 0.98
        Per-epoch decay factor of the exponential learning-rate schedule.
    alignment_weight : float, default 0.1
        Weight of the alignment loss ``1 - cos(decoder(h), x)``.
    separation_weight : float, default 0.06
        Weight of the separation loss on the basis weights.
    separation_fraction : float, default 0.8
        Share of each batch's rows used by the separation loss.
    preprocess : {"standard", "minmax", "none"}, default "standard"
        Internal feature scaling fitted on the training rows: z-scores, min-max to [0, 1], or
        none.
    score_batch_size : int, default 8192
        Rows per forward pass when scoring.
    n_jobs : int or None, default 1
        Torch CPU threads during fit and scoring (``-1`` = all cores); ``None`` keeps torch's
        current setting. One thread is the default because DRL's batches are small: on a 2-core
        machine under load torch's default thread pool made the demo fit 10x slower.
    device : str, default "auto"
        ``"auto"`` (CUDA if available, else CPU) or any torch device string.
    random_state : int, numpy RandomState or None, default None
        Seeds the basis, the initial weights, the batch order and the separation subsets.
        ``None`` draws a seed from numpy's global generator (so ``np.random.seed`` applies).
    verbose : bool, default False
        Print the mean loss every 10 epochs.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows (higher = more anomalous).
    threshold_ : float
        Score above which a row is labelled an outlier.
    labels_ : ndarray of shape (n_samples,)
        0/1 labels of the training rows.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    device_ : torch.device
        Device the network lives on.
    loss_history_ : list of float
        Mean training loss per epoch.
    fit_time_ : float
        Seconds spent in :meth:`fit`.
    """

    def __init__(
        self,
        contamination=0.1,
        hidden_dim=128,
        n_basis=5,
        epochs=200,
        batch_size=512,
        lr=0.05,
        weight_decay=1e-5,
        gamma=0.98,
        alignment_weight=0.1,
        separation_weight=0.06,
        separation_fraction=0.8,
        preprocess="standard",
        score_batch_size=8192,
        n_jobs=1,
        device="auto",
        random_state=None,
        verbose=False,
    ):
        super().__init__(contamination=contamination)
        self.hidden_dim = hidden_dim
        self.n_basis = n_basis
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.gamma = gamma
        self.alignment_weight = alignment_weight
        self.separation_weight = separation_weight
        self.separation_fraction = separation_fraction
        self.preprocess = preprocess
        self.score_batch_size = score_batch_size
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers
    def _check_params(self):
        for name in ("hidden_dim", "n_basis", "epochs", "batch_size", "score_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"DRL: {name} must be a positive integer, got {value!r}")
        if self.n_basis > self.hidden_dim:
            raise ValueError(
                f"DRL: n_basis ({self.n_basis}) cannot exceed hidden_dim ({self.hidden_dim}): "
                "the basis vectors must be orthonormal"
            )
        if self.preprocess not in ("standard", "minmax", "none"):
            raise ValueError(
                f"DRL: preprocess must be 'standard', 'minmax' or 'none', got {self.preprocess!r}"
            )
        if not 0.0 < float(self.separation_fraction) <= 1.0:
            raise ValueError(
                f"DRL: separation_fraction must be in (0, 1], got {self.separation_fraction!r}"
            )
        for name in ("lr", "gamma"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"DRL: {name} must be positive, got {getattr(self, name)!r}")
        for name in ("weight_decay", "alignment_weight", "separation_weight"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"DRL: {name} must be >= 0, got {getattr(self, name)!r}")

    def _validate(self, X, *, fitting: bool) -> np.ndarray:
        X = check_array(
            X,
            dtype=np.float64,
            ensure_2d=True,
            ensure_min_samples=2 if fitting else 1,
            input_name="X",
        )
        if not fitting:
            if not hasattr(self, "net_"):
                raise ValueError("DRL: call fit before decision_function")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"DRL: X has {X.shape[1]} features, but the detector was fitted on "
                    f"{self.n_features_in_} features"
                )
        return X

    def _transform(self, X: np.ndarray) -> np.ndarray:
        if self.preprocess != "none":
            X = (X - self.offset_) / self.scale_
        return X.astype(np.float32)

    @torch.no_grad()
    def _score(self, X_std: np.ndarray) -> np.ndarray:
        self.net_.eval()
        out = np.empty(X_std.shape[0], dtype=np.float64)
        step = int(self.score_batch_size)
        for start in range(0, X_std.shape[0], step):
            x = torch.from_numpy(X_std[start : start + step]).to(self.device_)
            h, h_dec, _ = self.net_(x)
            out[start : start + step] = ((h - h_dec) ** 2).mean(dim=1).double().cpu().numpy()
        return out

    # ------------------------------------------------------------------ PyOD API
    def fit(self, X, y=None):
        """Fit DRL on ``X`` (assumed normal; ``y`` is ignored) and score the training rows."""
        start_time = time.perf_counter()
        self._check_params()
        X = self._validate(X, fitting=True)
        self._set_n_classes(y)
        n_samples, n_features = X.shape
        self.n_features_in_ = n_features

        if self.preprocess == "standard":
            self.offset_ = X.mean(axis=0)
            scale = X.std(axis=0)
        elif self.preprocess == "minmax":
            self.offset_ = X.min(axis=0)
            scale = X.max(axis=0) - self.offset_
        if self.preprocess != "none":
            # Constant features: scale 1, so that they map to 0 instead of dividing by zero.
            self.scale_ = np.where(scale > 1e-12 * max(1.0, float(np.abs(X).max())), scale, 1.0)
        X_std = self._transform(X)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.device_ = _resolve_device(self.device)
        basis = torch.from_numpy(
            _random_orthonormal_basis(self.n_basis, self.hidden_dim, np.random.RandomState(seed))
        )
        # Private CPU generator: batch order and separation subsets, identical on every device.
        generator = torch.Generator().manual_seed(seed)

        with _torch_threads(self.n_jobs), _deterministic_on_cpu(self.device_):
            # Build the network under a forked, seeded global RNG so that nn.Linear's default
            # initialisation is reproducible without disturbing the caller's torch RNG.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = _DRLNetwork(n_features, self.hidden_dim, basis)
            self.net_ = net.to(self.device_)
            self.loss_history_ = self._train(X_std, generator)
            self.decision_scores_ = self._score(X_std)

        self._process_decision_scores()
        self.fit_time_ = time.perf_counter() - start_time
        return self

    def _train(self, X_std: np.ndarray, generator: torch.Generator) -> list[float]:
        net, device = self.net_, self.device_
        data = torch.from_numpy(X_std).to(device)
        n = data.shape[0]
        batch = min(int(self.batch_size), n)
        optimizer = torch.optim.Adam(
            net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(self.gamma))
        history = []
        net.train()
        for epoch in range(int(self.epochs)):
            order = torch.randperm(n, generator=generator).to(device)
            # Accumulate on the device: a per-step .item() would synchronise CUDA every batch.
            total, n_batches = torch.zeros((), device=device), 0
            for start in range(0, n, batch):
                x = data[order[start : start + batch]]
                h, h_dec, w = net(x)
                loss = ((h - h_dec) ** 2).sum(dim=1).mean()
                if self.alignment_weight:
                    cos = F.cosine_similarity(net.decoder(h), x, dim=1)
                    loss = loss + float(self.alignment_weight) * (1.0 - cos).mean()
                if self.separation_weight:
                    m = int(x.shape[0] * float(self.separation_fraction))
                    if m >= 2:
                        pick = torch.randperm(x.shape[0], generator=generator)[:m].to(device)
                        w_unit = F.normalize(w[pick], dim=1)
                        sim = w_unit @ w_unit.T
                        off_diagonal = sim.sum() - sim.diagonal().sum()
                        loss = loss + float(self.separation_weight) * off_diagonal / (m * m)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach()
                n_batches += 1
            scheduler.step()
            history.append(float(total) / max(n_batches, 1))
            if self.verbose and (epoch % 10 == 0 or epoch == int(self.epochs) - 1):
                print(f"DRL epoch {epoch + 1}/{self.epochs}: loss {history[-1]:.5f}")
        net.eval()
        return history

    def decision_function(self, X):
        """Anomaly scores of ``X`` (higher = more anomalous), shape ``(n_samples,)``."""
        X = self._validate(X, fitting=False)
        with _torch_threads(self.n_jobs):
            return self._score(self._transform(X))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        if net is not None:
            state["_net_state"] = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        state.pop("device_", None)
        return state

    def __setstate__(self, state):
        net_state = state.pop("_net_state", None)
        self.__dict__.update(state)
        if net_state is not None:
            try:
                device = _resolve_device(self.device)
            except ValueError:  # fitted on CUDA, loaded where there is none
                device = torch.device("cpu")
            with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten
                net = _DRLNetwork(self.n_features_in_, self.hidden_dim, net_state["basis"].clone())
            net.load_state_dict(net_state)
            self.device_ = device
            self.net_ = net.to(device).eval()
