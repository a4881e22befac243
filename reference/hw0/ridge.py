"""Problem 3: five views of ridge regression.

``X``: ``(n, d)``, ``y``: ``(n, 1)``, ``lam`` > 0.  The ridge solution is
``ŵ = (XᵀX + λI_d)⁻¹Xᵀy``, shape ``(d, 1)``.
"""

from __future__ import annotations

import numpy as np


def _column(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=float).reshape(-1, 1)


def ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``(XᵀX + λI_d)⁻¹ Xᵀ y`` → ``(d, 1)``."""
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ _column(y))


def ridge_gains(s: np.ndarray, lam: float) -> np.ndarray:
    """Per-direction gains ``σᵢ / (σᵢ² + λ)``, same shape as the 1-D ``s``.

    A gain is ≈ 1/σ (least squares) when σ² ≫ λ and ≈ σ/λ (shrunk to 0) when σ² ≪ λ;
    its maximum over σ is ``1/(2√λ)`` at ``σ = √λ``.
    """
    s = np.asarray(s, dtype=float)
    return s / (s**2 + lam)


def ridge_svd(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge from the full SVD ``X = UΣVᵀ``: ``V diag(σᵢ/(σᵢ²+λ)) Uᵀ y`` → ``(d, 1)``.

    The middle factor is ``(d, n)`` with the gains on its diagonal.
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    U, s, Vt = np.linalg.svd(X, full_matrices=True)
    middle = np.zeros((d, n))
    k = len(s)
    middle[np.arange(k), np.arange(k)] = ridge_gains(s, lam)
    return Vt.T @ middle @ U.T @ _column(y)


def neg_log_posterior(w: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float) -> float:
    """``‖y − Xw‖²/(2λ) + ‖w‖²/2`` (the constant C is taken as 0).

    Model: ``W ~ N(0, I_d)``, ``Y = XW + √λ N`` with ``N ~ N(0, I_n)``.  The MAP
    estimate, its minimiser, is the ridge solution.  ``w``: ``(d, 1)``.
    """
    X = np.asarray(X, dtype=float)
    r = _column(y) - X @ _column(w)
    return float((r.T @ r).item() / (2.0 * lam) + (_column(w).T @ _column(w)).item() / 2.0)


def fake_data(X: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Augmented data ``[X; √λ I_d]`` ``(n + d, d)`` and ``[y; 0]`` ``(n + d, 1)``.

    Ordinary least squares on it minimises ``‖y − Xw‖² + λ‖w‖²``.
    """
    X = np.asarray(X, dtype=float)
    d = X.shape[1]
    X_hat = np.vstack([X, np.sqrt(lam) * np.eye(d)])
    y_hat = np.vstack([_column(y), np.zeros((d, 1))])
    return X_hat, y_hat


def ridge_fake_data(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ordinary least squares on ``fake_data`` → ``(d, 1)`` (equals ``ridge``)."""
    X_hat, y_hat = fake_data(X, y, lam)
    return np.linalg.lstsq(X_hat, y_hat, rcond=None)[0]


def fake_features(X: np.ndarray, lam: float) -> np.ndarray:
    """Augmented features ``[X, √λ Iₙ]`` → ``(n, d + n)``."""
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    return np.hstack([X, np.sqrt(lam) * np.eye(n)])


def ridge_fake_features(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """First d entries of the min-norm ``η`` with ``[X, √λ Iₙ] η = y`` → ``(d, 1)``.

    ``η = Fᵀ(FFᵀ)⁻¹y`` with ``FFᵀ = XXᵀ + λIₙ``, so the first block is the kernel
    form of ridge.
    """
    X = np.asarray(X, dtype=float)
    F = fake_features(X, lam)
    eta = F.T @ np.linalg.solve(F @ F.T, _column(y))
    return eta[: X.shape[1]]


def kernel_ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``Xᵀ (XXᵀ + λIₙ)⁻¹ y`` → ``(d, 1)``; equal to ``ridge`` by the push-through identity."""
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    return X.T @ np.linalg.solve(X @ X.T + lam * np.eye(n), _column(y))


def ridge_shrinkage_direction(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``lim_{λ→∞} λ ŵ_λ = Xᵀy`` → ``(d, 1)``: ŵ_λ ≈ Xᵀy/λ for large λ."""
    return np.asarray(X, dtype=float).T @ _column(y)


def ridge_limit_zero(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``lim_{λ→0⁺} ŵ_λ = X⁺ y`` for any X (tall, wide, rank-deficient) → ``(d, 1)``.

    In SVD terms each gain σ/(σ²+λ) tends to 1/σ for σ > 0 and stays 0 for σ = 0.
    """
    return np.linalg.pinv(np.asarray(X, dtype=float)) @ _column(y)
