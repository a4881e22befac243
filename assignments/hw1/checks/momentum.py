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
        alt(M[::-1], "the rows are swapped: the first row gives ε_{t+1}, the second just copies ε_t."),
        alt(M.T, "this is Mᵀ: row i of M gives entry i of (ε_{t+1}, ε_t) from (ε_t, ε_{t−1})."),
        alt(M[::-1, ::-1], "this orders the pair as (ε_{t−1}, ε_t); the state is (ε_t, ε_{t−1}), newest first."),
        alt([[1 - beta - lr * lam, beta], [1, 0]],
            "the signs of the β terms are flipped: β(ε_t − ε_{t−1}) adds β ε_t and subtracts β ε_{t−1}."),
        alt([[a, beta], [1, 0]], "the sign of the ε_{t−1} coefficient: β(ε_t − ε_{t−1}) contributes −β ε_{t−1}."),
        alt([[1 - lr * lam, -beta], [1, 0]], "β(ε_t − ε_{t−1}) also contributes β ε_t to the top-left entry."),
        alt([[beta - lr * lam, -beta], [1, 0]], "ε_{t+1} starts from ε_t itself: the top-left entry lost its 1."),
        alt([[a, -beta], [0, 1]], "the second row must copy ε_t (the first entry of the old state) into the second slot."),
        hint="Write ε_{t+1} in terms of ε_t and ε_{t−1} (along an eigenvector, ∇f = λε), then stack it over "
             "the trivial equation ε_t = ε_t.",
    )


def _lams_between(rng, mu, L, n):
    return np.concatenate([[mu], np.sort(rng.uniform(mu, L, size=n)), [L]])


def _draw_rate(rng, i):
    """Scenario i % 4: 0, the Polyak parameters (double eigenvalues at μ and L); 1, a small step and a small
    β, real positive roots everywhere, slowest at λ_min; 2, a long step, slowest at λ_max with a real
    negative root (complex roots at λ_min); 3, a β above Polyak's and a step inside the band, complex roots
    at every λ (rate √β, which the real part or a clipped discriminant misses)."""
    scenario = i % 4
    mu = float(rng.uniform(0.1, 1.5))
    if scenario == 0:
        L = mu * float(rng.uniform(10, 200))
        lr, beta = ref.polyak_params(mu, L)
    elif scenario == 1:
        L = mu * float(rng.uniform(10, 50))
        beta = float(rng.uniform(0.05, 0.12))
        lr = float(rng.uniform(0.1, 0.3)) / L  # real roots at every λ (a(L) > 2√β): no radius equals √β
    elif scenario == 2:
        L = mu * float(rng.uniform(2, 4))
        beta = float(rng.uniform(0.1, 0.3))
        low, high = (1 + math.sqrt(beta)) ** 2, 2 * (1 + beta)  # a(L) < −2√β, and still convergent
        lr = (low + float(rng.uniform(0.3, 0.8)) * (high - low)) / L
    else:
        L = mu * float(rng.uniform(2, 10))
        kappa = L / mu
        root_polyak = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)  # √β of Polyak, below 0.52
        root_beta = root_polyak + float(rng.uniform(0.3, 0.7)) * (0.9 - root_polyak)
        beta = root_beta ** 2
        low, high = (1 - root_beta) ** 2 / mu, (1 + root_beta) ** 2 / L  # |a(λ)| < 2√β on all of [μ, L]
        lr = low + float(rng.uniform(0.25, 0.75)) * (high - low)
    lams = _lams_between(rng, mu, L, int(rng.integers(1, 4)))
    return [[lams, float(lr), float(beta)]]


def _eigs(lam, lr, beta):
    return np.linalg.eigvals(ref.momentum_matrix(lam, lr, beta))


def _expect_rate(lams, lr, beta, calls, conv=None):
    rate = ref.momentum_rate(lams, lr, beta)
    mu, L = float(np.min(lams)), float(np.max(lams))
    kappa = L / mu
    root = math.sqrt(beta)
    traces = [1 + beta - lr * float(lam) for lam in lams]
    alts = []
    trace_mu, trace_L = 1 + beta - lr * mu, 1 + beta - lr * L
    if abs(trace_mu) < 2 * root and trace_L < -2 * root:
        # complex eigenvalues at λ_min (modulus √β), negative real ones at λ_max, the slowest: dropping the
        # sign, looking at λ_min only, or taking √β for every λ all give √β
        alts.append(alt(root, "√β is the modulus of complex eigenvalues, as at λ_min here; at λ_max, M has two "
                              "negative real eigenvalues, and the larger in size exceeds √β: the spectral radius "
                              "takes |eigenvalue|, whatever the sign."))
    if all(abs(a) < 2 * root for a in traces):
        alts.append(alt(max(abs(a) for a in traces) / 2,
            "this is the size of the real part a/2 of the complex eigenvalues (a ± i√(4β − a²))/2, a = 1 + β − ηλ, "
            "not their modulus: the imaginary part cannot be dropped (nor a negative discriminant clipped to 0)."))
    alts += [
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
        alt(root, "√β is the modulus only while the roots are complex; here some M(λ) has real roots."),
        alt((kappa - 1) / (kappa + 1),
            "this is the best rate of GD without momentum (problem 1), not the spectral radius of these M(λ)."),
        alt(max(abs(1 - lr * lam) for lam in lams), "max |1 − ηλ| is the rate of GD without momentum."),
        alt((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1),
            "(√κ − 1)/(√κ + 1) is the rate at Polyak's parameters only (2(d)); these lr and β are others, so "
            "compute the spectral radii."),
    ]
    wrong_matrices = (  # the mistakes of 2(b), carried into 2(c)
        lambda lam: [[1 - beta - lr * lam, beta], [1, 0]],
        lambda lam: [[1 + beta - lr * lam, beta], [1, 0]],
        lambda lam: [[1 - lr * lam, -beta], [1, 0]],
        lambda lam: [[beta - lr * lam, -beta], [1, 0]],
    )
    for build in wrong_matrices:
        alts.append(alt(max(float(np.max(np.abs(np.linalg.eigvals(np.array(build(float(lam)), dtype=float)))))
                            for lam in lams),
                        "this is the spectral radius of a wrong M(λ): check it against 2(b) (ε_{t+1} from ε_t and "
                        "ε_{t−1}, with ∇f = λε along the eigenvector)."))
    # a value within 1e-5 of the answer is the answer (at the Polyak parameters several of these coincide)
    alts = [a for a in alts if abs(float(a["value"]["data"][0]) - rate) > 1e-5 * max(1.0, rate)]
    return expect_scalar(
        rate,
        *alts,
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
    Check("q2c", "momentum_rate", ("lams", "lr", "beta"), _draw_rate, _expect_rate, n_public=4, n_hidden=8),
    Check("q2d", "polyak_params", ("mu", "L"), _draw_polyak, _expect_polyak),
]
