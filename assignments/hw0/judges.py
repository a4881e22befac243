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
    """Both curves, both elbows marked at their x, the data point marked, and some labels.

    Every Axes of the figure counts (a twin, a second panel).  A mark is whatever shows a
    position: a marker (``plot(..., "o")``, ``scatter``, a stem's heads), an annotation's
    point or a text's position, a vertical line (``axvline``, ``vlines``, a stem) for an x.
    """
    if out["t"] != "figure":
        return False, f"expected a matplotlib Figure, got {describe(out)}."
    axes = out["axes"]
    lines = [(_points(ln["xy"]), ln) for ax in axes for ln in ax["lines"]]
    curves = [xy for xy, ln in lines if (ln["joined"] or ln["marker"]) and len(np.unique(xy[:, 0])) >= 3]
    slope = expect.get("negative_slope", 0.0)
    for name, (w, b) in (("before", expect["before"]), ("after", expect["after"])):
        if not any(_is_relu_curve(c, w, b, slope) for c in curves):
            return False, (f"no plotted curve matches φ {name} the step; plot relu(w·t + b) "
                           "against t on a grid of points.")
    marks = _marked_points(axes, lines)
    for name, e in (("old", expect["elbows"][0]), ("new", expect["elbows"][1])):
        if not any(_near(mx, e) for mx, _ in marks):
            return False, f"the {name} elbow is not marked at its x position (a marker, a vertical line or an annotation)."
    x0, y0 = expect["point"]
    if not any(_near(mx, x0) and _near(my, y0) for mx, my in marks):
        return False, "the data point (x, y) is not marked."
    labels = [s for ax in axes for s in ax["legend"] + [t["s"] for t in ax["texts"]]] + out["legend"]
    if not any(s.strip() for s in labels):
        return False, "label the curves and markers with a legend or text."
    return True, "passed."


def _near(got: float, want: float) -> bool:
    return abs(got - want) <= 1e-6 * (1 + abs(want))  # False for nan


def _points(xy: list) -> np.ndarray:
    return np.array([[unjson_float(v) for v in p] for p in xy], dtype=float).reshape(-1, 2)


def _is_relu_curve(c: np.ndarray, w: float, b: float, negative_slope: float = 0.0) -> bool:
    c = c[np.all(np.isfinite(c), axis=1)]
    if len(c) < 3:
        return False
    z = w * c[:, 0] + b
    want = np.where(z > 0, z, negative_slope * z)
    scale = 1.0 + np.max(np.abs(want))
    return bool(np.all(np.abs(c[:, 1] - want) <= 1e-6 * scale))


def _vertical(xy: np.ndarray) -> bool:
    """A drawn vertical line: one finite x, and a y extent (a y in axes units, 'nan', spans the Axes)."""
    if len(xy) < 2 or not np.all(np.isfinite(xy[:, 0])) or np.ptp(xy[:, 0]) > 1e-12 * (1 + abs(xy[0, 0])):
        return False
    ys = xy[:, 1]
    return bool(np.any(np.isnan(ys)) or len(np.unique(ys)) > 1)


def _marked_points(axes: list, lines: list) -> list[tuple[float, float]]:
    """Positions (x, y) that a figure marks; y is nan where only an x is marked.

    Markers, scatter points, annotated points and text positions mark (x, y); a vertical
    line or segment marks its x and its two ends.  A line without markers that is not
    vertical (a curve, an ``axhline``, ``hlines``) marks nothing.
    """
    marks: list[tuple[float, float]] = []
    strokes = [xy for xy, ln in lines if ln["joined"]]
    for ax in axes:
        marks += [(unjson_float(x), unjson_float(y)) for x, y in ax["points"]]
        marks += [(unjson_float(t["x"]), unjson_float(t["y"])) for t in ax["texts"]]
        strokes += [_points(seg) for seg in ax["segments"]]
    for xy in strokes:
        if _vertical(xy):
            marks += [(float(xy[0, 0]), float("nan")), (float(xy[0, 0]), float(xy[0, 1])),
                      (float(xy[-1, 0]), float(xy[-1, 1]))]
    for xy, ln in lines:
        if ln["marker"]:
            marks += [(float(x), float(y)) for x, y in xy]
    return marks
