"""What several of hw0's checks share: the layout knob's hints and orientation, and ridge's λ."""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.hw0.conventions import Conventions

DENOMINATOR_HINT = ("In denominator layout (this assignment's convention) the derivative of a scalar by a column "
                    "x of shape (n, 1) is a column of shape (n, 1), and a Jacobian is (n, m).")


def layout_hint(conv: Conventions) -> str:
    return NUMERATOR_HINT if conv.layout == "numerator" else DENOMINATOR_HINT


def oriented(a: Any, conv: Conventions) -> np.ndarray:
    """A numerator-layout array in the layout of ``conv`` (for alternatives)."""
    a = np.asarray(a, dtype=float)
    return a if conv.layout == "numerator" else a.T


NUMERATOR_HINT = ("In numerator layout the derivative of a scalar by a column x of shape (n, 1) "
                  "is a row of shape (1, n).")




def lam_value(rng: np.random.Generator) -> float:
    """A ridge λ that is neither 0 nor 1 (so λ, √λ and λ² all differ)."""
    return float(rng.choice([0.3, 0.6, 2.5, 4.0, 6.25]))


