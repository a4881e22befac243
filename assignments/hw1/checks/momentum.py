"""Checks for problem 2: heavy-ball momentum on a quadratic."""

from __future__ import annotations

import math

import numpy as np

from autograder.checks.base import Check, alt, column, expect_array, expect_scalar, expect_tuple
from reference.hw1 import momentum as ref


def _draw_step(rng, i):
    d = int(rng.integers(3, 6))
    return [[column(rng, d), column(rng, d), column(rng, d), float(rng.uniform(0.05, 0.6)),
             float(rng.uniform(0.3, 0.9))]]


def _expect_step(w, w_prev, grad, lr, beta, calls, conv=None):
    return expect_array(
        ref.momentum_step(w, w_prev, grad, lr, beta),
        alt(w - lr * grad - beta * (w - w_prev), "the momentum term has the wrong sign: the step adds "
                                                 "β(w_t − w_{t−1}), carrying on in the direction of the last step."),
        alt(w - lr * grad, "the momentum term β(w_t − w_{t−1}) is missing: this is a plain GD step."),
        alt(w + lr * grad + beta * (w - w_prev), "the step goes along +∇f: GD moves against the gradient."),
        alt(w - lr * grad + beta * w_prev, "the momentum term is β(w_t − w_{t−1}), the last step, not β w_{t−1}."),
        alt(w - (1 - beta) * lr * grad + beta * (w - w_prev), "a stray (1 − β) on the gradient: heavy ball uses "
                                                              "η∇f(w_t) itself."),
        hint="w_{t+1} = w_t − η ∇f(w_t) + β (w_t − w_{t−1}), with w = w_t and w_prev = w_{t−1}.",
    )


def _draw_matrix(rng, i):
    lam = float(rng.uniform(0.3, 5.0))
    return [[lam, float(rng.uniform(0.1, 1.5) / lam), float(rng.uniform(0.2, 0.9))]]


def _expect_matrix(lam, lr, beta, calls, conv=None):
    M = ref.momentum_matrix(lam, lr, beta)
    a = 1 + beta - lr * lam
    return expect_array(
        M,
        alt(M[::-1], "the rows are swapped: the first row gives e_{t+1}, the second just copies e_t."),
        alt(M.T, "this is Mᵀ: row i of M gives entry i of (e_{t+1}, e_t) from (e_t, e_{t−1})."),
        alt(M[::-1, ::-1], "this orders the pair as (e_{t−1}, e_t); the state is (e_t, e_{t−1}), newest first."),
        alt([[1 - beta - lr * lam, beta], [1, 0]],
            "the signs of the β terms are flipped: β(e_t − e_{t−1}) adds β e_t and subtracts β e_{t−1}."),
        alt([[a, beta], [1, 0]], "the sign of the e_{t−1} coefficient: β(e_t − e_{t−1}) contributes −β e_{t−1}."),
        alt([[1 - lr * lam, -beta], [1, 0]], "β(e_t − e_{t−1}) also contributes β e_t to the top-left entry."),
        alt([[beta - lr * lam, -beta], [1, 0]], "e_{t+1} starts from e_t itself: the top-left entry lost its 1."),
        alt([[a, -beta], [0, 1]], "the second row must copy e_t (the first entry of the old state) into the second slot."),
        hint="Write e_{t+1} in terms of e_t and e_{t−1} (along an eigenvector, ∇f = λ e), then stack it over "
             "the trivial equation e_t = e_t.",
    )


def _lams_between(rng, mu, L, n):
    return np.concatenate([[mu], np.sort(rng.uniform(mu, L, size=n)), [L]])


def _draw_rate(rng, i):
    """Scenario i % 3: 0, the Polyak parameters (double eigenvalues at μ and L); 1, a small step and a small
    β, real positive roots everywhere, slowest at λ_min; 2, a long step, slowest at λ_max with a real
    negative root (complex roots at λ_min)."""
    scenario = i % 3
    mu = float(rng.uniform(0.1, 1.5))
    if scenario == 0:
        L = mu * float(rng.uniform(10, 200))
        lr, beta = ref.polyak_params(mu, L)
    elif scenario == 1:
        L = mu * float(rng.uniform(10, 50))
        beta = float(rng.uniform(0.05, 0.12))
        lr = float(rng.uniform(0.1, 0.3)) / L  # real roots at every λ (a(L) > 2√β): no radius equals √β
    else:
        L = mu * float(rng.uniform(2, 4))
        beta = float(rng.uniform(0.1, 0.3))
        low, high = (1 + math.sqrt(beta)) ** 2, 2 * (1 + beta)  # a(L) < −2√β, and still convergent
        lr = (low + float(rng.uniform(0.3, 0.8)) * (high - low)) / L
    lams = _lams_between(rng, mu, L, int(rng.integers(1, 4)))
    return [[lams, float(lr), float(beta)]]


