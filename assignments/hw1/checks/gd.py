"""Checks for problem 1: gradient descent on least squares, through the SVD."""

from __future__ import annotations

import numpy as np

from autograder.checks.base import (
    Check,
    alt,
    column,
    expect_array,
    expect_numbers,
    expect_scalar,
    expect_tuple,
    matrix_with_singular_values,
    singular_values,
    tall_shape,
)
from reference.hw1 import gd as ref

ROW_HINT = ("In numerator layout (this course's convention) the derivative of a scalar by a column of shape (n, 1) "
            "is a row of shape (1, n).")


def _draw_X(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A tall X (m > d ≥ 3) with chosen, well-separated singular values (none near 1), largest first."""
    m, d = tall_shape(rng)
    s = singular_values(rng, d, 0.4, 3.0)
    return matrix_with_singular_values(rng, m, d, s), s


def _draw_grad(rng, i):
    X, _ = _draw_X(rng)
    m, d = X.shape
    return [[X, column(rng, m), column(rng, d)]]


def _expect_grad(X, y, w, calls, conv=None):
    g = ref.ls_grad(X, y, w)
    m = X.shape[0]
    return expect_array(
        g,
        alt(-g, "the sign is flipped: differentiate ½‖Xw − y‖², whose residual is Xw − y, not y − Xw."),
        alt(2 * g, "off by a factor 2: the ½ in ℓ = ½‖Xw − y‖² cancels the 2 from the square."),
        alt(g / m, "you divided by m: ℓ = ½‖Xw − y‖² is a sum over the m rows, not a mean."),
        alt((X @ w).T @ X, "y is missing: the residual is Xw − y."),
        hint="Write ℓ = ½ Σᵢ ((Xw)ᵢ − yᵢ)², differentiate with respect to one weight wⱼ, and collect the "
             "derivatives into a row.",
        layout_hint=ROW_HINT,
    )


def _draw_iterates(rng, i):
    X, s = _draw_X(rng)
    m, d = X.shape
    lr = float(rng.uniform(0.3, 0.85)) * 2 / s[0] ** 2  # stable, but the top direction oscillates
    T = int(rng.integers(4, 8))
    return [[X, column(rng, m), column(rng, d), lr, T]]


def _run(X, y, w0, lr, T, scale=1.0, first=0):
    """GD with the gradient scaled by ``scale``; rows ``first`` .. ``first + T``."""
    w = np.array(w0, dtype=float)
    rows = []
    for t in range(first + T + 1):
        if t >= first:
            rows.append(w.ravel().copy())
        w = w - lr * scale * ref.ls_grad(X, y, w).T
    return np.array(rows)


def _expect_iterates(X, y, w0, lr, T, calls, conv=None):
    W = ref.gd_iterates(X, y, w0, lr, T)
    m = X.shape[0]
    return expect_array(
        W,
        alt(_run(X, y, w0, lr, T, first=1), "the rows start at w₁: row 0 must be w0 itself, so there are T + 1 "
                                            "rows for w0, …, w_T."),
        alt(_run(X, y, w0, lr, T, scale=-1.0), "the iterates climb: a GD step goes against the gradient, "
                                               "w ← w − η ∇ℓ(w)."),
        alt(_run(X, y, w0, lr, T, scale=1 / m), "this is GD on the mean loss (gradient divided by m); "
                                               "ℓ = ½‖Xw − y‖² is a sum."),
        alt(_run(X, y, w0, lr, T, scale=2.0), "each step is twice too long: the ½ in ℓ cancels the 2 from "
                                              "the square, so ∇ℓ(w) = Xᵀ(Xw − y)."),
        alt(W[1:], "only T rows: include row 0 = w0ᵀ as well as the T iterates after it."),
        alt(W[:-1], "only T rows: after T steps there are T + 1 rows, w0ᵀ … w_Tᵀ."),
        hint="Start from w0 and take exactly T steps w ← w − lr·Xᵀ(Xw − y); row t holds w_tᵀ.",
        layout_hint="Row t is w_tᵀ: the array is (T + 1, d), one row per iterate.",
    )


def _draw_factors(rng, i):
    s = singular_values(rng, int(rng.integers(3, 7)), 0.4, 3.0)
    if i % 2:
        s = rng.permutation(s)  # any order: the factors follow s
    # even cases: lr·σ₁² in (1.2, 1.9), so the top factor is negative; odd ones: all factors positive
    c = rng.uniform(1.2, 1.9) if i % 2 == 0 else rng.uniform(0.3, 0.85)
    return [[s, float(c / np.max(s) ** 2)]]


def _expect_factors(s, lr, calls, conv=None):
    f = ref.error_factors(s, lr)
    return expect_numbers(
        f,
        alt(1 - lr * s, "σ where σ² belongs: XᵀX = VΣ²Vᵀ, so the singular values enter squared."),
        alt(np.abs(f), "the factor keeps its sign: when η σᵢ² > 1 the error along vᵢ flips sign every step, "
                       "so the factor is negative."),
        alt(lr * s ** 2, "this is how much of the error a step removes; the factor is what it keeps."),
        alt(1 - 2 * lr * s ** 2, "a stray factor 2: with ℓ = ½‖Xw − y‖², ∇ℓ = XᵀX(w − w*)."),
        alt(f ** 2, "squared: that is the factor of the squared error component; the question asks for the "
                    "factor of the component itself."),
        hint="Substitute ∇ℓ(w) = XᵀX(w − w*) into the step and write w − w* in the basis of the vᵢ.",
    )


def _draw_X_only(rng, i):
    return [[_draw_X(rng)[0]]]


def _expect_max_lr(X, calls, conv=None):
    s = np.linalg.svd(X, compute_uv=False)
    top, bottom = s[0], s[-1]
    return expect_scalar(
        ref.max_stable_lr(X),
        alt(1 / top ** 2, "1/σ₁² only makes the top factor 0; a factor may go on down towards −1 before GD "
                          "diverges."),
        alt(2 / top, "σ where σ² belongs: the singular values enter the factors squared."),
        alt(1 / top, "σ where σ² belongs (the singular values enter the factors squared), and a factor may "
                     "go on down towards −1 before GD diverges."),
        alt(2 / bottom ** 2, "this uses the smallest singular value; the first factor to leave (−1, 1) as η "
                             "grows is the one of the largest."),
        alt(2 / np.sum(s ** 2), "‖X‖_F² = Σ σᵢ² is only an upper bound on σ₁²: this step size is safe but "
                                "not the threshold."),
        alt(2 / (top ** 2 + bottom ** 2), "this is the best constant step size; the threshold is where the "
                                          "slowest factor reaches −1."),
        hint="GD converges from every start iff every factor of 1(c) lies strictly between −1 and 1.",
    )


def _expect_best(X, calls, conv=None):
    lr, rate = ref.best_constant_lr(X)
    s = np.linalg.svd(X, compute_uv=False)
    top, bottom = s[0], s[-1]
    k_sigma = top / bottom
    kappa = k_sigma ** 2
    return expect_tuple(["lr", "rate"], [
        expect_scalar(
            lr,
            alt(2 / (top + bottom) ** 2, "σ where σ² belongs: the factors involve σᵢ²."),
            alt(1 / (top ** 2 + bottom ** 2),
                "a factor 2 is missing: at the best step the factors of σ₁ and σ_d are equal in size and opposite in sign."),
            alt(2 / top ** 2, "this is the stability threshold of 1(d), where the top factor is −1, and also what "
                              "σ_d² = 0 gives (the m × m matrix XXᵀ has zero eigenvalues when m > d: take σ_d² "
                              "from XᵀX or the SVD); the best step balances the top and the bottom factors."),
            alt(1 / top ** 2, "1/σ₁² zeroes the top factor but leaves the bottom one at 1 − σ_d²/σ₁²; balancing "
                              "the two extremes does better."),
            hint="Only the factors of the largest and the smallest singular value matter: find the η that makes "
                 "the larger of their sizes smallest.",
        ),
        expect_scalar(
            rate,
            alt((k_sigma - 1) / (k_sigma + 1), "κ here is the condition number of XᵀX, σ₁²/σ_d², not the ratio "
                                               "σ₁/σ_d of the singular values of X."),
            alt(-rate, "the rate is the size (absolute value) of the slowest factor, a non-negative number."),
            alt(rate ** 2, "squared: that is the rate of the squared error."),
            alt(1 - 1 / kappa, "1 − 1/κ is the rate of the step 1/σ₁²; evaluate the slowest factor at the balanced "
                               "step instead."),
            alt((kappa + 1) / (kappa - 1), "upside down: the rate is below 1."),
            hint="The rate is the size of the slowest factor at the best step.",
        ),
    ])


CHECKS = [
    Check("q1a", "ls_grad", ("X", "y", "w"), _draw_grad, _expect_grad),
    Check("q1b", "gd_iterates", ("X", "y", "w0", "lr", "T"), _draw_iterates, _expect_iterates),
    Check("q1c", "error_factors", ("s", "lr"), _draw_factors, _expect_factors),
    Check("q1d", "max_stable_lr", ("X",), _draw_X_only, _expect_max_lr),
    Check("q1e", "best_constant_lr", ("X",), _draw_X_only, _expect_best),
]
