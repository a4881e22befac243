"""Checks for problem 3: softmax, cross-entropy and backpropagation through a ReLU network."""

from __future__ import annotations

import numpy as np

from autograder.checks.base import Check, alt, expect_array, expect_scalar, expect_tuple
from reference.hw1 import backprop as ref

from .gd import ROW_HINT

_STABLE_HINT = ("The result must be finite for logits as large as 1000 or as small as −1000: exp(1000) overflows "
                "to inf and exp(−1000) underflows to 0 (inf/inf and 0/0 are nan). softmax(z − c) = softmax(z) "
                "for any constant c.")


def _draw_logits(rng, i):
    """Scenario i % 4: 0, moderate logits; 1, logits up to 1000 with one at −1000; 2, all near −1000; 3, one
    near 1000 and the others near −1000 (a shift by the mean still overflows there)."""
    K = int(rng.integers(3, 7))
    scenario = i % 4
    if scenario == 0:
        z = rng.normal(size=(K, 1)) * 3
    elif scenario == 1:
        z = 1000 - rng.uniform(0, 3, size=(K, 1))
        z[rng.permutation(K)[:2], 0] = [1000.0, -1000.0]
    elif scenario == 2:
        z = -1000 + rng.normal(size=(K, 1)) * 2
        z[rng.integers(K), 0] = -1000.0
    else:
        z = -1000 + rng.uniform(0, 3, size=(K, 1))
        z[rng.integers(K), 0] = 1000.0 - float(rng.uniform(0, 3))
    return [[z]]


def _draw_spread(rng, i):
    """Odd i: logits near ±1000 with several sizeable probabilities (scenarios 1 and 2 of ``_draw_logits``);
    even i: moderate logits."""
    if i % 2 == 0:
        K = int(rng.integers(3, 7))
        return [[rng.normal(size=(K, 1)) * 1.5]]
    return _draw_logits(rng, 1 if i % 4 == 1 else 2)


def _expect_softmax(z, calls, conv=None):
    p = ref.softmax(z)
    e = np.exp(z - z.max())
    return expect_array(
        p,
        alt(e, "not normalised: divide by the sum so that the probabilities add up to 1."),
        alt(np.ones_like(z), "every entry is 1: the sum was taken along the wrong axis (one entry per row)."),
        alt(z - ref.logsumexp(z), "this is log softmax(z); softmax is its exponential."),
        hint=_STABLE_HINT,
    )


def _expect_logsumexp(z, calls, conv=None):
    m = float(z.max())
    lse = ref.logsumexp(z)
    alts = [alt(lse - m, "the shift is not added back: log Σ exp(zᵢ) = m + log Σ exp(zᵢ − m)."),
            alt(m, "max z is only an approximation of log Σ exp(zᵢ) (a lower bound).")]
    if lse < 700:
        alts.append(alt(np.exp(lse), "this is Σ exp(zᵢ), before the log."))
    return expect_scalar(
        lse,
        *alts,
        hint=_STABLE_HINT.replace("(inf/inf and 0/0 are nan). softmax(z − c) = softmax(z) for any constant c.",
                                  "(log 0 is −inf). Factor exp(m) out of the sum first."),
    )


def _expect_jacobian(z, calls, conv=None):
    p = ref.softmax(z)
    K = p.shape[0]
    D = np.diagflat(p)
    return expect_array(
        D - p @ p.T,
        alt(D, "only diag(p): every pᵢ depends on every zⱼ through the normalising sum, which adds a term "
               "for j ≠ i too."),
        alt(D - (p.T @ p).item(), "pᵀp is a number (1 × 1), subtracted from every entry; the term from the normalising "
                                       "sum differs from entry to entry."),
        alt(p @ p.T - D, "the sign is flipped: ∂pᵢ/∂zᵢ is positive."),
        alt(np.diagflat(p - p ** 2), "only the diagonal: the entries ∂pᵢ/∂zⱼ for i ≠ j are not zero."),
        alt(np.eye(K) - np.ones((K, 1)) @ p.T, "this is the Jacobian of log p, not of p."),
        alt(p @ p.T, "only the term from the normalising sum, and with the wrong sign; add the diagonal term."),
        hint="Differentiate pᵢ = exp(zᵢ)/Σₖ exp(zₖ) with respect to zⱼ, separately for j = i and j ≠ i.",
        layout_hint=ROW_HINT,
    )


def _draw_dce(rng, i):
    z = _draw_spread(rng, i)[0][0]
    return [[z, int(rng.integers(z.shape[0]))]]


def _expect_dce(z, k, calls, conv=None):
    p = ref.softmax(z)
    K = p.shape[0]
    e = np.zeros((K, 1))
    e[k] = 1.0
    alts = [
        alt((p - 1).T, "1 was subtracted from every entry; −log p_k depends on z_k in a way it does not on the "
                          "other logits."),
        alt(p.T, "the −e_k from −z_k in CE = −z_k + log Σ exp(zⱼ) is missing."),
        alt((e - p).T, "the sign is flipped: this is the derivative of log p_k, not of −log p_k."),
    ]
    if p[k, 0] > 0:  # p_k underflows to 0 when z_k is near −1000 and another logit near 1000
        dp = np.zeros((1, K))
        dp[0, k] = -1 / p[k, 0]
        alts.append(alt(dp, "this is ∂CE/∂p; chain it through the softmax Jacobian to get ∂CE/∂z."))
    return expect_array(
        (p - e).T,
        *alts,
        alt(p[k, 0] * (e - p).T, "this is ∂p_k/∂z; CE is −log p_k."),
        hint="Write CE = −z_k + log Σⱼ exp(zⱼ) and differentiate with respect to each zᵢ.",
        layout_hint=ROW_HINT,
    )


