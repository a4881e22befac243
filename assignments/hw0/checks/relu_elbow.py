"""Checks for problem 4: how one SGD step moves a ReLU's elbow.

Inputs are dyadic where it matters, so that pre-activations of exactly 0 really are
0 in floating point and the convention relu'(0) = 0 is tested.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from autograder.checks import (
    Check,
    alt,
    expect_array,
    expect_numbers,
    expect_scalar,
    expect_tuple,
)
from reference.hw0 import relu_elbow as ref
from reference.hw0.conventions import DEFAULT, Conventions

_DYADIC_X = [-1.5, -0.75, 0.5, 1.25, 1.75]
_DYADIC_W = [-2.25, -1.5, -0.5, 0.5, 1.5, 2.25]
_OLD_PARAMS_MSG = "take every gradient at the old parameters, before any of them is updated."
_OFF_MSG = "this unit is off here (w·x + b ≤ 0), so no gradient flows through it."


def _at_zero_msg(conv: Conventions) -> str:
    value = "1" if conv.relu_grad_at_zero == 1 else ("alpha" if conv.activation == "leaky" else "0")
    return f"at exactly w·x + b = 0 the activation's derivative is {value} by our convention."


def _loss_text(conv: Conventions) -> str:
    return "ℓ = ½(φ − y)²" if conv.loss_factor == 0.5 else f"ℓ = {conv.loss_factor:g}·(φ − y)²"


def _other_factor(conv: Conventions) -> Conventions:
    return replace(conv, loss_factor=1.0 if conv.loss_factor == 0.5 else 0.5)


def _factor_msg(conv: Conventions) -> str:
    if conv.loss_factor == 0.5:
        return "the ½ in ℓ = ½(φ − y)² cancels the 2 from the square."
    return f"here {_loss_text(conv)}: differentiating the square brings a factor 2."


def _other_zero(conv: Conventions) -> Conventions:
    return replace(conv, relu_grad_at_zero=1 - conv.relu_grad_at_zero)


# ---------------------------------------------------------------- single unit

def _unit(rng, scenario):
    """(w, b, x): 0 active, 1 inactive, 2 exactly at the kink."""
    x = float(rng.choice(_DYADIC_X))
    w = float(rng.choice(_DYADIC_W))
    if scenario == 2:
        return w, -w * x, x
    z = float(rng.uniform(0.5, 2.0)) * (1 if scenario == 0 else -1)
    return w, z - w * x, x


def _draw_unit(rng, i):
    w, b, x = _unit(rng, i % 3)
    return [[w, b, x, float(rng.uniform(-1.5, 1.5))]]


def _draw_elbow(rng, i):
    if i % 3 == 1:
        return [[0.0, float(rng.uniform(-2, 2))]]
    return [[float(rng.uniform(0.5, 2)) * rng.choice([-1, 1]), float(rng.uniform(-2, 2))]]


def _expect_elbow(w, b, calls, conv=DEFAULT):
    e = ref.elbow(w, b)
    alts = [] if w == 0 else [alt(b / w, "the sign is wrong: the elbow solves w·x + b = 0.")]
    if b != 0 and w != 0:
        alts.append(alt(-w / b, "w and b are swapped: the elbow solves w·x + b = 0 for x."))
    return expect_scalar(e, *alts, hint="With w = 0 the unit is flat and has no elbow: return nan.")


def _draw_phi(rng, i):
    return [[float(rng.uniform(0, 3)), float(rng.uniform(-2, 2))]]


def _expect_dphi(phi, y, calls, conv=DEFAULT):
    return expect_scalar(
        ref.dloss_dphi(phi, y, conv=conv),
        alt(ref.dloss_dphi(phi, y, conv=_other_factor(conv)), _factor_msg(conv)),
        alt(-ref.dloss_dphi(phi, y, conv=conv), "the sign is flipped: ℓ grows with φ when φ > y."),
    )


def _unit_grad(w, b, x, y, wrt, conv, *, gate=True, times_x=True):
    """A single-unit gradient under ``conv``; ``gate=False`` lets it flow through an off unit."""
    z = w * x + b
    delta = ref.dloss_dphi(ref.relu(z, conv), y, conv=conv)
    slope = float(ref.relu_slope(z, conv=conv)) if gate else 1.0
    return delta * slope * (x if wrt == "w" and times_x else 1.0)


def _grad_alternatives(w, b, x, y, wrt, conv):
    z = w * x + b
    alts = []
    if z < 0 and conv.activation == "relu":
        alts.append(alt(_unit_grad(w, b, x, y, wrt, conv, gate=False), _OFF_MSG))
    if z == 0:
        alts.append(alt(_unit_grad(w, b, x, y, wrt, _other_zero(conv)), _at_zero_msg(conv)))
    if z > 0:
        alts.append(alt(_unit_grad(w, b, x, y, wrt, _other_factor(conv)), _factor_msg(conv)))
        if wrt == "w":
            alts.append(alt(_unit_grad(w, b, x, y, wrt, conv, times_x=False),
                            "the chain rule brings a factor x: ∂z/∂w = x."))
        else:
            alts.append(alt(_unit_grad(w, b, x, y, "w", conv), "∂z/∂b = 1; the factor x belongs to ∂ℓ/∂w only."))
    return alts


def _chain_hint(conv: Conventions) -> str:
    return f"Apply the chain rule along {_loss_text(conv)}, φ = relu(z), z = w·x + b: one factor per link."


def _expect_dw(w, b, x, y, calls, conv=DEFAULT):
    return expect_scalar(ref.dloss_dw(w, b, x, y, conv=conv), *_grad_alternatives(w, b, x, y, "w", conv),
                         hint=_chain_hint(conv))


def _expect_db(w, b, x, y, calls, conv=DEFAULT):
    return expect_scalar(ref.dloss_db(w, b, x, y, conv=conv), *_grad_alternatives(w, b, x, y, "b", conv),
                         hint=_chain_hint(conv))


def _draw_step(rng, i):
    w, b, x = _unit(rng, i % 3)
    return [[w, b, x, float(rng.uniform(-1.5, 1.5)), float(rng.choice([0.05, 0.1, 0.3]))]]


def _wrong_steps(w, b, x, y, lr, conv):
    """(message, (w', b')) for the classic slips."""
    gw, gb = ref.dloss_dw(w, b, x, y, conv=conv), ref.dloss_db(w, b, x, y, conv=conv)
    w_new = w - lr * gw
    out = []
    if gw != 0 or gb != 0:
        out.append(("SGD moves against the gradient: subtract lr times it.", (w + lr * gw, b + lr * gb)))
        gb_at_new = ref.dloss_db(w_new, b, x, y, conv=conv)
        if gb_at_new != gb:
            out.append((_OLD_PARAMS_MSG, (w_new, b - lr * gb_at_new)))
    if w * x + b == 0:
        out.append((_at_zero_msg(conv), ref.sgd_step(w, b, x, y, lr, conv=_other_zero(conv))))
    if w * x + b < 0 and conv.activation == "relu":
        out.append((_OFF_MSG, (w - lr * _unit_grad(w, b, x, y, "w", conv, gate=False),
                               b - lr * _unit_grad(w, b, x, y, "b", conv, gate=False))))
    return out


def _expect_step(w, b, x, y, lr, calls, conv=DEFAULT):
    w_new, b_new = ref.sgd_step(w, b, x, y, lr, conv=conv)
    wrong = _wrong_steps(w, b, x, y, lr, conv)
    return expect_tuple(["w_new", "b_new"], [
        expect_scalar(w_new, *[alt(p[0], m) for m, p in wrong]),
        expect_scalar(b_new, *[alt(p[1], m) for m, p in wrong]),
    ])


def _expect_elbow_after(w, b, x, y, lr, calls, conv=DEFAULT):
    wrong = [alt(ref.elbow(*p), m) for m, p in _wrong_steps(w, b, x, y, lr, conv) if p[0] != 0]
    if ref.sgd_step(w, b, x, y, lr, conv=conv) != (w, b):
        wrong.append(alt(ref.elbow(w, b), "this is the elbow before the step."))
    return expect_scalar(ref.elbow_after_step(w, b, x, y, lr, conv=conv), *wrong,
                         hint="Take one SGD step, then the elbow −b'/w' of the new unit.")


def _expect_case_format(calls, conv=DEFAULT):
    return {"kind": "choice", "key": "i", "slopes": ["increases", "decreases", "unchanged"],
            "elbows": ["left", "right", "unchanged", "depends"]}


_CASE_KEYS = ["i", "ii", "iii", "iv"]


def _draw_nothing(rng, i):
    return [[]]


def _case_check(key: str) -> Check:
    def expect(calls=None, conv=DEFAULT):
        return {**_expect_case_format(calls), "key": key, "value": list(ref.case_answers(conv)[key])}
    return Check("q4b", "case_answers", (), _draw_nothing, expect, n_public=0, n_hidden=1,
                 name=f"case_{key}", applies=_relu_only)


def _relu_only(conv: Conventions) -> bool:
    """The four cases assume a unit that is off for z < 0: not so for a leaky one."""
    return ref.case_answers(conv) is not None


def _draw_plot(rng, i):
    w = float(rng.uniform(0.8, 2.0)) * rng.choice([-1, 1])
    x = float(rng.uniform(0.5, 2.0)) * rng.choice([-1, 1])
    b = float(rng.uniform(0.5, 1.5)) - w * x  # active at x
    y = float(rng.uniform(-1.5, 0.5))
    return [[w, b, x, y, 0.2]]


def _expect_plot(w, b, x, y, lr, calls, conv=DEFAULT):
    w_new, b_new = ref.sgd_step(w, b, x, y, lr, conv=conv)
    return {"kind": "figure", "before": [w, b], "after": [w_new, b_new], "point": [x, y],
            "elbows": [ref.elbow(w, b), ref.elbow(w_new, b_new)], "negative_slope": conv.leaky_slope}


# ---------------------------------------------------------------- network

def _network(rng, d, x):
    """W1, b, W2 with active, inactive and exactly-zero units, W2 entries far from ±1."""
    W1 = rng.choice(_DYADIC_W, size=(d, 1))
    z = rng.uniform(0.4, 1.5, size=(d, 1)) * rng.choice([-1.0, 1.0], size=(d, 1))
    z[0, 0], z[1, 0], z[2, 0] = abs(z[0, 0]), -abs(z[1, 0]), 0.0
    perm = rng.permutation(d)
    W1, z = W1[perm], z[perm]
    b = np.where(z == 0, -W1 * x, z - W1 * x)
    W2 = rng.uniform(1.3, 2.5, size=(1, d)) * rng.choice([-1.0, 1.0], size=(1, d))
    return W1, b, W2


def _draw_net(rng, i):
    d = int(rng.integers(3, 7))
    x = float(rng.choice(_DYADIC_X))
    W1, b, W2 = _network(rng, d, x)
    y = float(rng.uniform(-2, 2))
    return [[W1, b, W2, x, y, float(rng.choice([0.05, 0.1, 0.2]))]]


def _draw_net_leaky(rng, i):
    (call,) = _draw_net(rng, i)
    return [call + [float(rng.choice([0.05, 0.1, 0.2]))]]


def _net_variant(W1, b, W2, x, y, lr, alpha=0.0, *, conv=DEFAULT, new_W2=False, gate=True, dW2_from_z=False):
    """A network step with one slip switched on (the reference when all are off)."""
    z = W1 * x + b
    h = np.where(z > 0, z, (alpha or conv.leaky_slope) * z)
    delta = 2 * conv.loss_factor * ((W2 @ h).item() - y)
    dW2 = delta * (z.T if dW2_from_z else h.T)
    W2_used = W2 - lr * dW2 if new_W2 else W2
    slope = ref.relu_slope(z, alpha, conv) if gate else np.ones_like(z)
    dz = delta * W2_used.T * slope
    return W1 - lr * dz * x, b - lr * dz, W2 - lr * dW2


def _net_slips(conv: Conventions) -> list[tuple[dict, str]]:
    slips = [
        (dict(new_W2=True), "the W1 and b gradients used the updated W2; " + _OLD_PARAMS_MSG),
        (dict(conv=_other_zero(conv)), _at_zero_msg(conv).replace("w·x + b", "W1ᵢx + bᵢ")),
        (dict(dW2_from_z=True), "the W2 gradient used the pre-activations z; W2 multiplies what the hidden "
                                "units output, so which vector belongs there?"),
        (dict(conv=_other_factor(conv)), _factor_msg(conv)),
    ]
    if conv.activation == "relu":
        slips.append((dict(gate=False), "units with W1ᵢx + bᵢ ≤ 0 are off and get no gradient through relu."))
    return slips


def _slip_alternatives(args, pick, conv):
    ref_out = pick(_net_variant(*args, conv=conv))
    out = []
    for kw, msg in _net_slips(conv):
        value = pick(_net_variant(*args, **{"conv": conv, **kw}))
        if not np.allclose(value, ref_out, rtol=1e-9, atol=1e-12):
            out.append(alt(value, msg))
    return out


def _expect_net_step(W1, b, W2, x, y, lr, calls, conv=DEFAULT):
    args = (W1, b, W2, x, y, lr)
    new = ref.sgd_step_network(*args, conv=conv)
    return expect_tuple(["W1_new", "b_new", "W2_new"], [
        expect_array(new[k], *_slip_alternatives(args, lambda t, k=k: t[k], conv)) for k in range(3)
    ])


def _expect_elbows(W1, b, calls, conv=DEFAULT):
    return expect_numbers(
        ref.elbows(W1, b),
        alt(b / W1, "the sign is wrong: the elbow of unit i solves W1ᵢx + bᵢ = 0."),
        alt(-W1 / b, "W1 and b are swapped: the elbow of unit i solves W1ᵢx + bᵢ = 0 for x."),
    )


def _draw_elbows(rng, i):
    (call,) = _draw_net(rng, i)
    return [call[:2]]


def _elbows_of(params):
    return ref.elbows(params[0], params[1])


def _expect_elbows_after(W1, b, W2, x, y, lr, calls, conv=DEFAULT):
    args = (W1, b, W2, x, y, lr)
    alts = _slip_alternatives(args, _elbows_of, conv)
    alts.append(alt(ref.elbows(W1, b), "these are the elbows before the step."))
    return expect_numbers(ref.elbows_after_step(*args, conv=conv), *alts)


def _expect_elbows_leaky(W1, b, W2, x, y, lr, alpha, calls, conv=DEFAULT):
    args = (W1, b, W2, x, y, lr, alpha)
    alts = []
    if conv.activation == "relu":
        alts.append(alt(ref.elbows_after_step(*args[:6], conv=conv),
                        "with leaky relu, units that are off still get gradient (slope alpha) and move."))
    alts += [alt(_elbows_of(_net_variant(*args, conv=_other_zero(conv))),
                 _at_zero_msg(replace(conv, activation="leaky", alpha=alpha)))]
    alts += [alt(_elbows_of(_net_variant(*args, conv=conv, new_W2=True)), _OLD_PARAMS_MSG)]
    return expect_numbers(ref.elbows_after_step_leaky(*args, conv=conv), *alts)


def _draw_example(rng, i):
    """The numbers of the numeric sub-question: an active unit, a visible elbow shift, short decimals (so that
    the statement shows them exactly) and a new slope w' of the sign of w with |w'| ≥ |w|/2, under every knob:
    no division by w' ≈ 0 and no elbow that jumps across the pivot.  The unit is active (z ≥ 0.49), so only
    the loss factor matters, and w' is linear in it: the largest factor (1, gradient 2(φ − y)) is the worst."""
    while True:
        w, b, x = _unit(rng, 0)
        b, y, lr = round(b, 2), round(float(rng.uniform(-1.5, 0.0)), 2), float(rng.choice([0.1, 0.2]))
        z = w * x + b
        w_new = w - lr * 2.0 * (z - y) * x
        if z > 0 and w_new * w > 0 and abs(w_new) >= abs(w) / 2:
            return [[w, b, x, y, lr]]


