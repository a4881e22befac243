"""Problem 4: how one SGD step moves the elbow of a ReLU.

Single unit: ``φ(x) = relu(w x + b)`` with scalars ``w, b, x``; loss
``ℓ = ½ (φ(x) − y)²``.  Network: ``f̂(x) = W2 relu(W1 x + b)`` with ``W1``: ``(d, 1)``,
``b``: ``(d, 1)``, ``W2``: ``(1, d)`` and no output bias.  The derivative of relu at
exactly 0 is taken as 0 (as ``alpha`` for the leaky variant).
"""

from __future__ import annotations

import numpy as np

from reference.hw0.conventions import DEFAULT, Conventions

CASE_ANSWERS = {
    # (signed slope w, elbow) for the four cases with φ(x) − y = 1 and a small step.
    "i": ("unchanged", "unchanged"),  # inactive: zero gradient
    "ii": ("decreases", "depends"),  # shift ∝ 1 + e·x, of either sign (0 at w=b=x=1)
    "iii": ("increases", "right"),  # e < x < 0 ⇒ 1 + e·x > 0, elbow moves toward 0
    "iv": ("decreases", "left"),  # 0 < x < e, w − lr·x < 0 for every lr
}


def relu(z: np.ndarray | float, conv: Conventions = DEFAULT) -> np.ndarray | float:
    """The activation: ``max(z, 0)``, or ``z`` / ``alpha·z`` for the leaky variant."""
    z = np.asarray(z, dtype=float)
    out = np.where(z > 0, z, conv.leaky_slope * z)
    return float(out) if out.ndim == 0 else out


def relu_slope(z: np.ndarray | float, alpha: float = 0.0, conv: Conventions = DEFAULT) -> np.ndarray | float:
    """The activation's derivative: 1 for z > 0, the leaky slope (``alpha``) for z < 0, and at
    exactly z = 0 that slope too, unless the convention sets relu'(0) = 1."""
    slope = alpha or conv.leaky_slope  # an explicit alpha (q4e) wins over the convention
    at_zero = 1.0 if conv.relu_grad_at_zero == 1 else slope
    z = np.asarray(z)
    return np.where(z > 0, 1.0, np.where(z == 0, at_zero, slope))


def case_answers(conv: Conventions = DEFAULT) -> dict | None:
    """The four cases of 4(b); ``None`` where they do not apply (a leaky unit is never off)."""
    return dict(CASE_ANSWERS) if conv.activation == "relu" else None


def elbow(w: float, b: float) -> float:
    """Where ``w x + b = 0``: ``−b/w``; ``nan`` when ``w == 0`` (no elbow exists)."""
    return float("nan") if w == 0 else -b / w


def dloss_dphi(phi: float, y: float, *, conv: Conventions = DEFAULT) -> float:
    """dℓ/dφ = φ − y for ℓ = ½(φ − y)² (2c(φ − y) for ℓ = c(φ − y)²)."""
    return float(2 * conv.loss_factor * (phi - y))


def _unit(w: float, b: float, x: float, conv: Conventions) -> tuple[float, float]:
    """(φ(x), dφ/dz) for the single unit."""
    z = w * x + b
    return float(relu(z, conv)), float(relu_slope(z, conv=conv))


def dloss_dw(w: float, b: float, x: float, y: float, *, conv: Conventions = DEFAULT) -> float:
    """∂ℓ/∂w = (φ − y) · relu'(wx + b) · x."""
    phi, slope = _unit(w, b, x, conv)
    return dloss_dphi(phi, y, conv=conv) * slope * x


def dloss_db(w: float, b: float, x: float, y: float, *, conv: Conventions = DEFAULT) -> float:
    """∂ℓ/∂b = (φ − y) · relu'(wx + b)."""
    phi, slope = _unit(w, b, x, conv)
    return dloss_dphi(phi, y, conv=conv) * slope