_SHAPES = [(3, 5, 4), (4, 6, 3), (5, 3, 4), (3, 4, 5), (4, 3, 6), (6, 4, 3)]  # (D, H, K), all different


def _draw_mlp(rng, i):
    """Dyadic W1, b1, X so that chosen pre-activations are exactly 0 (relu'(0) matters there)."""
    D, H, K = _SHAPES[int(rng.integers(len(_SHAPES)))]
    N = int(rng.choice([n for n in range(4, 8) if n not in (D, H, K)]))
    W1 = rng.integers(-6, 7, size=(H, D)) / 4.0
    X = rng.integers(-4, 5, size=(D, N)) / 2.0
    b1 = rng.integers(-4, 5, size=(H, 1)) / 4.0
    rows = rng.permutation(H)[:2]
    for r in rows:
        X_col = X[:, int(rng.integers(N))]
        b1[r, 0] = -(W1[r] @ X_col)  # exact: every number is a small dyadic fraction
    W2 = rng.normal(size=(K, H)) * 0.5
    b2 = rng.normal(size=(K, 1)) * 0.5
    Y = rng.integers(0, K, size=N)
    return [[W1, b1, W2, b2, X, Y]]


def _grads(W1, b1, W2, b2, X, Y, *, scale, at_zero=0.0, mask=True, pre_for_h=False, minus_one_all=False):
    """The batch gradients with the given mistakes (for the alternatives)."""
    A = W1 @ X + b1
    Hid = np.maximum(A, 0)
    Z = W2 @ Hid + b2
    P = np.exp(Z - Z.max(axis=0, keepdims=True))
    P /= P.sum(axis=0, keepdims=True)
    Y = np.asarray(Y, dtype=int)
    G = P - 1.0 if minus_one_all else P.copy()
    if not minus_one_all:
        G[Y, np.arange(X.shape[1])] -= 1.0
    G = G * scale
    dW2 = G @ (A if pre_for_h else Hid).T
    db2 = G.sum(axis=1, keepdims=True)
    gate = np.where(A > 0, 1.0, np.where(A == 0, at_zero, 0.0)) if mask else 1.0
    GA = (W2.T @ G) * gate
    return GA @ X.T, GA.sum(axis=1, keepdims=True), dW2, db2


def _expect_mlp(W1, b1, W2, b2, X, Y, calls, conv=None):
    reduction = getattr(conv, "reduction", "mean")
    N = X.shape[1]
    want = ref.mlp_grads(W1, b1, W2, b2, X, Y, reduction=reduction)
    scale = 1 / N if reduction == "mean" else 1.0
    args = (W1, b1, W2, b2, X, Y)
    if reduction == "mean":
        other = _grads(*args, scale=1.0)
        other_msg = ("no 1/N: the loss is the mean of the N per-example cross-entropies, so every gradient "
                     "carries a factor 1/N.")
    else:
        other = _grads(*args, scale=1 / N)
        other_msg = "divided by N: the loss here is the sum of the per-example cross-entropies, not their mean."
    at_zero = _grads(*args, scale=scale, at_zero=1.0)
    no_mask = _grads(*args, scale=scale, mask=False)
    pre = _grads(*args, scale=scale, pre_for_h=True)
    minus_one = _grads(*args, scale=scale, minus_one_all=True)
    twice = _grads(*args, scale=scale / N)
    zero_msg = ("relu'(0) = 0 in this course: a unit whose pre-activation is exactly 0 passes no gradient "
                "(test a > 0, not a ≥ 0).")
    mask_msg = "the ReLU's derivative is missing: the gradient flows back only through units with a > 0."
    pre_msg = "dW2 uses the pre-activations a = W1x + b1; z = W2 h + b2 uses h = relu(a)."
    minus_one_msg = "1 was subtracted from every entry of p; only the true class of each example gets −1."
    twice_msg = "divided by N twice: the 1/N of the mean enters once, in ∂loss/∂z."
    names = ["dW1", "db1", "dW2", "db2"]
    items = []
    for j, name in enumerate(names):
        alts = [alt(other[j], other_msg), alt(minus_one[j], minus_one_msg), alt(twice[j], twice_msg)]
        if j < 2:
            alts += [alt(at_zero[j], zero_msg), alt(no_mask[j], mask_msg)]
        if j == 2:
            alts.append(alt(pre[j], pre_msg))
        items.append(expect_array(
            want[j], *alts,
            hint="Backpropagate one example at a time: from ∂CE/∂z (question 3d) through z = W2 h + b2, the ReLU "
                 "and a = W1 x + b1; then combine the examples as the loss does.",
            layout_hint=f"{name} has the shape of its parameter: entry (i, j) is ∂loss/∂(parameter)ᵢⱼ, and a "
                        "bias gradient is a column.",
        ))
    return expect_tuple(names, items)


CHECKS = [
    Check("q3a", "softmax", ("z",), _draw_logits, _expect_softmax, n_public=4, n_hidden=4),
    Check("q3b", "logsumexp", ("z",), _draw_logits, _expect_logsumexp, n_public=4, n_hidden=4),
    Check("q3c", "softmax_jacobian", ("z",), _draw_spread, _expect_jacobian),
    Check("q3d", "dce_dlogits", ("z", "k"), _draw_dce, _expect_dce),
    Check("q3e", "mlp_grads", ("W1", "b1", "W2", "b2", "X", "Y"), _draw_mlp, _expect_mlp),
]
