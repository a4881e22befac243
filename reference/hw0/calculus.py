"""Problem 1: vector calculus in numerator layout.

Numerator layout: the derivative of a scalar with respect to a column
``x ∈ R^n`` is a row ``(1, n)``; the Jacobian of ``f: R^n → R^m`` is ``(m, n)``
with entry ``(i, j) = ∂f_i/∂x_j``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference.hw0.conventions import DEFAULT, Conventions


def _orient(row: np.ndarray, conv: Conventions) -> np.ndarray:
    """A derivative computed in numerator layout, in the layout ``conv`` asks for."""
    return row if conv.layout == "numerator" else row.T.copy()


def d_xTc(x: np.ndarray, c: np.ndarray, *, conv: Conventions = DEFAULT) -> np.ndarray:
    """∂(xᵀc)/∂x = cᵀ.  ``x, c``: ``(n, 1)`` → ``(1, n)`` (denominator layout: c, ``(n, 1)``)."""
    return _orient(np.asarray(c, dtype=float).reshape(-1, 1).T.copy(), conv)


def d_sqnorm(x: np.ndarray, *, conv: Conventions = DEFAULT) -> np.ndarray:
    """∂‖x‖²/∂x = 2xᵀ.  ``x``: ``(n, 1)`` → ``(1, n)`` (denominator layout: 2x)."""
    return _orient(2.0 * np.asarray(x, dtype=float).reshape(-1, 1).T, conv)


def d_Ax(A: np.ndarray, x: np.ndarray, *, conv: Conventions = DEFAULT) -> np.ndarray:
    """∂(Ax)/∂x = A.  ``A``: ``(n, n)``, ``x``: ``(n, 1)`` → ``(n, n)`` (denominator layout: Aᵀ)."""
    return _orient(np.array(A, dtype=float), conv)


def d_xTAx(A: np.ndarray, x: np.ndarray, *, conv: Conventions = DEFAULT) -> np.ndarray:
    """∂(xᵀAx)/∂x = xᵀ(A + Aᵀ).  ``A``: ``(n, n)``, ``x``: ``(n, 1)`` → ``(1, n)``
    (denominator layout: (A + Aᵀ)x, ``(n, 1)``)."""
    A = np.asarray(A, dtype=float)
    return _orient(np.asarray(x, dtype=float).reshape(-1, 1).T @ (A + A.T), conv)


def equals_2xTA_for_all_x(A: np.ndarray, tol: float = 1e-9) -> bool:
    """True exactly when ``max|A − Aᵀ| ≤ tol``: then xᵀ(A + Aᵀ) = 2xᵀA for every x.

    ``A``: ``(n, n)``.  For one fixed x the identity only needs (A − Aᵀ)ᵀx = 0;
    for *all* x it needs A = Aᵀ.
    """
    A = np.asarray(A, dtype=float)
    return bool(np.max(np.abs(A - A.T)) <= tol)


def numerical_derivative(
    f: Callable[[np.ndarray], object], x: np.ndarray, eps: float = 1e-6, *, conv: Conventions = DEFAULT
) -> np.ndarray:
    """Central-difference derivative of ``f`` at the column ``x`` (numerator layout).

    ``x``: ``(n, 1)``.  Column ``j`` is ``(f(x + eps e_j) − f(x − eps e_j)) / (2 eps)``.
    Returns ``(m, n)`` when ``f(x)`` is ``(m, 1)`` and ``(1, n)`` when ``f(x)`` is a
    scalar or ``(1, 1)``.  The error is O(eps²) instead of O(eps) for one-sided steps.
    Denominator layout gives the transpose.
    """
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    columns = []
    for j in range(x.shape[0]):
        step = np.zeros_like(x)
        step[j, 0] = eps
        diff = np.asarray(f(x + step), dtype=float) - np.asarray(f(x - step), dtype=float)
        columns.append(diff.reshape(-1) / (2.0 * eps))
    return _orient(np.column_stack(columns), conv)