def example_numbers(case: dict) -> dict:
    """The numbers of a q4n case, for the statement."""
    return dict(zip(("w", "b", "x", "y", "lr"), case["calls"][0]))


def _expect_example_form(*args, calls, conv=DEFAULT):
    return {"kind": "finite_number",
            "hint": "Set elbow_after_example to one number, a float (your answer is checked after the deadline)."}


def _expect_example(w, b, x, y, lr, calls, conv=DEFAULT):
    return expect_scalar(ref.elbow_after_step(w, b, x, y, lr, conv=conv),
                         alt(ref.elbow(w, b), "this is the elbow before the step."),
                         rtol=1e-4, atol=1e-6,
                         hint="Use the numbers of your own notebook: one SGD step, then −b'/w'.")


CHECKS = [
    Check("q4a", "elbow", ("w", "b"), _draw_elbow, _expect_elbow, n_public=2, n_hidden=3),
    Check("q4a", "dloss_dphi", ("phi", "y"), _draw_phi, _expect_dphi, n_public=1, n_hidden=2),
    Check("q4a", "dloss_dw", ("w", "b", "x", "y"), _draw_unit, _expect_dw, n_public=2, n_hidden=3),
    Check("q4a", "dloss_db", ("w", "b", "x", "y"), _draw_unit, _expect_db, n_public=2, n_hidden=3),
    Check("q4b", "sgd_step", ("w", "b", "x", "y", "lr"), _draw_step, _expect_step, n_public=2, n_hidden=3),
    Check("q4b", "elbow_after_step", ("w", "b", "x", "y", "lr"), _draw_step, _expect_elbow_after,
          n_public=1, n_hidden=3),
    Check("q4b", "case_answers", (), _draw_nothing, _expect_case_format, n_public=1, n_hidden=0,
          name="format", applies=_relu_only),
    *[_case_check(key) for key in _CASE_KEYS],
    Check("q4b", "plot_elbow_step", ("w", "b", "x", "y", "lr"), _draw_plot, _expect_plot,
          n_public=1, n_hidden=1),
    Check("q4c", "elbows", ("W1", "b"), _draw_elbows, _expect_elbows, n_public=1, n_hidden=3),
    Check("q4d", "sgd_step_network", ("W1", "b", "W2", "x", "y", "lr"), _draw_net, _expect_net_step,
          n_public=2, n_hidden=4),
    Check("q4d", "elbows_after_step", ("W1", "b", "W2", "x", "y", "lr"), _draw_net, _expect_elbows_after,
          n_public=1, n_hidden=3),
    Check("q4e", "elbows_after_step_leaky", ("W1", "b", "W2", "x", "y", "lr", "alpha"), _draw_net_leaky,
          _expect_elbows_leaky, n_public=1, n_hidden=3),
    # The answer is the student's own (numbers from the hidden seed): the public case checks its form only
    # and is worth nothing, so a copied answer still earns 0.
    Check("q4n", "elbow_after_example", ("w", "b", "x", "y", "lr"), _draw_example, _expect_example,
          n_public=1, n_hidden=1, variable=True, optional=True, public_expect=_expect_example_form, public_weight=0.0),
]
