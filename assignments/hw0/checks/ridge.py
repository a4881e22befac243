"""Checks for problem 3: ridge regression seen five ways."""

from __future__ import annotations

import numpy as np

from autograder.checks import (
    Check,
    alt,
    arr,
    column,
    expect_array,
    expect_tuple,
    matrix_with_singular_values,
    singular_values,
    tall_shape,
    wide_shape,
)
from reference.hw0 import ridge as ref
from reference.hw0.conventions import DEFAULT

from .common import lam_value

_SQRT_MSG = ("you scaled the extra block by λ. It enters the objective squared, so λ·I would add "
             "λ²‖w‖², not λ‖w‖²: which scale gives exactly λ‖w‖²?")


def _draw(rng, i):
    """Tall and wide X in turn, with singular values comparable to √λ."""
    n, d = tall_shape(rng) if i % 2 == 0 else wide_shape(rng)
    lam = lam_value(rng)
    s = singular_values(rng, min(n, d), 0.3 * np.sqrt(lam), 3.0 * np.sqrt(lam))
    return [[matrix_with_singular_values(rng, n, d, s), column(rng, n), lam]]


def _ols(X, y):
    return np.linalg.pinv(X) @ y


def _ridge_alternatives(X, y, lam):
    return (
        alt(ref.ridge(X, y, lam ** 2), "this is the ridge solution for the penalty λ² instead of λ: look for "
                                        "where λ got squared."),
        alt(_ols(X, y), "this is the unregularised least-squares (pseudoinverse) solution: the penalty "
                        "λ‖w‖² left no trace."),
    )


_EXACT_FIT_MSG = ("your w fits this wide X exactly (Xw = y), so no penalty shrank it: this is what "
                  "solve(XᵀX, Xᵀy) gives when λI is left out. With more unknowns than data points XᵀX is "
                  "singular and has infinitely many solutions; XᵀX + λI is invertible for every λ > 0.")


def _expect_ridge(X, y, lam, calls, conv=DEFAULT):
    n, d = X.shape
    exact_fit = [{"solves": {"M": arr(X), "r": arr(y)}, "message": _EXACT_FIT_MSG}] if n < d else []
    return expect_array(
        ref.ridge(X, y, lam),
        *_ridge_alternatives(X, y, lam),  # the least-squares (pseudoinverse) one first: it fits exactly too
        alt(np.linalg.pinv(X.T @ X + lam * np.ones((d, d))) @ X.T @ y,
            "λ was added to every entry of XᵀX. Differentiate λ‖w‖² = λ Σⱼ wⱼ²: which entries "
            "does it touch?"),
        *exact_fit,
        hint="Set the derivative of ‖y − Xw‖² + λ‖w‖² with respect to w to zero and solve for w.",
    )


def _draw_gains(rng, i):
    lam = lam_value(rng)
    return [[singular_values(rng, int(rng.integers(3, 7)), 0.2 * np.sqrt(lam), 4 * np.sqrt(lam)), lam]]


def _expect_gains(s, lam, calls, conv=DEFAULT):
    return expect_array(
        ref.ridge_gains(s, lam),
        alt(s / (s + lam), "you compared σ with λ. λ is added to σᵢ² in XᵀX + λI, so it is σ², not σ, "
                            "that meets λ in the denominator."),
        alt(s ** 2 / (s ** 2 + lam), "σ²/(σ² + λ) is how much of the fit Xŵ each direction keeps; the "
                                     "weights carry one more factor, from mapping back through Σ."),
        alt(1 / (s ** 2 + lam), "the numerator is missing a factor: Xᵀy contributes σᵢ in each direction."),
        hint="Compute one gain per entry of s, elementwise, with the same shape as s.",
    )