def _eigs(lam, lr, beta):
    return np.linalg.eigvals(ref.momentum_matrix(lam, lr, beta))


def _expect_rate(lams, lr, beta, calls, conv=None):
    rate = ref.momentum_rate(lams, lr, beta)
    mu, L = float(np.min(lams)), float(np.max(lams))
    kappa = L / mu
    return expect_scalar(
        rate,
        alt(ref.momentum_rate([L], lr, beta), "this is the spectral radius at λ_max only; here the slowest "
                                              "eigenvalue is another one: take the max over all of them."),
        alt(ref.momentum_rate([mu], lr, beta), "this is the spectral radius at λ_min only; take the max over "
                                               "all eigenvalues."),
        alt(max(float(np.max(_eigs(lam, lr, beta).real)) for lam in lams),
            "you took the largest eigenvalue (its real part), not the largest modulus |eigenvalue|; a negative "
            "or complex eigenvalue can be the slowest."),
        alt(min(ref.momentum_rate([lam], lr, beta) for lam in lams), "the min over the eigenvalues: the rate is "
                                                                      "set by the slowest one, the max."),
        alt(max(np.linalg.norm(ref.momentum_matrix(lam, lr, beta), 2) for lam in lams),
            "this is the spectral norm ‖M‖₂ (largest singular value), not the spectral radius (largest "
            "|eigenvalue|); M is not symmetric, so they differ."),
        alt(math.sqrt(beta), "√β is the modulus only while the roots are complex; here some M(λ) has real roots."),
        alt((kappa - 1) / (kappa + 1),
            "this is the best rate of GD without momentum (problem 1), not the spectral radius of these M(λ)."),
        alt(max(abs(1 - lr * lam) for lam in lams), "max |1 − ηλ| is the rate of GD without momentum."),
        rtol=1e-6, atol=1e-9,  # correct methods agree to ~1e-7 at the double eigenvalues of the Polyak case
        hint="For each λ in lams build M(λ), take the largest |eigenvalue| (eigenvalues can be complex), and "
             "return the largest over λ.",
    )


def _draw_polyak(rng, i):
    while True:
        mu = float(rng.uniform(0.05, 2.0))
        if abs(mu - 1) > 0.15:
            return [[mu, mu * float(rng.uniform(5, 200))]]


def _expect_polyak(mu, L, calls, conv=None):
    lr, beta = ref.polyak_params(mu, L)
    a, b = math.sqrt(L), math.sqrt(mu)
    roots = "square roots are missing: the double roots of M(μ) and M(L) involve √μ and √L."
    return expect_tuple(["lr", "beta"], [
        expect_scalar(
            lr,
            alt(4 / (L + mu) ** 2, roots),
            alt(4 / (L + mu), roots),
            alt(2 / (L + mu), "2/(L + μ) is the best step size of GD without momentum; momentum changes it."),
            alt(4 / (a + b), "a square is missing in the step size: check its units (1/λ)."),
            hint="Choose lr and β so that M(μ) and M(L) both have a double eigenvalue, of opposite signs.",
        ),
        expect_scalar(
            beta,
            alt((a - b) / (a + b), "this is the rate √β; β is its square (the product of the two roots of M(λ))."),
            alt(((L - mu) / (L + mu)) ** 2, roots),
            alt((L - mu) / (L + mu), "this is the best rate of GD without momentum, not β."),
            hint="Choose lr and β so that M(μ) and M(L) both have a double eigenvalue, of opposite signs.",
        ),
    ])


CHECKS = [
    Check("q2a", "momentum_step", ("w", "w_prev", "grad", "lr", "beta"), _draw_step, _expect_step),
    Check("q2b", "momentum_matrix", ("lam", "lr", "beta"), _draw_matrix, _expect_matrix),
    Check("q2c", "momentum_rate", ("lams", "lr", "beta"), _draw_rate, _expect_rate, n_public=3, n_hidden=6),
    Check("q2d", "polyak_params", ("mu", "L"), _draw_polyak, _expect_polyak),
]
