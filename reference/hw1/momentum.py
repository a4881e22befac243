"""Problem 2: heavy-ball momentum on f(w) = ½ wᵀHw, H symmetric positive definite.

w_{t+1} = w_t − lr ∇f(w_t) + beta (w_t − w_{t−1}).  Along an eigenvector of H with
eigenvalue λ the pair (e_{t+1}, e_t) evolves by the ``(2, 2)`` matrix M(λ); the
asymptotic rate is the largest spectral radius of M(λ) over the eigenvalues.
"""

from __future__ import annotations

import math

import numpy as np


def momentum_step(w: np.ndarray, w_prev: np.ndarray, grad: np.ndarray, lr: float, beta: float) -> np.ndarray:
    """w − lr·grad + beta·(w − w_prev).  ``w``, ``w_prev``, ``grad``: ``(d, 1)`` → ``(d, 1)``.

    ``grad`` is ∇f(w_t) as a column.
    """
    w, w_prev, grad = (np.asarray(a, dtype=float) for a in (w, w_prev, grad))
    return w - lr * grad + beta * (w - w_prev)


def momentum_matrix(lam: float, lr: float, beta: float) -> np.ndarray:
    """M = [[1 + beta − lr·lam, −beta], [1, 0]], ``(2, 2)``: (e_{t+1}, e_t)ᵀ = M (e_t, e_{t−1})ᵀ."""
    return np.array([[1.0 + beta - lr * lam, -beta], [1.0, 0.0]])


def _radius(lam: float, lr: float, beta: float) -> float:
    """Spectral radius of M(lam) from the roots of x² − a x + beta = 0, a = 1 + beta − lr·lam.

    Complex roots (a² < 4 beta) have modulus √beta (their product is beta); real roots have
    the larger modulus (|a| + √(a² − 4 beta))/2.  Exact up to rounding, also at a double root.
    """
    a = 1.0 + beta - lr * lam
    disc = a * a - 4.0 * beta
    if disc < 0:
        return math.sqrt(beta)
    return (abs(a) + math.sqrt(disc)) / 2.0


def momentum_rate(lams: np.ndarray, lr: float, beta: float) -> float:
    """max over λ in ``lams`` of the spectral radius of M(λ).  ``lams``: 1-D ``(n,)`` → float.

    For 0 ≤ beta the modulus of the larger root is √beta inside the band of λ where the
    roots are complex and grows outside it, so the maximum sits at λ_min or λ_max.
    """
    return float(max(_radius(float(lam), lr, beta) for lam in np.asarray(lams, dtype=float).reshape(-1)))


def polyak_params(mu: float, L: float) -> tuple[float, float]:
    """``(lr, beta)`` = (4/(√L + √μ)², ((√L − √μ)/(√L + √μ))²), the heavy-ball optimum.

    With them M(μ) and M(L) both have a double eigenvalue (±√beta) and the rate is
    √beta = (√κ − 1)/(√κ + 1), κ = L/μ.
    """
    a, b = math.sqrt(L), math.sqrt(mu)
    return 4.0 / (a + b) ** 2, ((a - b) / (a + b)) ** 2
