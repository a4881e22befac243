"""Checks for problem 1: vector calculus, in numerator layout unless the variant says otherwise."""

from __future__ import annotations

import numpy as np

from autograder.checks import (
    Check,
    alt,
    arr,
    column,
    expect_array,
    nonsymmetric,
)
from reference.hw0 import calculus as ref
from reference.hw0.conventions import DEFAULT

from .common import layout_hint, oriented


def _size(rng: np.random.Generator) -> int:
    return int(rng.integers(3, 7))


def _draw_x_c(rng, i):
    n = _size(rng)
    return [[column(rng, n), column(rng, n)]]


def _expect_xTc(x, c, calls, conv=DEFAULT):
    return expect_array(
        ref.d_xTc(x, c, conv=conv),
        alt(oriented(x.T, conv), "you returned xᵀ. Which of x and c is the variable you differentiate by? Write xᵀc "
                 "= Σᵢ xᵢcᵢ and differentiate it with respect to one entry xⱼ."),
        layout_hint=layout_hint(conv),
    )


def _draw_x(rng, i):
    return [[column(rng, _size(rng))]]


def _expect_sqnorm(x, calls, conv=DEFAULT):
    return expect_array(
        ref.d_sqnorm(x, conv=conv),
        alt(oriented(x.T, conv), "your row is off by a constant factor. Differentiate Σᵢ xᵢ² with respect to one entry xⱼ "
                 "and look at the coefficient."),
        layout_hint=layout_hint(conv),
    )


def _draw_A_x(rng, i):
    n = _size(rng)
    return [[nonsymmetric(rng, n), column(rng, n)]]


def _expect_Ax(A, x, calls, conv=DEFAULT):
    if conv.layout == "denominator":
        wrong = alt(A, "you returned A, the numerator-layout Jacobian. In denominator layout entry (i, j) is "
                       "∂(Ax)ⱼ/∂xᵢ. Compute it from (Ax)ⱼ = Σₖ Aⱼₖxₖ.")
    else:
        wrong = alt(A.T, "you returned Aᵀ, the denominator-layout Jacobian. In numerator layout row i holds the "
                         "derivatives of output i: entry (i, j) is ∂(Ax)ᵢ/∂xⱼ. Compute it from (Ax)ᵢ = Σₖ Aᵢₖxₖ.")
    return expect_array(ref.d_Ax(A, x, conv=conv), wrong)


_SYMMETRIC_MSG = ("this is the shortcut that works for a symmetric A, and this A is not symmetric. "
                  "x appears twice in xᵀAx = Σᵢₖ xᵢAᵢₖxₖ: differentiate with respect to xⱼ and keep a term "
                  "for each occurrence.")


def _expect_xTAx(A, x, calls, conv=DEFAULT):
    return expect_array(
        ref.d_xTAx(A, x, conv=conv),
        alt(oriented(2 * x.T @ A, conv), _SYMMETRIC_MSG),
        alt(oriented(2 * x.T @ A.T, conv), _SYMMETRIC_MSG),
        alt(oriented(x.T @ A, conv), "only one of the two occurrences of x in xᵀAx was differentiated; the product rule "
                     "gives a term for each."),
        alt(oriented(x.T @ A.T, conv), "only one of the two occurrences of x in xᵀAx was differentiated; the product rule "
                       "gives a term for each."),
        layout_hint=layout_hint(conv),
    )


# Scenarios for q1e: (description, tolerance passed or None for the default, asymmetry/tol)
_SYMMETRY_SCENARIOS = [
    ("clearly non-symmetric", 1e-9, None),
    ("exactly symmetric, default tol", None, 0.0),
    ("asymmetry within tol", 1e-3, 0.4),
    ("asymmetry beyond tol", 1e-3, 3.0),
    ("asymmetry within the default tol", None, 0.4),
    ("asymmetry just beyond a small tol", 1e-6, 5.0),
]


def _draw_symmetry(rng, i):
    _, tol, ratio = _SYMMETRY_SCENARIOS[i % len(_SYMMETRY_SCENARIOS)]
    n = _size(rng)
    if ratio is None:
        A = nonsymmetric(rng, n)
    else:
        B = rng.normal(size=(n, n))
        A = B + B.T
        p, q = rng.choice(n, size=2, replace=False)
        A[p, q] += ratio * (tol or 1e-9)
    return [[A] if tol is None else [A, tol]]


def _expect_symmetry(A, tol=1e-9, calls=None, conv=DEFAULT):  # the same in every layout
    return {"kind": "bool", "value": ref.equals_2xTA_for_all_x(A, tol),
            "hint": "The question is about every x, not one x: what must A satisfy for the two rows to "
                    "agree whatever x is? Decide with the tol you are given (max |A − Aᵀ| ≤ tol), no other."}


def _sin_map(rng, n):
    m = n + int(rng.choice([-1, 1, 2]))
    return {"function": {"kind": "sin_map", "B": arr(rng.normal(size=(m, n))),
                         "c": arr(column(rng, m)), "k": 2.0}}


def _quad_sin(rng, n, matrix):
    return {"function": {"kind": "quad_sin", "A": arr(nonsymmetric(rng, n)), "k": 3.0,
                         "matrix": matrix}}


def _draw_numerical(rng, i):
    n = _size(rng)
    x = column(rng, n)
    scenario = i % 4
    if scenario == 0:
        return [[_sin_map(rng, n), x]]  # default eps
    if scenario == 1:
        return [[_quad_sin(rng, n, False), x, 1e-3]]
    if scenario == 2:
        return [[_quad_sin(rng, n, True), x, 1e-4]]
    return [[_sin_map(rng, n), x, 1e-2]]


def _forward_difference(f, x, eps):
    base = np.asarray(f(x), dtype=float).reshape(-1)
    cols = []
    for j in range(x.shape[0]):
        step = np.zeros_like(x)
        step[j, 0] = eps
        cols.append((np.asarray(f(x + step), dtype=float).reshape(-1) - base) / eps)
    return np.column_stack(cols)


def _expect_numerical(f, x, eps=1e-6, calls=None, conv=DEFAULT):
    want = ref.numerical_derivative(f, x, eps, conv=conv)
    return expect_array(
        want,
        alt(oriented(_forward_difference(f, x, eps), conv), "this is a one-sided difference, with error O(eps); "
                                            "the central difference (f(x+eps·eⱼ) − f(x−eps·eⱼ))/(2eps) has error O(eps²)."),
        alt(2 * want, "off by a factor 2: how far apart are the two points x + eps·eⱼ and x − eps·eⱼ?"),
        rtol=1e-7, atol=1e-7,
        hint="Use the eps you are given, and build one column per coordinate of x.",
        layout_hint=layout_hint(conv),
    )


CHECKS = [
    Check("q1a", "d_xTc", ("x", "c"), _draw_x_c, _expect_xTc),
    Check("q1b", "d_sqnorm", ("x",), _draw_x, _expect_sqnorm),
    Check("q1c", "d_Ax", ("A", "x"), _draw_A_x, _expect_Ax),
    Check("q1d", "d_xTAx", ("A", "x"), _draw_A_x, _expect_xTAx, n_public=2, n_hidden=6),
    Check("q1e", "equals_2xTA_for_all_x", ("A", "tol"), _draw_symmetry, _expect_symmetry,
          n_public=2, n_hidden=6),
    Check("q1f", "numerical_derivative", ("f", "x", "eps"), _draw_numerical, _expect_numerical,
          n_public=2, n_hidden=4),
]