def _expect_ridge_svd(X, y, lam, calls, conv=DEFAULT):
    return expect_array(ref.ridge_svd(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="Substitute X = UΣVᵀ into (XᵀX + λI)w = Xᵀy; the middle factor is (d, n), with one gain "
                             "per singular value.")


def _draw_posterior(rng, i):
    (X, y, lam), = _draw(rng, i)
    d = X.shape[1]
    return [[column(rng, d), X, y, lam] for _ in range(4)]


def _nlp(w, X, y, lam, data=1.0, prior=0.5, noise_power=1):
    r = y - X @ w
    return float((r.T @ r).item() * data / (2 * lam ** noise_power) + prior * (w.T @ w).item())


def _expect_posterior(w, X, y, lam, calls, conv=DEFAULT):
    ws = [c[0] for c in calls]
    values = [ref.neg_log_posterior(v, X, y, lam) for v in ws]

    def alt_values(message, **kw):
        return {"value": [_nlp(v, X, y, lam, **kw) for v in ws], "message": message}

    return {
        "kind": "offsets", "value": values, "rtol": 1e-7, "atol": 1e-9,
        "alternatives": [
            {"value": [lam * v for v in values],
             "message": "this is λ times the negative log-posterior: same minimiser, but the "
                        "noise variance λ must divide the data term."},
            {"value": [2 * lam * v for v in values],
             "message": "this is ‖y − Xw‖² + λ‖w‖², the ridge objective: the same minimiser, but "
                        "2λ times the negative log-posterior."},
            alt_values("the noise has standard deviation √λ, so variance λ, not λ².", noise_power=2),
            alt_values("the data term has lost its 1/λ: with noise of variance λ, −log p(y | w) is "
                       "‖y − Xw‖²/(2λ) + const, not ‖y − Xw‖²/2 (that is noise of variance 1).", noise_power=0),
            alt_values("the prior N(0, I) contributes ‖w‖²/2, not ‖w‖².", prior=1.0),
            {"value": [-v for v in values], "message": "the sign is flipped: this is the log-posterior."},
        ],
        "hint": "Write −log p(y | w) − log p(w) and drop what does not depend on w.",
    }


def _expect_fake_data(X, y, lam, calls, conv=DEFAULT):
    X_hat, y_hat = ref.fake_data(X, y, lam)
    d = X.shape[1]
    return expect_tuple(["X_hat", "y_hat"], [
        expect_array(X_hat, alt(np.vstack([X, lam * np.eye(d)]), _SQRT_MSG)),
        expect_array(y_hat),
    ])


def _expect_ridge_fake_data(X, y, lam, calls, conv=DEFAULT):
    return expect_array(ref.ridge_fake_data(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="Solve ordinary least squares on [X; √λ I_d], [y; 0].")


def _draw_features(rng, i):
    (X, y, lam), = _draw(rng, i)
    return [[X, lam]]


def _expect_fake_features(X, lam, calls, conv=DEFAULT):
    n = X.shape[0]
    return expect_array(
        ref.fake_features(X, lam),
        alt(np.hstack([X, lam * np.eye(n)]), _SQRT_MSG),
        alt(np.hstack([np.sqrt(lam) * np.eye(n), X]), "the blocks are swapped: the features X come first."),
    )


def _expect_ridge_fake_features(X, y, lam, calls, conv=DEFAULT):
    d = X.shape[1]
    F = ref.fake_features(X, lam)
    eta = np.linalg.pinv(F) @ y
    return expect_array(
        ref.ridge_fake_features(X, y, lam),
        *_ridge_alternatives(X, y, lam),
        alt(eta[-d:], "these are the last d entries of η; the weights are its first d entries."),
        hint="Find the minimum-norm η with [X, √λ Iₙ] η = y and keep its first d entries.",
    )


def _expect_kernel_ridge(X, y, lam, calls, conv=DEFAULT):
    return expect_array(ref.kernel_ridge(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="ŵ = Xᵀ(XXᵀ + λIₙ)⁻¹y.")


def _draw_Xy(rng, i):
    (X, y, _), = _draw(rng, i)
    return [[X, y]]


def _expect_shrinkage(X, y, calls, conv=DEFAULT):
    return expect_array(
        ref.ridge_shrinkage_direction(X, y),
        alt(np.zeros((X.shape[1], 1)), "ŵ_λ itself tends to 0, but λ·ŵ_λ has a non-zero limit."),
        alt(_ols(X, y), "this is the λ → 0 limit. For very large λ, which term of XᵀX + λI dominates?"),
    )


def _draw_limit(rng, i):
    """Tall, wide and rank-deficient X in turn (exact zero singular values)."""
    n, d = tall_shape(rng) if i % 2 == 0 else wide_shape(rng)
    k = min(n, d)
    s = singular_values(rng, k)
    if i % 4 >= 2:
        s[-2:] = 0.0  # rank k − 2
    return [[matrix_with_singular_values(rng, n, d, s), column(rng, n)]]


def _expect_limit(X, y, calls, conv=DEFAULT):
    return expect_array(
        ref.ridge_limit_zero(X, y),
        alt(np.zeros((X.shape[1], 1)), "the limit λ → 0 is not 0: small λ barely shrinks."),
        rtol=1e-5, atol=1e-7,
        hint="Follow each gain σ/(σ² + λ) as λ → 0, separately for σ > 0 and for σ = 0. The answer must "
             "work for tall, wide and rank-deficient X, where XᵀX or XXᵀ is singular.",
    )


CHECKS = [
    Check("q3a", "ridge", ("X", "y", "lam"), _draw, _expect_ridge),
    Check("q3b", "ridge_gains", ("s", "lam"), _draw_gains, _expect_gains),
    Check("q3b", "ridge_svd", ("X", "y", "lam"), _draw, _expect_ridge_svd),
    Check("q3c", "neg_log_posterior", ("w", "X", "y", "lam"), _draw_posterior, _expect_posterior),
    Check("q3d", "fake_data", ("X", "y", "lam"), _draw, _expect_fake_data),
    Check("q3d", "ridge_fake_data", ("X", "y", "lam"), _draw, _expect_ridge_fake_data),
    Check("q3e", "fake_features", ("X", "lam"), _draw_features, _expect_fake_features),
    Check("q3e", "ridge_fake_features", ("X", "y", "lam"), _draw, _expect_ridge_fake_features),
    Check("q3f", "kernel_ridge", ("X", "y", "lam"), _draw, _expect_kernel_ridge),
    Check("q3g", "ridge_shrinkage_direction", ("X", "y"), _draw_Xy, _expect_shrinkage),
    Check("q3h", "ridge_limit_zero", ("X", "y"), _draw_limit, _expect_limit, n_public=2, n_hidden=4),
]
