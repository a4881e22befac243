"""hw0's own judges and test functions, bundled with the generic runtime into the support
file that ships with the notebook (``dlmath_check.py``) and into the grader.

Only the standard library, NumPy and the runtime's public names may be used here: this
file runs in the student's kernel too.
"""

from __future__ import annotations

import numpy as np

from autograder.runtime import as_array, close, decode_array, describe, judge, test_function, unjson_float


@test_function("sin_map")
def _sin_map(spec: dict):
    """``x ↦ B sin(k x) + c``, a column ``(m, 1)``; accepts any array with n entries."""
    B, c, k = decode_array(spec["B"]), decode_array(spec["c"]), spec["k"]

    def f(x):
        return B @ np.sin(k * np.asarray(x, dtype=float).reshape(-1, 1)) + c

    return f


@test_function("quad_sin")
def _quad_sin(spec: dict):
    """``x ↦ ½ xᵀ A x + k Σ sin(x)``, a float, or a ``(1, 1)`` array when ``spec["matrix"]`` is true."""
    A, k, matrix = decode_array(spec["A"]), spec["k"], spec.get("matrix", False)

    def g(x):
        col = np.asarray(x, dtype=float).reshape(-1, 1)
        value = 0.5 * (col.T @ A @ col) + k * np.sum(np.sin(col))
        return value if matrix else float(value.item())

    return g


@judge("offsets", every_call=True)
def _judge_offsets(outputs: list[dict], expect: dict) -> tuple[bool, str]:
    """Values known up to an additive constant: compare differences to the first."""
    got = []
    for out in outputs:
        a = as_array(out)
        if a is None or a.size != 1:
            return False, f"expected a number (a Python float), got {describe(out)}."
        got.append(float(a.reshape(())))
    got_d = np.array(got[1:]) - got[0]
    want = np.array(expect["value"], dtype=float)
    want_d = want[1:] - want[0]
    if close(got_d, want_d, expect["rtol"], expect["atol"]):
        return True, "passed."
    for alt in expect.get("alternatives", []):
        a = np.array(alt["value"], dtype=float)
        if close(got_d, a[1:] - a[0], expect["rtol"], expect["atol"]):
            return False, alt["message"]
    return False, ("the differences between values at different w are wrong, so this is not "
                   f"the negative log-posterior up to a constant. {expect.get('hint', '')}").strip()


@judge("choice")
def _judge_choice(out: dict, expect: dict) -> tuple[bool, str]:
    """One key of ``case_answers()``: a pair (slope, elbow) of allowed words."""
    key = expect["key"]
    if out["t"] != "dict":
        return False, f"expected a dict with keys 'i', 'ii', 'iii', 'iv', got {describe(out)}."
    if key not in out["items"]:
        return False, f"the dict has no key {key!r}."
    pair = out["items"][key]
    if pair["t"] not in ("tuple", "list") or pair["len"] != 2 or len(pair["items"]) != 2:
        return False, f"case {key}: expected a pair (slope, elbow), got {describe(pair)}."
    words = [p.get("v") if p["t"] == "str" else None for p in pair["items"]]
    allowed = (expect["slopes"], expect["elbows"])
    for word, choices, what in zip(words, allowed, ("slope", "elbow")):
        if word not in choices:
            return False, f"case {key}: the {what} must be one of {', '.join(map(repr, choices))}."
    if "value" not in expect:  # a format-only (public) check
        return True, "passed (format only; the answers themselves are checked after the deadline)."
    if words[0] != expect["value"][0]:
        return False, f"case {key}: the slope answer is wrong. Write down w' = w − lr·∂ℓ/∂w with the signs of this case."
    if words[1] != expect["value"][1]:
        return False, (f"case {key}: the elbow answer is wrong. Write the new elbow −b'/w' after the step, "
                       "compare it with −b/w, and use only the signs this case fixes (of w, x and w·x + b).")
    return True, "passed."


@judge("figure")
def _judge_figure(out: dict, expect: dict) -> tuple[bool, str]:
    if out["t"] != "figure":
        return False, f"expected a matplotlib Figure, got {describe(out)}."
    axes = out["axes"]
    lines = [np.array([[unjson_float(v) for v in p] for p in ln["xy"]]).reshape(-1, 2)
             for ax in axes for ln in ax["lines"]]
    curves = [ln for ln in lines if len(np.unique(ln[:, 0])) >= 3]
    slope = expect.get("negative_slope", 0.0)
    for name, (w, b) in (("before", expect["before"]), ("after", expect["after"])):
        if not any(_is_relu_curve(c, w, b, slope) for c in curves):
            return False, (f"no plotted curve matches φ {name} the step; plot relu(w·t + b) "
                           "against t on a grid of points.")
    marks = _marked_points(axes, lines)
    for name, e in (("old", expect["elbows"][0]), ("new", expect["elbows"][1])):
        if not any(abs(mx - e) <= 1e-6 * (1 + abs(e)) for mx, _ in marks):
            return False, f"the {name} elbow is not marked at its x position (a marker, a vertical line or an annotation)."
    x0, y0 = expect["point"]
    if not any(abs(mx - x0) <= 1e-6 * (1 + abs(x0)) and abs(my - y0) <= 1e-6 * (1 + abs(y0))
               for mx, my in marks if my is not None):
        return False, "the data point (x, y) is not marked."
    has_labels = any(ax["legend"] or ax["texts"] for ax in axes) or out["legend"]
    if not has_labels:
        return False, "label the curves and markers with a legend or text."
    return True, "passed."


def _is_relu_curve(c: np.ndarray, w: float, b: float, negative_slope: float = 0.0) -> bool:
    c = c[np.all(np.isfinite(c), axis=1)]
    if len(c) < 3:
        return False
    z = w * c[:, 0] + b
    want = np.where(z > 0, z, negative_slope * z)
    scale = 1.0 + np.max(np.abs(want))
    return bool(np.all(np.abs(c[:, 1] - want) <= 1e-6 * scale))


def _marked_points(axes: list, lines: list) -> list[tuple[float, float | None]]:
    """Positions that mark something: scatter points, short lines, vertical lines, texts."""
    marks: list[tuple[float, float | None]] = []
    for ax in axes:
        marks += [(unjson_float(x), unjson_float(y)) for x, y in ax["points"]]
        marks += [(unjson_float(t["x"]), unjson_float(t["y"])) for t in ax["texts"]]
    for ln in lines:
        xs = np.unique(ln[:, 0])
        if len(ln) <= 2:
            marks += [(float(x), float(y)) for x, y in ln]
        elif len(xs) == 1:  # a vertical line: its y values say nothing
            marks.append((float(xs[0]), None))
    return marks
