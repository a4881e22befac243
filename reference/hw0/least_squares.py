"""Problem 2: least squares and minimum-norm solutions through the SVD.

``X``: ``(m, n)``, ``y``: ``(m, 1)``.  The full SVD is ``X = U Σ Vᵀ`` with
``U``: ``(m, m)``, ``Σ``: ``(m, n)``, ``V``: ``(n, n)``; ``Σ⁺`` is ``(n, m)``.
"""

from __future__ import annotations

import numpy as np


def _as_column(y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=float).reshape(-1, 1)


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ‖Xw − y‖² for tall full-column-rank X, from the normal equations.

    Solves ``XᵀX w = Xᵀy``.  ``X``: ``(m, n)`` with m > n, ``y``: ``(m, 1)`` → ``(n, 1)``.
    """
    X = np.asarray(X, dtype=float)
    return np.linalg.solve(X.T @ X, X.T @ _as_column(y))


def sigma_pinv(s: np.ndarray, m: int, n: int) -> np.ndarray:
    """Σ⁺ for an ``(m, n)`` Σ whose diagonal holds the positive values ``s``.

    ``s``: 1-D, length min(m, n).  Returns ``(n, m)`` with ``1/s_i`` at ``(i, i)`` and
    zeros elsewhere: for tall X the zero block is on the right (extra columns), for
    wide X it is at the bottom (extra rows).
    """
    s = np.asarray(s, dtype=float).reshape(-1)
    out = np.zeros((n, m))
    k = len(s)
    out[np.arange(k), np.arange(k)] = 1.0 / s
    return out


def _svd_solve(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``V Σ⁺ Uᵀ y`` from the full SVD (``X`` of full rank)."""
    X = np.asarray(X, dtype=float)
    m, n = X.shape
    U, s, Vt = np.linalg.svd(X, full_matrices=True)
    return Vt.T @ sigma_pinv(s, m, n) @ U.T @ _as_column(y)


def least_squares_svd(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares as ``V Σ⁺ Uᵀ y``.  ``X``: ``(m, n)`` tall, ``y``: ``(m, 1)`` → ``(n, 1)``."""
    return _svd_solve(X, y)


def left_inverse(X: np.ndarray) -> np.ndarray:
    """``(XᵀX)⁻¹Xᵀ``, one matrix ``A`` with ``A X = Iₙ`` for tall X.  → ``(n, m)``.

    Any ``A + Z`` with ``Z X = 0`` is also a left inverse; this one is the
    pseudoinverse.  ``X A`` is the orthogonal projector onto col(X), not ``I_m``.
    """
    X = np.asarray(X, dtype=float)
    return np.linalg.solve(X.T @ X, X.T)


def min_norm(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ‖w‖² subject to ``Xw = y`` for wide full-row-rank X: ``Xᵀ(XXᵀ)⁻¹y``.

    ``X``: ``(m, n)`` with m < n, ``y``: ``(m, 1)`` → ``(n, 1)``.  The result lies in
    the row space of X, orthogonal to its null space, hence minimal.
    """
    X = np.asarray(X, dtype=float)
    return X.T @ np.linalg.solve(X @ X.T, _as_column(y))


def min_norm_svd(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm solution as ``V Σ⁺ Uᵀ y``.  ``X``: ``(m, n)`` wide → ``(n, 1)``."""
    return _svd_solve(X, y)


def right_inverse(X: np.ndarray) -> np.ndarray:
    """``Xᵀ(XXᵀ)⁻¹``, one matrix ``B`` with ``X B = Iₘ`` for wide X.  → ``(n, m)``."""
    X = np.asarray(X, dtype=float)
    return X.T @ np.linalg.inv(X @ X.T)
