"""The check runtime: plain-data encoding, safe calls and the judge.

This one file is shared by every grading path:

* it ships next to the student notebook (as ``dlmath_check.py``) so that the
  public otter tests of ``grader.check`` can run;
* the otter autograder's hidden tests import it the same way;
* the hardened grader runs its *encoding* half inside the untrusted process and
  its *judging* half in the trusted process.

It therefore depends on nothing but the standard library and NumPy, contains no
reference solution, and never needs a secret: an expectation (the reference's
answer, tolerances and the known wrong answers to recognise) arrives as plain
data.  Everything that crosses a process boundary is JSON.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

MAX_ELEMENTS = 200_000  # larger outputs are refused rather than shipped
MAX_ITEMS = 64  # items kept from a list, tuple or dict
MAX_LINE_POINTS = 4_000  # points kept per plotted line
MAX_DEPTH = 4


# --------------------------------------------------------------------------
# Arguments: plain data -> Python values
# --------------------------------------------------------------------------

def encode_array(a: Any) -> dict:
    """``{"shape": [...], "data": [...]}`` for a float array (exact floats)."""
    a = np.asarray(a, dtype=float)
    return {"shape": list(a.shape), "data": a.reshape(-1).tolist()}


def decode_array(d: dict) -> np.ndarray:
    return np.array(d["data"], dtype=float).reshape(d["shape"])


def make_function(spec: dict) -> Callable[[np.ndarray], Any]:
    """Test functions handed to ``numerical_derivative``.

    ``sin_map``: ``x ↦ B sin(k x) + c``, a column ``(m, 1)``.
    ``quad_sin``: ``x ↦ ½ xᵀ A x + k Σ sin(x)``, a float, or a ``(1, 1)`` array
    when ``spec["matrix"]`` is true.  Both accept any array with n entries.
    """
    kind = spec["kind"]
    if kind == "sin_map":
        B, c, k = decode_array(spec["B"]), decode_array(spec["c"]), spec["k"]

        def f(x):
            return B @ np.sin(k * np.asarray(x, dtype=float).reshape(-1, 1)) + c

        return f
    if kind == "quad_sin":
        A, k, matrix = decode_array(spec["A"]), spec["k"], spec.get("matrix", False)

        def g(x):
            col = np.asarray(x, dtype=float).reshape(-1, 1)
            value = 0.5 * (col.T @ A @ col) + k * np.sum(np.sin(col))
            return value if matrix else float(value.item())

        return g
    raise ValueError(f"unknown test function kind {kind!r}")


def decode_args(args: list) -> list:
    """Fresh Python values for one call: arrays, numbers, test functions."""
    out = []
    for a in args:
        if isinstance(a, dict) and "function" in a:
            out.append(make_function(a["function"]))
        elif isinstance(a, dict) and "data" in a:
            out.append(decode_array(a))
        else:
            out.append(a)
    return out


# --------------------------------------------------------------------------
# Outputs: whatever the student returned -> plain data
# --------------------------------------------------------------------------

def _encode_number(v: Any) -> dict:
    f = float(v)
    return {"t": "num", "v": f if math.isfinite(f) else repr(f)}


def _encode_ndarray(a: np.ndarray) -> dict:
    if a.size > MAX_ELEMENTS:
        return {"t": "toolarge", "shape": list(a.shape)}
    a = np.array(a, dtype=float)  # a plain copy: subclasses lose their methods here
    return {"t": "array", "shape": list(a.shape), "data": [_json_float(x) for x in a.reshape(-1).tolist()]}


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)


def _unjson_float(x: float | str) -> float:
    return float(x)


def _is_figure(v: Any) -> bool:
    module = type(v).__module__ or ""
    return module.startswith("matplotlib") and hasattr(v, "get_axes")


def encode_output(v: Any, depth: int = 0) -> dict:
    """A JSON-safe description of a returned value (never raises)."""
    try:
        return _encode_output(v, depth)
    except Exception as exc:  # a value whose conversion raises is reported, not fatal
        return {"t": "object", "type": type(v).__name__, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _encode_output(v: Any, depth: int) -> dict:
    if v is None:
        return {"t": "none"}
    if isinstance(v, (bool, np.bool_)):
        return {"t": "bool", "v": bool(v)}
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _encode_number(v)
    if isinstance(v, str):
        return {"t": "str", "v": v[:200]}
    if isinstance(v, np.ndarray):
        if v.dtype == bool and v.ndim == 0:
            return {"t": "bool", "v": bool(v)}
        return _encode_ndarray(v)
    if _is_figure(v) or (_is_figure(getattr(v, "figure", None)) and hasattr(v, "plot")):
        return _encode_figure(v if _is_figure(v) else v.figure)
    if depth >= MAX_DEPTH:
        return {"t": "object", "type": type(v).__name__}
    if isinstance(v, (list, tuple)):
        out = {"t": "tuple" if isinstance(v, tuple) else "list", "len": len(v),
               "items": [encode_output(x, depth + 1) for x in list(v)[:MAX_ITEMS]]}
        try:
            a = np.asarray(v, dtype=float)
            out["array"] = _encode_ndarray(a)
        except Exception:
            pass
        return out
    if isinstance(v, dict):
        return {"t": "dict", "items": {str(k)[:50]: encode_output(x, depth + 1)
                                       for k, x in list(v.items())[:MAX_ITEMS]}}
    if hasattr(v, "__array__"):
        return _encode_ndarray(np.asarray(v))
    return {"t": "object", "type": type(v).__name__[:80]}


def _xy_points(xs: Any, ys: Any) -> list[list[float]]:
    xs = np.asarray(xs, dtype=float).reshape(-1)
    ys = np.asarray(ys, dtype=float).reshape(-1)
    n = min(len(xs), len(ys))
    idx = np.arange(n)
    if n > MAX_LINE_POINTS:
        idx = np.unique(np.linspace(0, n - 1, MAX_LINE_POINTS).astype(int))
    return [[_json_float(float(xs[i])), _json_float(float(ys[i]))] for i in idx]


def _encode_figure(fig: Any) -> dict:
    """Lines, markers, texts and legend entries of every Axes, in data coordinates."""
    axes = []
    for ax in list(fig.get_axes())[:8]:
        lines = [{"xy": _xy_points(ln.get_xdata(), ln.get_ydata()), "label": str(ln.get_label())[:80]}
                 for ln in ax.get_lines()[:MAX_ITEMS]]
        points = []
        for coll in ax.collections[:MAX_ITEMS]:
            offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
            points += _xy_points(offsets[:, 0], offsets[:, 1])[:MAX_ITEMS]
        texts = []
        for t in ax.texts[:MAX_ITEMS]:
            x, y = t.xy if hasattr(t, "xy") else t.get_position()
            texts.append({"x": _json_float(float(x)), "y": _json_float(float(y)), "s": t.get_text()[:80]})
        legend = ax.get_legend()
        labels = [t.get_text()[:80] for t in legend.get_texts()] if legend is not None else []
        axes.append({"lines": lines, "points": points, "texts": texts, "legend": labels})
    fig_legends = [t.get_text()[:80] for lg in getattr(fig, "legends", []) for t in lg.get_texts()]
    return {"t": "figure", "axes": axes, "legend": fig_legends}


# --------------------------------------------------------------------------
# Calling student code
# --------------------------------------------------------------------------

class CallTimeout(BaseException):
    """Raised inside student code when a call runs past its time limit."""


@contextmanager
def time_limit(seconds: float | None):
    """SIGALRM-based limit (main thread only); ``None`` means no limit."""
    if not seconds:
        yield
        return

    def _raise(signum, frame):
        raise CallTimeout()

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def call_student(func: Any, args: list, timeout: float | None = None) -> dict:
    """Call ``func`` on freshly decoded ``args`` and encode what happens."""
    if func is None:
        return {"t": "missing"}
    if not callable(func):
        return {"t": "notcallable", "type": type(func).__name__}
    try:
        with time_limit(timeout):
            value = func(*decode_args(args))
            return encode_output(value)
    except CallTimeout:
        return {"t": "timeout"}
    except Exception as exc:
        return {"t": "error", "type": type(exc).__name__, "message": str(exc)[:300]}


def read_variable(value: Any) -> dict:
    """A numeric answer stored in a variable (``None``: the variable is missing)."""
    return {"t": "missing"} if value is None else encode_output(value)


def run_case(func: Any, case: dict | str, timeout: float | None = None) -> tuple[bool, str]:
    """Run one check case in this process (the otter path): call, encode, judge."""
    if isinstance(case, str):
        case = json.loads(case)
    if case.get("variable"):
        outputs = [read_variable(func)]
    else:
        outputs = [call_student(func, args, timeout) for args in case["calls"]]
    return judge_case(case, outputs)


# --------------------------------------------------------------------------
# Judging: plain-data outputs against a plain-data expectation
# --------------------------------------------------------------------------

def judge_case(case: dict, outputs: list[dict]) -> tuple[bool, str]:
    """``(passed, feedback)`` for one case; the feedback never shows expected values."""
    for out in outputs:
        problem = _call_problem(out, case["func"])
        if problem:
            return False, f"{case['label']}: {problem}"
    expect = case["expect"]
    if expect["kind"] == "offsets":
        ok, msg = _judge_offsets(outputs, expect)
    else:
        ok, msg = judge_value(outputs[0], expect)
    return ok, f"{case['label']}: {msg}"


def _call_problem(out: dict, func: str) -> str | None:
    t = out["t"]
    if t == "missing":
        return f"no function named `{func}` was found; keep its cell, its name, and run it."
    if t == "notcallable":
        return f"`{func}` is a {out['type']}, not a function."
    if t == "timeout":
        return f"`{func}` ran past its time limit (an endless loop, or far too much work)."
    if t == "error":
        return f"`{func}` raised {out['type']}: {out['message']}"
    if t == "toolarge":
        return f"`{func}` returned an array of shape {tuple(out['shape'])}, far larger than asked."
    return None


def describe(out: dict) -> str:
    t = out["t"]
    return {
        "none": "None (is there a `return` statement?)",
        "bool": "a bool",
        "num": "a number",
        "str": "a string",
        "array": f"an array of shape {tuple(out.get('shape', ()))}",
        "list": f"a list of length {out.get('len')}",
        "tuple": f"a tuple of length {out.get('len')}",
        "dict": "a dict",
        "figure": "a Figure",
    }.get(t, f"an object of type {out.get('type', t)}")


def judge_value(out: dict, expect: dict) -> tuple[bool, str]:
    return _JUDGES[expect["kind"]](out, expect)


def _as_array(out: dict) -> np.ndarray | None:
    t = out["t"]
    if t == "array":
        src = out
    elif t in ("list", "tuple") and "array" in out and out["array"]["t"] == "array":
        src = out["array"]
    elif t == "num":
        return np.array(_unjson_float(out["v"]))
    else:
        return None
    return np.array([_unjson_float(x) for x in src["data"]], dtype=float).reshape(src["shape"])


def close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """Elementwise ``|got − want| ≤ atol·scale + rtol·|want|``; nan matches nan only.

    ``scale`` is the largest finite magnitude in ``want`` (at least 1), so that the
    tolerance follows the size of the answer.
    """
    if got.shape != want.shape:
        return False
    finite = np.isfinite(want)
    if not np.array_equal(np.isnan(got), np.isnan(want)) or not np.array_equal(
        np.isinf(got), np.isinf(want)
    ):
        return False
    if np.any(np.isinf(want)) and not np.array_equal(got[np.isinf(want)], want[np.isinf(want)]):
        return False
    scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
    diff = np.abs(got[finite] - want[finite])
    return bool(np.all(diff <= atol * scale + rtol * np.abs(want[finite])))


def _shape_message(got: tuple, want: tuple, got_arr: np.ndarray, want_arr: np.ndarray,
                   expect: dict) -> str:
    msg = f"expected shape {want}, got {got}"
    if len(want) == 2 and got == want[::-1] and want[0] != want[1]:
        msg += ", the transpose"
        if close(got_arr.T, want_arr, expect["rtol"], expect["atol"]):
            msg += "; the entries are right, only the orientation is wrong"
        hint = expect.get("layout_hint")
        if hint:
            msg += f". {hint.rstrip('.')}"
    elif len(got) == 1 and got_arr.size == want_arr.size:
        msg += ": a 1-D array has lost its orientation; keep vectors 2-D (columns (n, 1), rows (1, n))"
    return msg + "."


def _judge_array(out: dict, expect: dict) -> tuple[bool, str]:
    want = decode_array(expect["value"])
    got = _as_array(out)
    if got is None or got.ndim == 0 and want.ndim != 0:
        return False, f"expected an array of shape {want.shape}, got {describe(out)}."
    if got.shape != want.shape:
        return False, _shape_message(got.shape, want.shape, got, want, expect)
    if close(got, want, expect["rtol"], expect["atol"]):
        return True, "passed."
    for alt in expect.get("alternatives", []):
        if _matches_alternative(got, alt, expect):
            return False, alt["message"]
    return False, f"the shape {want.shape} is right but the values are not. {expect.get('hint', '')}".strip()


def _matches_alternative(got: np.ndarray, alt: dict, expect: dict) -> bool:
    if "value" in alt:
        return close(got, decode_array(alt["value"]), expect["rtol"], expect["atol"])
    if "solves" in alt:  # got is a solution of M w = r, though not the asked one
        M, r = decode_array(alt["solves"]["M"]), decode_array(alt["solves"]["r"])
        return got.shape == (M.shape[1], r.shape[1]) and close(M @ got, r, 1e-6, 1e-8)
    return False


def _judge_scalar(out: dict, expect: dict) -> tuple[bool, str]:
    got = _as_array(out)
    if got is None or got.size != 1:
        return False, f"expected a number (a Python float), got {describe(out)}."
    want = np.array(float(expect["value"]))
    if close(got.reshape(()), want, expect["rtol"], expect["atol"]):
        return True, "passed."
    for alt in expect.get("alternatives", []):
        if _matches_alternative(got.reshape(()), alt, expect):
            return False, alt["message"]
    if math.isnan(float(want)):
        return False, "this input has no finite answer; return float('nan') for it."
    return False, f"the value is wrong. {expect.get('hint', '')}".strip()


def _judge_bool(out: dict, expect: dict) -> tuple[bool, str]:
    if out["t"] != "bool":
        return False, f"expected True or False, got {describe(out)}."
    if out["v"] == expect["value"]:
        return True, "passed."
    return False, f"not the right answer for this matrix. {expect.get('hint', '')}".strip()


def _judge_tuple(out: dict, expect: dict) -> tuple[bool, str]:
    items, names = expect["items"], expect["names"]
    if out["t"] not in ("tuple", "list") or out["len"] != len(items):
        return False, f"expected a tuple ({', '.join(names)}), got {describe(out)}."
    for name, sub_out, sub_expect in zip(names, out["items"], items):
        ok, msg = judge_value(sub_out, sub_expect)
        if not ok:
            return False, f"{name}: {msg}"
    return True, "passed."


def _judge_numbers(out: dict, expect: dict) -> tuple[bool, str]:
    want = np.array([_unjson_float(x) for x in expect["value"]], dtype=float)
    got = _as_array(out)
    if got is None:
        return False, f"expected {want.size} numbers, got {describe(out)}."
    if got.size != want.size:
        return False, f"expected {want.size} numbers (one per unit), got {got.size}."
    got = got.reshape(-1)
    if close(got, want, expect["rtol"], expect["atol"]):
        return True, "passed."
    for alt in expect.get("alternatives", []):
        if close(got, np.array([_unjson_float(x) for x in alt["value"]]), expect["rtol"], expect["atol"]):
            return False, alt["message"]
    wrong = np.flatnonzero(~_elementwise_close(got, want, expect["rtol"], expect["atol"]))
    return False, (f"{len(wrong)} of {want.size} values are wrong (units {', '.join(map(str, wrong[:5]))}). "
                   f"{expect.get('hint', '')}").strip()


def _elementwise_close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    return np.array([close(np.array(g), np.array(w), rtol, atol) for g, w in zip(got, want)])


def _judge_inverse(out: dict, expect: dict) -> tuple[bool, str]:
    X = decode_array(expect["X"])
    m, n = X.shape
    got = _as_array(out)
    want_shape = (n, m)
    if got is None or got.shape != want_shape:
        if got is not None and got.shape == want_shape[::-1]:
            return False, f"expected shape {want_shape}, got {got.shape}, the transpose."
        return False, f"expected an array of shape {want_shape}, got {describe(out)}."
    left = expect["side"] == "left"
    product = got @ X if left else X @ got
    size = n if left else m
    if close(product, np.eye(size), 0.0, 1e-6):
        return True, "passed."
    for alt in expect.get("alternatives", []):
        if _matches_alternative(got, alt, expect):
            return False, alt["message"]
    what = "A X" if left else "X B"
    return False, f"{what} is not the identity I_{size}. {expect.get('hint', '')}".strip()


def _judge_offsets(outputs: list[dict], expect: dict) -> tuple[bool, str]:
    """Values known up to an additive constant: compare differences to the first."""
    got = []
    for out in outputs:
        a = _as_array(out)
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


def _judge_choice(out: dict, expect: dict) -> tuple[bool, str]:
    """One key of ``case_answers()``: a pair (slope, elbow) of allowed words."""
    key = expect["key"]
    if out["t"] != "dict":
        return False, f"expected a dict with keys 'i', 'ii', 'iii', 'iv', got {describe(out)}."
    if key not in out["items"]:
        return False, f"the dict has no key {key!r}."
    pair = out["items"][key]
    if pair["t"] not in ("tuple", "list") or pair["len"] != 2:
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


def _judge_figure(out: dict, expect: dict) -> tuple[bool, str]:
    if out["t"] != "figure":
        return False, f"expected a matplotlib Figure, got {describe(out)}."
    axes = out["axes"]
    lines = [np.array([[_unjson_float(v) for v in p] for p in ln["xy"]]).reshape(-1, 2)
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
        marks += [(_unjson_float(x), _unjson_float(y)) for x, y in ax["points"]]
        marks += [(_unjson_float(t["x"]), _unjson_float(t["y"])) for t in ax["texts"]]
    for ln in lines:
        xs = np.unique(ln[:, 0])
        if len(ln) <= 2:
            marks += [(float(x), float(y)) for x, y in ln]
        elif len(xs) == 1:  # a vertical line: its y values say nothing
            marks.append((float(xs[0]), None))
    return marks


_JUDGES: dict[str, Callable[[dict, dict], tuple[bool, str]]] = {
    "array": _judge_array,
    "scalar": _judge_scalar,
    "bool": _judge_bool,
    "tuple": _judge_tuple,
    "numbers": _judge_numbers,
    "inverse": _judge_inverse,
    "choice": _judge_choice,
    "figure": _judge_figure,
}
