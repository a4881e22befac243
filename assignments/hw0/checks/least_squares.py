"""Checks for problem 2: least squares and minimum norm through the SVD."""

from __future__ import annotations

import numpy as np

from autograder.checks import (
    Check,
    alt,
    arr,
    column,
    expect_array,
    full_rank,
    singular_values,
    tall_shape,
    wide_shape,
)
from reference.hw0 import least_squares as ref
from reference.hw0.conventions import DEFAULT

_NULL_SPACE_MSG = ("Xw = y holds, but w is not the minimum-norm solution: it has a component in "
                   "the null space of X. The minimum-norm solution lies in the row space of X.")


def _sigma_T(s, m, n):
    """Σᵀ, the classic slip for Σ⁺: the right shape, but σ instead of 1/σ."""
    out = np.zeros((n, m))
    out[np.arange(len(s)), np.arange(len(s))] = s
    return out


def _svd_with(X, y, middle):
    U, s, Vt = np.linalg.svd(X, full_matrices=True)
    m, n = X.shape
    return Vt.T @ middle(s, m, n) @ U.T @ y


def _draw_tall(rng, i):
    m, n = tall_shape(rng)
    return [[full_rank(rng, m, n), column(rng, m)]]


def _draw_wide(rng, i):
    m, n = wide_shape(rng)
    return [[full_rank(rng, m, n), column(rng, m)]]


def _expect_least_squares(X, y, calls, conv=DEFAULT):
    return expect_array(
        ref.least_squares(X, y),
        alt(X.T @ y, "you returned Xᵀy, which is only one side of the normal equations. Set the "
                      "derivative of ‖Xw − y‖² to zero and solve that system for w."),
        hint="Set the derivative of ‖Xw − y‖² with respect to w to zero (Problem 1 gives every piece) "
             "and solve for w.",
    )


def _draw_sigma(rng, i):
    m, n = tall_shape(rng) if i % 2 == 0 else wide_shape(rng)
    return [[singular_values(rng, min(m, n)), m, n]]


def _expect_sigma_pinv(s, m, n, calls, conv=DEFAULT):
    m, n = int(m), int(n)
    return expect_array(
        ref.sigma_pinv(s, m, n),
        alt(_sigma_T(s, m, n), "this is Σᵀ: it has the shape of Σ⁺, but Σ⁺ must undo what Σ does to each "
                                "singular direction. What should its diagonal hold?"),
        alt(_sigma_T(s ** -2, m, n), "the diagonal entries are squared too far: check that Σ⁺Σ is the "
                                     "identity on the first min(m, n) coordinates."),
        layout_hint="Σ is (m, n), so Σ⁺ is (n, m).",
    )


def _expect_least_squares_svd(X, y, calls, conv=DEFAULT):
    return expect_array(
        ref.least_squares_svd(X, y),
        alt(_svd_with(X, y, _sigma_T), "Σᵀ was used where Σ⁺ belongs: the middle factor must divide by "
                                        "each singular value, not multiply by it."),
        hint="Substitute the full SVD X = UΣVᵀ into your answer to 2(a); mind which factor is (m, m) "
             "and which is (n, n).",
    )


def _expect_left_inverse(X, calls, conv=DEFAULT):
    return {"kind": "inverse", "side": "left", "X": arr(X),
            "alternatives": [alt(X.T, "Xᵀ is a left inverse only when the columns of X are orthonormal.")],
            "rtol": 1e-6, "atol": 1e-9,
            "hint": "Look back at how 2(a) turns y into w: that map, applied to Xw, must give back w."}


def _expect_right_inverse(X, calls, conv=DEFAULT):
    return {"kind": "inverse", "side": "right", "X": arr(X),
            "alternatives": [alt(X.T, "Xᵀ is a right inverse only when the rows of X are orthonormal.")],
            "rtol": 1e-6, "atol": 1e-9,
            "hint": "Look for B whose columns lie in the row space of X (B = XᵀC) and solve X B = I for C."}


def _min_norm_expect(X, y, want, *extra):
    return expect_array(
        want, *extra,
        {"solves": {"M": arr(X), "r": arr(y)}, "message": _NULL_SPACE_MSG},
        hint="Look for w in the row space of X, w = Xᵀα, and solve Xw = y for α.",
    )


def _expect_min_norm(X, y, calls, conv=DEFAULT):
    return _min_norm_expect(X, y, ref.min_norm(X, y))


def _expect_min_norm_svd(X, y, calls, conv=DEFAULT):
    return _min_norm_expect(
        X, y, ref.min_norm_svd(X, y),
        alt(_svd_with(X, y, _sigma_T), "Σᵀ was used where Σ⁺ belongs: the middle factor must divide by "
                                        "each singular value, not multiply by it."),
    )


def _draw_tall_X(rng, i):
    return [[full_rank(rng, *tall_shape(rng))]]


def _draw_wide_X(rng, i):
    return [[full_rank(rng, *wide_shape(rng))]]


CHECKS = [
    Check("q2a", "least_squares", ("X", "y"), _draw_tall, _expect_least_squares),
    Check("q2b", "sigma_pinv", ("s", "m", "n"), _draw_sigma, _expect_sigma_pinv),
    Check("q2b", "least_squares_svd", ("X", "y"), _draw_tall, _expect_least_squares_svd),
    Check("q2c", "left_inverse", ("X",), _draw_tall_X, _expect_left_inverse),
    Check("q2d", "min_norm", ("X", "y"), _draw_wide, _expect_min_norm),
    Check("q2e", "min_norm_svd", ("X", "y"), _draw_wide, _expect_min_norm_svd),
    Check("q2f", "right_inverse", ("X",), _draw_wide_X, _expect_right_inverse),
]
