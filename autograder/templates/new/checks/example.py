"""Checks for problem 1: the derivative of the sigmoid.

A check draws the arguments of one student function from a seeded generator and says
what to expect: the reference's answer, the tolerance, and the known wrong answers to
name (``alt``) so that the feedback says which mistake was made.
"""

from __future__ import annotations

import numpy as np
from reference.__NAME__ import example as ref

from autograder.checks import Check, alt, expect_array


def _draw(rng: np.random.Generator, index: int) -> list[list]:
    """One call per case: z of shape (m, n) with m ≠ n, entries away from 0 so that mistakes show."""
    m = int(rng.integers(3, 6))
    return [[rng.uniform(0.3, 3.0, size=(m, m + 1)) * rng.choice([-1.0, 1.0], size=(m, m + 1))]]


def _expect(z, calls, conv):
    s = ref.sigmoid(z)
    return expect_array(
        ref.sigmoid_grad(z, scale=conv.scale),
        alt(conv.scale * s, "you returned σ(z), the function itself, not its derivative."),
        alt(conv.scale * (1 - s), "you returned 1 − σ(z): the chain rule gives σ(z)·(1 − σ(z))."),
    )


CHECKS = [Check("q1a", "sigmoid_grad", ("z",), _draw, _expect)]
