"""Problem 3: softmax, cross-entropy and backpropagation through a ReLU network.

Logits ``z``: ``(K, 1)``; p = softmax(z); CE = −log p_k for a class ``k`` in [0, K).
Network: h = relu(W1 x + b1), z = W2 h + b2, ``W1``: ``(H, D)``, ``b1``: ``(H, 1)``,
``W2``: ``(K, H)``, ``b2``: ``(K, 1)``; a batch ``X``: ``(D, N)`` holds one example per
column, ``Y``: 1-D int ``(N,)``.  relu'(0) = 0.
"""

from __future__ import annotations

import numpy as np


def _col(z: np.ndarray) -> np.ndarray:
    return np.asarray(z, dtype=float).reshape(-1, 1)


def softmax(z: np.ndarray) -> np.ndarray:
    """exp(zᵢ)/Σⱼ exp(zⱼ), computed as exp(z − max z)/Σ exp(z − max z).  ``z``: ``(K, 1)`` → ``(K, 1)``.

    Shifting by the maximum changes nothing mathematically and keeps every exponent ≤ 0,
    so logits of ±1000 neither overflow nor divide 0 by 0.
    """
    z = _col(z)
    e = np.exp(z - z.max())
    return e / e.sum()


def logsumexp(z: np.ndarray) -> float:
    """log Σᵢ exp(zᵢ) = m + log Σᵢ exp(zᵢ − m), m = max z.  ``z``: ``(K, 1)`` → float."""
    z = _col(z)
    m = float(z.max())
    return m + float(np.log(np.exp(z - m).sum()))


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """∂p/∂z = diag(p) − p pᵀ, ``(K, K)``, entry (i, j) = ∂pᵢ/∂zⱼ = pᵢ(δᵢⱼ − pⱼ).  ``z``: ``(K, 1)``."""
    p = softmax(z)
    return np.diagflat(p) - p @ p.T


def dce_dlogits(z: np.ndarray, k: int) -> np.ndarray:
    """∂(−log p_k)/∂z = (p − e_k)ᵀ, a row ``(1, K)``.  ``z``: ``(K, 1)``, ``k``: int in [0, K)."""
    g = softmax(z).T.copy()
    g[0, int(k)] -= 1.0
    return g


def mlp_grads(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray, Y: np.ndarray,
              reduction: str = "mean") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the batch cross-entropy: ``(dW1, db1, dW2, db2)``, each shaped like its parameter.

    ``W1``: ``(H, D)``, ``b1``: ``(H, 1)``, ``W2``: ``(K, H)``, ``b2``: ``(K, 1)``, ``X``: ``(D, N)``,
    ``Y``: ``(N,)`` ints.  ``reduction``: "mean" (the loss is (1/N) Σₙ CEₙ) or "sum" (Σₙ CEₙ).
    Entry (i, j) of dW is ∂loss/∂W_ij.  relu'(0) = 0: a unit with pre-activation exactly 0
    passes no gradient.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    W1, b1, W2, b2, X = (np.asarray(a, dtype=float) for a in (W1, b1, W2, b2, X))
    b1, b2 = b1.reshape(-1, 1), b2.reshape(-1, 1)
    Y = np.asarray(Y).reshape(-1).astype(int)
    N = X.shape[1]
    A = W1 @ X + b1  # (H, N) pre-activations
    Hid = np.maximum(A, 0.0)
    Z = W2 @ Hid + b2  # (K, N) logits
    P = np.exp(Z - Z.max(axis=0, keepdims=True))
    P /= P.sum(axis=0, keepdims=True)
    G = P.copy()  # ∂CEₙ/∂z for each example, as columns: (K, N)
    G[Y, np.arange(N)] -= 1.0
    if reduction == "mean":
        G /= N
    dW2 = G @ Hid.T
    db2 = G.sum(axis=1, keepdims=True)
    GA = (W2.T @ G) * (A > 0)  # relu'(0) = 0
    dW1 = GA @ X.T
    db1 = GA.sum(axis=1, keepdims=True)
    return dW1, db1, dW2, db2
