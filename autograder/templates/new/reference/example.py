"""Problem 1: the sigmoid and its derivative (elementwise, any shape)."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{−z}), entry by entry; the shape of ``z``."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def sigmoid_grad(z: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """d(scale·σ)/dz = scale·σ(z)(1 − σ(z)), entry by entry; the shape of ``z``."""
    s = sigmoid(z)
    return scale * s * (1.0 - s)
