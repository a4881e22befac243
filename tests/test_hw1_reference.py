"""hw1's reference solutions against independent computations: finite differences for
gradients and Jacobians, simulated GD and momentum, the closed forms of the rates."""

from __future__ import annotations

import numpy as np
import pytest

from reference.hw1 import backprop, gd, momentum

SEEDS = range(5)


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def _tall(rng, s, m):
    d = len(s)
    S = np.zeros((m, d))
    S[np.arange(d), np.arange(d)] = s
    return _orthogonal(rng, m) @ S @ _orthogonal(rng, d).T


def _fd_row(f, x, eps=1e-6):
    """Central differences of a scalar function of a column: a row (1, n)."""
    row = np.zeros((1, x.size))
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = eps
        row[0, j] = (f(x + e) - f(x - e)) / (2 * eps)
    return row


def _fd_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = eps
        cols.append((f(x + e) - f(x - e)).reshape(-1) / (2 * eps))
    return np.column_stack(cols)


def _problem(rng):
    d = int(rng.integers(3, 6))
    s = np.sort(rng.uniform(0.5, 3.0, size=d))[::-1]
    X = _tall(rng, s, d + 3)
    return X, s, rng.normal(size=(d + 3, 1)), rng.normal(size=(d, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_ls_grad_is_the_derivative(seed):
    rng = np.random.default_rng(seed)
    X, _, y, w = _problem(rng)
    loss = lambda v: 0.5 * float(np.sum((X @ v - y) ** 2))  # noqa: E731
    g = gd.ls_grad(X, y, w)
    assert g.shape == (1, X.shape[1])
    assert np.allclose(g, _fd_row(loss, w), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_gd_errors_shrink_by_the_factors(seed):
    rng = np.random.default_rng(seed)
    X, s, y, w0 = _problem(rng)
    lr, T = 0.7 * gd.max_stable_lr(X), 9
    W = gd.gd_iterates(X, y, w0, lr, T)
    assert W.shape == (T + 1, X.shape[1]) and np.array_equal(W[0], w0.ravel())
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    _, sv, Vt = np.linalg.svd(X, full_matrices=False)
    assert np.allclose(sv, s)
    coords = (W - w_star.T) @ Vt.T  # row t: the error's components along v_i
    factors = gd.error_factors(s, lr)
    assert factors.shape == (len(s),)
    predicted = coords[0] * factors[None, :] ** np.arange(T + 1)[:, None]
    assert np.allclose(coords, predicted, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_stability_threshold_and_best_rate(seed):
    rng = np.random.default_rng(seed)
    X, s, y, w0 = _problem(rng)
    edge = gd.max_stable_lr(X)
    assert edge == pytest.approx(2 / s[0] ** 2)
    assert np.max(np.abs(gd.error_factors(s, 0.999 * edge))) < 1
    assert np.max(np.abs(gd.error_factors(s, 1.001 * edge))) > 1
    lr, rate = gd.best_constant_lr(X)
    lrs = np.linspace(1e-3, edge, 20001)
    slowest = np.max(np.abs(1 - lrs[:, None] * s[None, :] ** 2), axis=1)
    assert lr == pytest.approx(lrs[np.argmin(slowest)], rel=1e-3)
    assert rate == pytest.approx(np.max(np.abs(gd.error_factors(s, lr))), rel=1e-12)
    kappa = (s[0] / s[-1]) ** 2
    assert rate == pytest.approx((kappa - 1) / (kappa + 1))
    W = gd.gd_iterates(X, y, w0, lr, 60)  # the error norm decays at this rate
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    err = np.linalg.norm(W - w_star.T, axis=1)
    assert err[-1] <= err[0] * rate ** 60 * (1 + 1e-6) + 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_momentum_step_and_matrix(seed):
    rng = np.random.default_rng(seed)
    d = 4
    Q = _orthogonal(rng, d)
    lams = np.sort(rng.uniform(0.3, 5.0, size=d))
    H = Q @ np.diag(lams) @ Q.T
    lr, beta = 0.3, 0.55
    w_prev, w = rng.normal(size=(d, 1)), rng.normal(size=(d, 1))
    w_next = momentum.momentum_step(w, w_prev, H @ w, lr, beta)
    assert np.allclose(w_next, w - lr * H @ w + beta * (w - w_prev))
    # along each eigenvector the pair (e_{t+1}, e_t) is M (e_t, e_{t-1})
    for i, lam in enumerate(lams):
        v = Q[:, [i]]
        pair = np.array([(v.T @ w).item(), (v.T @ w_prev).item()])
        assert np.allclose(momentum.momentum_matrix(lam, lr, beta) @ pair, [(v.T @ w_next).item(), pair[0]])


def _simulated_rate(lam, lr, beta, steps=4000):
    M = momentum.momentum_matrix(lam, lr, beta)
    x = np.array([1.0, 0.3])
    for _ in range(steps):
        x = M @ x
        x /= np.linalg.norm(x)
    return np.linalg.norm(M @ x)


@pytest.mark.parametrize("seed", SEEDS)
def test_momentum_rate_against_eigenvalues_and_simulation(seed):
    rng = np.random.default_rng(seed)
    lams = np.sort(rng.uniform(0.2, 6.0, size=5))
    for lr, beta in [(0.05, 0.3), (0.2, 0.8), (0.45, 0.1), (0.6, 0.5)]:
        radii = [max(abs(np.linalg.eigvals(momentum.momentum_matrix(lam, lr, beta)))) for lam in lams]
        rate = momentum.momentum_rate(lams, lr, beta)
        assert rate == pytest.approx(max(radii), rel=1e-10)
        lam = lams[int(np.argmax(radii))]
        if abs(1 + beta - lr * lam) ** 2 > 4 * beta + 1e-2:  # real, distinct roots: power iteration converges
            assert rate == pytest.approx(_simulated_rate(lam, lr, beta), rel=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_polyak_parameters_give_the_accelerated_rate(seed):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.1, 1.0)
    L = mu * rng.uniform(5, 200)
    lr, beta = momentum.polyak_params(mu, L)
    kappa = L / mu
    accelerated = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    assert np.sqrt(beta) == pytest.approx(accelerated, rel=1e-12)
    lams = np.concatenate([[mu], np.sort(rng.uniform(mu, L, size=3)), [L]])
    assert momentum.momentum_rate(lams, lr, beta) == pytest.approx(accelerated, rel=1e-7)
    eig = max(max(abs(np.linalg.eigvals(momentum.momentum_matrix(lam, lr, beta)))) for lam in lams)
    assert eig == pytest.approx(accelerated, rel=1e-6)  # double roots: eigvals is good to ~1e-8 only
    # any other (lr, beta) nearby is slower
    for dlr, dbeta in [(1.05, 1.0), (0.95, 1.0), (1.0, 1.05), (1.0, 0.95)]:
        assert momentum.momentum_rate(lams, lr * dlr, beta * dbeta) > accelerated


def test_softmax_and_logsumexp_are_stable():
    rng = np.random.default_rng(0)
    for z in [np.array([[1000.0], [999.0], [-1000.0]]), np.full((4, 1), -1000.0) + rng.normal(size=(4, 1)),
              rng.normal(size=(5, 1)) * 3]:
        p = backprop.softmax(z)
        assert p.shape == z.shape and np.all(np.isfinite(p)) and p.sum() == pytest.approx(1)
        lse = backprop.logsumexp(z)
        assert np.isfinite(lse) and isinstance(lse, float)
        assert np.allclose(p, np.exp(z - lse), atol=1e-15)  # p = exp(z - logsumexp(z))
        m = z.max()
        assert lse == pytest.approx(m + np.log(np.sum(np.exp(z - m))))
    z = rng.normal(size=(4, 1))
    assert backprop.logsumexp(z) == pytest.approx(np.log(np.sum(np.exp(z))))
    assert np.allclose(backprop.softmax(z), np.exp(z) / np.sum(np.exp(z)))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_jacobian_and_dce(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 7))
    z = rng.normal(size=(K, 1)) * 2
    J = backprop.softmax_jacobian(z)
    assert J.shape == (K, K)
    assert np.allclose(J, _fd_jacobian(backprop.softmax, z), atol=1e-8)
    k = int(rng.integers(K))
    g = backprop.dce_dlogits(z, k)
    assert g.shape == (1, K)
    ce = lambda v: -np.log(backprop.softmax(v)[k, 0])  # noqa: E731
    assert np.allclose(g, _fd_row(ce, z), atol=1e-8)
    lse = lambda v: backprop.logsumexp(v)  # noqa: E731
    assert np.allclose(_fd_row(lse, z), backprop.softmax(z).T, atol=1e-8)  # ∂ logsumexp/∂z = pᵀ


def _mlp_loss(W1, b1, W2, b2, X, Y, reduction):
    A = W1 @ X + b1
    Z = W2 @ np.maximum(A, 0) + b2
    ce = [backprop.logsumexp(Z[:, [n]]) - Z[y, n] for n, y in enumerate(Y)]
    return float(np.mean(ce) if reduction == "mean" else np.sum(ce))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mlp_grads_against_finite_differences(seed, reduction):
    rng = np.random.default_rng(seed)
    D, H, K, N = 3, 5, 4, 6
    params = [rng.normal(size=(H, D)), rng.normal(size=(H, 1)), rng.normal(size=(K, H)), rng.normal(size=(K, 1))]
    X, Y = rng.normal(size=(D, N)), rng.integers(0, K, size=N)
    grads = backprop.mlp_grads(*params, X, Y, reduction=reduction)
    if reduction == "mean":
        assert all(np.array_equal(g, h) for g, h in zip(grads, backprop.mlp_grads(*params, X, Y)))
    for i, (p, g) in enumerate(zip(params, grads)):
        assert g.shape == p.shape

        def f(v, i=i):
            args = list(params)
            args[i] = v
            return _mlp_loss(*args, X, Y, reduction)

        assert np.allclose(g, _fd_row(f, p).reshape(p.shape), rtol=1e-5, atol=1e-7)


def test_mlp_grads_relu_derivative_is_zero_at_zero():
    """A unit whose pre-activation is exactly 0 passes no gradient (relu'(0) = 0): the
    derivative is the one-sided one from below, and relu'(0) = 1 would give another."""
    W1 = np.array([[0.5, -0.25, 1.0], [1.0, 0.5, -0.5]])
    X = np.array([[1.0, 2.0, -1.0, 0.5], [2.0, -1.0, 1.0, 1.5], [0.5, 0.0, 1.0, -2.0]])
    b1 = np.array([[0.0], [-0.5]])
    b1[0, 0] = -(W1[0] @ X[:, 0])  # unit 0 exactly at zero on example 0 (dyadic numbers: exact)
    assert (W1 @ X + b1)[0, 0] == 0.0
    W2, b2 = np.array([[1.0, -2.0], [0.5, 1.5], [-1.0, 0.25]]), np.zeros((3, 1))
    Y = np.array([2, 0, 1, 1])
    _, db1, _, _ = backprop.mlp_grads(W1, b1, W2, b2, X, Y)
    eps = 1e-7
    below = b1 - np.array([[eps], [0.0]])
    left = (_mlp_loss(W1, b1, W2, b2, X, Y, "mean") - _mlp_loss(W1, below, W2, b2, X, Y, "mean")) / eps
    assert db1[0, 0] == pytest.approx(left, rel=1e-5)
    above = b1 + np.array([[eps], [0.0]])
    right = (_mlp_loss(W1, above, W2, b2, X, Y, "mean") - _mlp_loss(W1, b1, W2, b2, X, Y, "mean")) / eps
    assert abs(right - left) > 1e-3  # relu'(0) = 1 would give the other one-sided derivative
