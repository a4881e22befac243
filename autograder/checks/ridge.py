"""Checks for problem 3: ridge regression seen five ways."""

from __future__ import annotations

import numpy as np

from autograder.checks.base import (
    Check,
    alt,
    column,
    expect_array,
    expect_tuple,
    lam_value,
    matrix_with_singular_values,
    singular_values,
    tall_shape,
    wide_shape,
)
from reference import ridge as ref

_SQRT_MSG = ("the extra block must be √λ·I, not λ·I: its squared norm is what adds λ‖w‖² "
             "to the objective.")


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
        alt(ref.ridge(X, y, lam ** 2), "this is ridge with penalty λ², not λ."),
        alt(_ols(X, y), "this is the unregularised least-squares (pseudoinverse) solution: λ is missing."),
    )


def _expect_ridge(X, y, lam, calls):
    d = X.shape[1]
    return expect_array(
        ref.ridge(X, y, lam),
        *_ridge_alternatives(X, y, lam),
        alt(np.linalg.pinv(X.T @ X + lam * np.ones((d, d))) @ X.T @ y,
            "λ was added to every entry of XᵀX; it belongs on the diagonal only (λI)."),
        hint="ŵ = (XᵀX + λI_d)⁻¹Xᵀy.",
    )


def _draw_gains(rng, i):
    lam = lam_value(rng)
    return [[singular_values(rng, int(rng.integers(3, 7)), 0.2 * np.sqrt(lam), 4 * np.sqrt(lam)), lam]]


def _expect_gains(s, lam, calls):
    return expect_array(
        ref.ridge_gains(s, lam),
        alt(s / (s + lam), "the gain compares σ² with λ, not σ: σ/(σ² + λ)."),
        alt(s ** 2 / (s ** 2 + lam), "σ²/(σ² + λ) is the shrinkage of the fit Xŵ; the weights "
                                     "get an extra 1/σ."),
        alt(1 / (s ** 2 + lam), "the numerator σ is missing."),
        hint="Each direction gets σᵢ/(σᵢ² + λ).",
    )


def _expect_ridge_svd(X, y, lam, calls):
    return expect_array(ref.ridge_svd(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="ŵ = V diag(σᵢ/(σᵢ²+λ)) Uᵀy with the (d, n) middle factor.")


def _draw_posterior(rng, i):
    (X, y, lam), = _draw(rng, i)
    d = X.shape[1]
    return [[column(rng, d), X, y, lam] for _ in range(4)]


def _nlp(w, X, y, lam, data=1.0, prior=0.5, noise_power=1):
    r = y - X @ w
    return float((r.T @ r).item() * data / (2 * lam ** noise_power) + prior * (w.T @ w).item())


def _expect_posterior(w, X, y, lam, calls):
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
            alt_values("the prior N(0, I) contributes ‖w‖²/2, not ‖w‖².", prior=1.0),
            {"value": [-v for v in values], "message": "the sign is flipped: this is the log-posterior."},
        ],
        "hint": "Write −log p(y | w) − log p(w) and drop what does not depend on w.",
    }


def _expect_fake_data(X, y, lam, calls):
    X_hat, y_hat = ref.fake_data(X, y, lam)
    d = X.shape[1]
    return expect_tuple(["X_hat", "y_hat"], [
        expect_array(X_hat, alt(np.vstack([X, lam * np.eye(d)]), _SQRT_MSG)),
        expect_array(y_hat),
    ])


def _expect_ridge_fake_data(X, y, lam, calls):
    return expect_array(ref.ridge_fake_data(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="Solve ordinary least squares on [X; √λ I_d], [y; 0].")


def _draw_features(rng, i):
    (X, y, lam), = _draw(rng, i)
    return [[X, lam]]


def _expect_fake_features(X, lam, calls):
    n = X.shape[0]
    return expect_array(
        ref.fake_features(X, lam),
        alt(np.hstack([X, lam * np.eye(n)]), _SQRT_MSG),
        alt(np.hstack([np.sqrt(lam) * np.eye(n), X]), "the blocks are swapped: the features X come first."),
    )


def _expect_ridge_fake_features(X, y, lam, calls):
    d = X.shape[1]
    F = ref.fake_features(X, lam)
    eta = np.linalg.pinv(F) @ y
    return expect_array(
        ref.ridge_fake_features(X, y, lam),
        *_ridge_alternatives(X, y, lam),
        alt(eta[-d:], "these are the last d entries of η; the weights are its first d entries."),
        hint="Find the minimum-norm η with [X, √λ Iₙ] η = y and keep its first d entries.",
    )


def _expect_kernel_ridge(X, y, lam, calls):
    return expect_array(ref.kernel_ridge(X, y, lam), *_ridge_alternatives(X, y, lam),
                        hint="ŵ = Xᵀ(XXᵀ + λIₙ)⁻¹y.")


def _draw_Xy(rng, i):
    (X, y, _), = _draw(rng, i)
    return [[X, y]]


def _expect_shrinkage(X, y, calls):
    return expect_array(
        ref.ridge_shrinkage_direction(X, y),
        alt(np.zeros((X.shape[1], 1)), "ŵ_λ itself tends to 0, but λ·ŵ_λ has a non-zero limit."),
        alt(_ols(X, y), "this is the λ → 0 limit; for λ → ∞, (XᵀX + λI)⁻¹ ≈ I/λ."),
    )


def _draw_limit(rng, i):
    """Tall, wide and rank-deficient X in turn (exact zero singular values)."""
    n, d = tall_shape(rng) if i % 2 == 0 else wide_shape(rng)
    k = min(n, d)
    s = singular_values(rng, k)
    if i % 4 >= 2:
        s[-2:] = 0.0  # rank k − 2
    return [[matrix_with_singular_values(rng, n, d, s), column(rng, n)]]


def _expect_limit(X, y, calls):
    return expect_array(
        ref.ridge_limit_zero(X, y),
        alt(np.zeros((X.shape[1], 1)), "the limit λ → 0 is not 0: small λ barely shrinks."),
        rtol=1e-5, atol=1e-7,
        hint="In SVD terms each gain σ/(σ²+λ) tends to 1/σ when σ > 0 and stays 0 when σ = 0: "
             "the pseudoinverse. This must hold for tall, wide and rank-deficient X.",
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
