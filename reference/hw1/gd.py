"""Problem 1: gradient descent on least squares, L(w) = ½‖Xw − y‖², through the SVD.

``X``: ``(m, d)`` of full column rank (m ≥ d), ``y``: ``(m, 1)``, ``w``: ``(d, 1)``.
With X = U Σ Vᵀ and singular values σ₁ ≥ … ≥ σ_d > 0, the GD error w_t − w* along
the right singular vector vᵢ is multiplied by 1 − η σᵢ² at every step.
"""

from __future__ import annotations

import numpy as np


def _col(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=float).reshape(-1, 1)


def _singular_values(X: np.ndarray) -> np.ndarray:
    """The singular values of ``X``, largest first (1-D, length min(m, d))."""
    return np.linalg.svd(np.asarray(X, dtype=float), compute_uv=False)


def ls_grad(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """∂L/∂w = (Xw − y)ᵀX.  ``X``: ``(m, d)``, ``y``: ``(m, 1)``, ``w``: ``(d, 1)`` → row ``(1, d)``."""
    X = np.asarray(X, dtype=float)
    return (X @ _col(w) - _col(y)).T @ X


def gd_iterates(X: np.ndarray, y: np.ndarray, w0: np.ndarray, lr: float, T: int) -> np.ndarray:
    """T steps of w ← w − lr ∇L(w) from ``w0``.

    ``X``: ``(m, d)``, ``y``: ``(m, 1)``, ``w0``: ``(d, 1)`` → ``(T + 1, d)``; row t is w_tᵀ,
    row 0 is w0ᵀ.
    """
    w = _col(w0)
    rows = [w.T.copy()]
    for _ in range(int(T)):
        w = w - lr * ls_grad(X, y, w).T
        rows.append(w.T.copy())
    return np.vstack(rows)


def error_factors(s: np.ndarray, lr: float) -> np.ndarray:
    """1 − lr·sᵢ² per singular value.  ``s``: any shape with k entries → 1-D ``(k,)``.

    The component of w_t − w* along vᵢ is multiplied by this factor each step:
    vᵢᵀ(w_{t+1} − w*) = (1 − lr σᵢ²) vᵢᵀ(w_t − w*).
    """
    s = np.asarray(s, dtype=float).reshape(-1)
    return 1.0 - lr * s ** 2


def max_stable_lr(X: np.ndarray) -> float:
    """2/σ₁²: GD converges from every start iff 0 < lr < this.  ``X``: ``(m, d)`` → float.

    Every factor |1 − lr σᵢ²| < 1 iff lr σᵢ² < 2 for all i, i.e. lr < 2/σ₁².
    """
    return float(2.0 / _singular_values(X)[0] ** 2)


def best_constant_lr(X: np.ndarray) -> tuple[float, float]:
    """``(lr, rate)`` minimising the slowest factor max_i |1 − lr σᵢ²|.  ``X``: ``(m, d)``, m ≥ d.

    lr = 2/(σ₁² + σ_d²) balances 1 − lr σ_d² = −(1 − lr σ₁²); then every factor is at most
    rate = (κ − 1)/(κ + 1) in magnitude, with κ = σ₁²/σ_d² the condition number of XᵀX.
    """
    s = _singular_values(X)
    top, bottom = s[0] ** 2, s[-1] ** 2
    kappa = top / bottom
    return float(2.0 / (top + bottom)), float((kappa - 1.0) / (kappa + 1.0))
