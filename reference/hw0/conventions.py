"""Teaching conventions that change the expected answers (the knobs of a variant).

The default is the course's convention for hw0: numerator layout, ℓ = ½(φ − y)²,
relu'(0) = 0, plain ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conventions:
    layout: str = "numerator"  # "numerator": ∂(scalar)/∂x is (1, n); "denominator": (n, 1)
    loss_factor: float = 0.5  # ℓ = loss_factor · (φ − y)²
    relu_grad_at_zero: float = 0.0  # the derivative used at exactly z = 0 (0 or 1)
    activation: str = "relu"  # "relu", or "leaky" (slope ``alpha`` for z ≤ 0)
    alpha: float = 0.1

    def __post_init__(self) -> None:
        if self.layout not in ("numerator", "denominator"):
            raise ValueError(f"layout must be 'numerator' or 'denominator', not {self.layout!r}")
        if self.activation not in ("relu", "leaky"):
            raise ValueError(f"activation must be 'relu' or 'leaky', not {self.activation!r}")
        if self.loss_factor <= 0 or self.relu_grad_at_zero not in (0, 1) or not 0 < self.alpha < 1:
            raise ValueError("loss_factor > 0, relu_grad_at_zero in {0, 1} and 0 < alpha < 1 are required")

    @property
    def leaky_slope(self) -> float:
        """Slope of the activation for z < 0."""
        return self.alpha if self.activation == "leaky" else 0.0


DEFAULT = Conventions()