def sgd_step(w: float, b: float, x: float, y: float, lr: float, *,
             conv: Conventions = DEFAULT) -> tuple[float, float]:
    """One SGD step on ℓ: ``(w − lr ∂ℓ/∂w, b − lr ∂ℓ/∂b)``, both at the old (w, b)."""
    return w - lr * dloss_dw(w, b, x, y, conv=conv), b - lr * dloss_db(w, b, x, y, conv=conv)


def elbow_after_step(w: float, b: float, x: float, y: float, lr: float, *, conv: Conventions = DEFAULT) -> float:
    """Elbow ``−b'/w'`` of the unit after one SGD step; ``nan`` when ``w' == 0`` (the new unit is flat)."""
    return elbow(*sgd_step(w, b, x, y, lr, conv=conv))


def elbow_shift_active(w: float, b: float, x: float, lr: float) -> float:
    """``e' − e = lr (1 + e x) / (w − lr x)`` when the unit is active and φ(x) − y = 1.

    Derivation: w' = w − lr x, b' = b − lr, and
    −b'/w' + b/w = lr (w − b x) / (w (w − lr x)) = lr (1 + e x)/(w − lr x).
    """
    e = elbow(w, b)
    return lr * (1.0 + e * x) / (w - lr * x)


def _network_grads(W1, b, W2, x, y, alpha, conv):
    W1, b, W2 = (np.asarray(a, dtype=float) for a in (W1, b, W2))
    z = W1 * x + b  # (d, 1)
    slope_neg = alpha or conv.leaky_slope
    h = np.where(z > 0, z, slope_neg * z)
    delta = 2 * conv.loss_factor * ((W2 @ h).item() - y)  # dℓ/d(prediction)
    dz = delta * W2.T * relu_slope(z, alpha, conv)  # (d, 1): uses the OLD W2
    return dz * x, dz, delta * h.T  # dW1 (d,1), db (d,1), dW2 (1,d)


def sgd_step_network(
    W1: np.ndarray, b: np.ndarray, W2: np.ndarray, x: float, y: float, lr: float,
    alpha: float = 0.0, *, conv: Conventions = DEFAULT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simultaneous SGD step for ``f̂(x) = W2 relu(W1 x + b)``.

    All three gradients are taken at the old parameters:
    ``∂ℓ/∂W2 = δ hᵀ`` ``(1, d)``, ``∂ℓ/∂b = δ W2ᵀ ⊙ relu'(z)`` ``(d, 1)``,
    ``∂ℓ/∂W1 = x ∂ℓ/∂b`` ``(d, 1)``, with ``δ = f̂(x) − y``, ``z = W1x + b``.
    ``alpha`` > 0 gives the leaky relu.
    """
    dW1, db, dW2 = _network_grads(W1, b, W2, x, y, alpha, conv)
    return (np.asarray(W1, float) - lr * dW1, np.asarray(b, float) - lr * db,
            np.asarray(W2, float) - lr * dW2)


def elbows(W1: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-unit elbows ``−bᵢ / W1ᵢ`` → ``(d,)`` (``nan`` where W1ᵢ = 0)."""
    W1 = np.asarray(W1, dtype=float).reshape(-1)
    b = np.asarray(b, dtype=float).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(W1 == 0, np.nan, -b / np.where(W1 == 0, 1.0, W1))


def elbows_after_step(W1, b, W2, x: float, y: float, lr: float, *, conv: Conventions = DEFAULT) -> np.ndarray:
    """Elbows ``(d,)`` after one network SGD step."""
    W1n, bn, _ = sgd_step_network(W1, b, W2, x, y, lr, conv=conv)
    return elbows(W1n, bn)


def elbows_after_step_leaky(W1, b, W2, x: float, y: float, lr: float, alpha: float, *,
                            conv: Conventions = DEFAULT) -> np.ndarray:
    """Elbows ``(d,)`` after one step with leaky relu of slope ``alpha`` for z ≤ 0.

    Unlike plain relu, inactive units still receive gradient ``alpha·δ·W2ᵢ`` and move.
    """
    W1n, bn, _ = sgd_step_network(W1, b, W2, x, y, lr, alpha=alpha, conv=conv)
    return elbows(W1n, bn)
