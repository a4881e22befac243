"""The check runtime: plain-data encoding, safe calls and the judge.

This one file is shared by every grading path:

* it ships next to the student notebook (as ``dlmath_check.py``) so that the
  public otter tests of ``grader.check`` can run;
* the otter autograder's hidden tests import it the same way;
* the hardened grader runs its *encoding* half inside the untrusted process and
  its *judging* half in the trusted process.

It therefore depends on nothing but the standard library and NumPy (matplotlib is
imported only to encode a Figure, which cannot exist without it), contains no
reference solution, and never needs a secret: an expectation (the reference's
answer, tolerances and the known wrong answers to recognise) arrives as plain
data.  Everything that crosses a process boundary is JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

MAX_ELEMENTS = 200_000  # larger outputs are refused rather than shipped
MAX_ITEMS = 64  # items kept from a list, tuple or dict
MAX_LINE_POINTS = 4_000  # points kept per plotted line
MAX_DEPTH = 4  # containers nest at most this deep; deeper ones become "object" records
MAX_NDIM = 8  # arrays with more dimensions are described, not shipped
MAX_AXES = 8  # Axes kept from a figure
MAX_POINTS = 64 * 64  # marker positions (scatter points) kept per Axes
MAX_SEGMENTS = 512  # segments of line collections (vlines, hlines, stems) kept per Axes
MAX_SEGMENT_POINTS = 16  # points kept per segment
MAX_TOTAL = 1_000_000  # cost units of one whole output (see _own_cost); beyond, an "object" record
MAX_STR, MAX_LABEL, MAX_KEY, MAX_TYPE, MAX_ERROR, MAX_MESSAGE = 200, 80, 50, 80, 200, 300  # text caps
DEFAULT_CALL_SECONDS = 10.0  # per call in run_case (grader.check), as in the batch grader


# --------------------------------------------------------------------------
# Arguments: plain data -> Python values
# --------------------------------------------------------------------------

def encode_array(a: Any) -> dict:
    """``{"shape": [...], "data": [...]}`` for a float array (exact floats)."""
    a = np.asarray(a, dtype=float)
    return {"shape": list(a.shape), "data": a.reshape(-1).tolist()}


def encode_int_array(a: Any) -> dict:
    """An integer array (class labels, indices): decoded as int64, not float."""
    a = np.asarray(a, dtype=np.int64)
    return {"shape": list(a.shape), "data": a.reshape(-1).tolist(), "dtype": "int"}


def decode_array(d: dict) -> np.ndarray:
    return np.array(d["data"], dtype=np.int64 if d.get("dtype") == "int" else float).reshape(d["shape"])


_TEST_FUNCTIONS: dict[str, Callable[[dict], Callable[..., Any]]] = {}


def test_function(kind: str) -> Callable:
    """Register a factory of test functions (arguments that are themselves functions).

    An assignment's ``judges.py`` uses it; the factory takes the plain-data spec and
    returns the function handed to the student's code.
    """
    def register(factory: Callable[[dict], Callable[..., Any]]) -> Callable[[dict], Callable[..., Any]]:
        _TEST_FUNCTIONS[kind] = factory
        return factory
    return register


def make_function(spec: dict) -> Callable[..., Any]:
    factory = _TEST_FUNCTIONS.get(spec["kind"])
    if factory is None:
        raise ValueError(f"unknown test function kind {spec['kind']!r}")
    return factory(spec)


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
#
# Everything returned is attacker-chosen, including its class: a list, tuple,
# dict, str, number or ndarray subclass may lie in __len__, __iter__,
# __getitem__, __float__, shape or view.  So contents are read through the
# base type's own C methods (tuple.__getitem__(v, slice), float.__float__(v),
# np.ndarray.view(v, np.ndarray), ...), and a value whose reading raises is
# reported as an "object" record.  The records made here always pass
# validate_output below, and one output is at most MAX_TOTAL cost units.
# --------------------------------------------------------------------------

class _TooLarge(Exception):
    """The encoded output outgrew MAX_TOTAL."""


class _Budget:
    """Cost units left for one output; see ``_own_cost``."""

    def __init__(self) -> None:
        self.left = MAX_TOTAL

    def charge(self, record: dict) -> dict:
        self.left -= _own_cost(record)
        if self.left < 0:
            raise _TooLarge
        return record


def _own_cost(rec: dict) -> int:
    """Cost of one record against MAX_TOTAL, its child records excluded: one per record,
    number, shape entry and text, twice per plotted point, plus one per 16 characters.

    Shared by the encoder (which stops at MAX_TOTAL) and the validator (which rejects
    beyond it), so whatever the encoder makes the validator accepts.  Only lengths
    are read: the validator calls it before walking a record's numbers.
    """
    t = rec["t"]
    texts = [v for v in rec.values() if type(v) is str]
    cost = 1
    if t == "array":
        cost += len(rec["shape"]) + len(rec["data"])
    elif t == "toolarge":
        cost += len(rec["shape"])
    elif t == "dict":
        texts += list(rec["items"])
    elif t == "figure":
        texts += rec["legend"]
        for ax in rec["axes"]:
            cost += 2 * len(ax["points"]) + 2 * len(ax["texts"]) + sum(2 * len(ln["xy"]) for ln in ax["lines"])
            cost += sum(1 + 2 * len(seg) for seg in ax["segments"])
            texts += [ln["label"] for ln in ax["lines"]] + [tx["s"] for tx in ax["texts"]] + ax["legend"]
    return cost + sum(1 + len(s) // 16 for s in texts)


def _text(v: Any, cap: int) -> str:
    """An exact ``str`` of at most ``cap`` characters (a str subclass may lie in ``__getitem__``)."""
    s = v if isinstance(v, str) else str(v)
    return str.__getitem__(str.__str__(s), slice(0, cap))


def _safe_text(v: Any, cap: int) -> str:
    try:
        return _text(v, cap)
    except Exception:  # a __str__ that raises
        return "?"


def _type_name(v: Any) -> str:
    try:
        return _text(type(v).__name__, MAX_TYPE)
    except Exception:  # a metaclass with a lying __name__
        return "?"


def _object_record(v: Any, exc: BaseException | None = None) -> dict:
    out = {"t": "object", "type": _type_name(v)}
    if exc is not None:
        out["error"] = _safe_text(f"{_type_name(exc)}: {_safe_text(exc, MAX_ERROR)}", MAX_ERROR)
    return out


def _float(v: Any) -> float:
    """A number's own value, whatever its class's ``__float__`` says."""
    if isinstance(v, float):  # float subclasses, np.float64 included
        return float.__float__(v)
    if isinstance(v, int):
        return int.__float__(v)
    return float(np.generic.item(v))  # other NumPy scalars: item() of the base class gives a Python number


def _bool(v: Any) -> bool:
    return v if type(v) is bool else bool(np.generic.item(v))


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else repr(x)


def unjson_float(x: float | str) -> float:
    return float(x)


def _bulk(shape: list[int]) -> int:
    """Elements of a shape with its zero dimensions counted as one (NumPy bounds this too)."""
    return math.prod(max(d, 1) for d in shape)


def _encode_ndarray(a: np.ndarray) -> dict:
    base = np.ndarray.view(a, np.ndarray)  # the base class's view: a subclass's shape, size or view cannot lie
    shape = list(base.shape)
    if len(shape) > MAX_NDIM:
        return {"t": "object", "type": f"ndarray with {len(shape)} dimensions"}
    if _bulk(shape) > MAX_ELEMENTS:
        return {"t": "toolarge", "shape": shape}
    data = np.array(base, dtype=float).reshape(-1)  # a plain float copy: the subclass's methods are gone
    return {"t": "array", "shape": shape, "data": [_json_float(x) for x in data.tolist()]}


def _is_figure(v: Any) -> bool:
    module = type(v).__module__ or ""
    return module.startswith("matplotlib") and hasattr(v, "get_axes")


def _figure_of(v: Any) -> Any:
    """``v`` when it is a Figure, its Figure when it is an Axes, else None."""
    if _is_figure(v):
        return v
    fig = getattr(v, "figure", None)
    return fig if _is_figure(fig) and hasattr(v, "plot") else None


def encode_output(v: Any, depth: int = 0) -> dict:
    """A JSON-safe description of a returned value (never raises; always passes ``validate_output``)."""
    try:
        return _encode(v, depth, _Budget())
    except _TooLarge:
        return {"t": "object", "type": _type_name(v), "error": "too large to send back"}
    except Exception as exc:  # a value whose conversion raises is reported, not fatal
        return _object_record(v, exc)


def _encode(v: Any, depth: int, budget: _Budget) -> dict:
    return budget.charge(_encode_value(v, depth, budget))


def _encode_item(v: Any, depth: int, budget: _Budget) -> dict:
    """One item of a container: a failure makes this item an "object", the output too large stops all."""
    try:
        return _encode(v, depth, budget)
    except _TooLarge:
        raise
    except Exception as exc:
        return budget.charge(_object_record(v, exc))


def _encode_value(v: Any, depth: int, budget: _Budget) -> dict:
    if v is None:
        return {"t": "none"}
    if isinstance(v, (bool, np.bool_)):
        return {"t": "bool", "v": _bool(v)}
    if isinstance(v, (int, float, np.integer, np.floating)):
        return {"t": "num", "v": _json_float(_float(v))}
    if isinstance(v, str):
        return {"t": "str", "v": _text(v, MAX_STR)}
    if isinstance(v, np.ndarray):
        base = np.ndarray.view(v, np.ndarray)
        if base.dtype == bool and base.ndim == 0:
            return {"t": "bool", "v": bool(base.item())}
        return _encode_ndarray(base)
    fig = _figure_of(v)
    if fig is not None:
        return _encode_figure(fig)
    if depth >= MAX_DEPTH:
        return {"t": "object", "type": _type_name(v)}
    if isinstance(v, (list, tuple)):
        return _encode_sequence(v, depth, budget)
    if isinstance(v, dict):
        items = itertools.islice(dict.items(v), MAX_ITEMS)  # dict.items: the base method, not an override
        return {"t": "dict", "items": {_text(k, MAX_KEY): _encode_item(x, depth + 1, budget) for k, x in items}}
    if hasattr(v, "__array__"):
        return _encode_ndarray(np.asarray(v))
    return {"t": "object", "type": _type_name(v)}


def _encode_sequence(v: list | tuple, depth: int, budget: _Budget) -> dict:
    base = tuple if isinstance(v, tuple) else list
    snapshot = list(base.__getitem__(v, slice(0, None)))  # the real items, copied once: len and items agree
    out = {"t": base.__name__, "len": len(snapshot),
           "items": [_encode_item(x, depth + 1, budget) for x in snapshot[:MAX_ITEMS]]}
    array = _sequence_array(snapshot)
    if array is not None:
        out["array"] = budget.charge(array)
    return out


def _sequence_array(snapshot: list) -> dict | None:
    """The sequence read as one float array (a list of rows, a tuple of numbers), when it is one."""
    try:
        a = np.asarray(_plain(snapshot, MAX_NDIM, [MAX_ELEMENTS + 1]), dtype=float)
        out = _encode_ndarray(a)
    except Exception:
        return None
    ok = out["t"] in ("array", "toolarge") and out["shape"] and out["shape"][0] == len(snapshot)
    return out if ok else None


class _NotAnArray(Exception):
    pass


def _plain(v: Any, depth: int, left: list[int]) -> Any:
    """Lists of numbers and arrays rebuilt from their real contents, so that NumPy sees no
    lying subclass; at most ``left[0]`` numbers and ``depth`` levels, so that its work is bounded."""
    left[0] -= 1
    if left[0] < 0:
        raise _NotAnArray
    if isinstance(v, (list, tuple)):
        if depth == 0:
            raise _NotAnArray
        base = tuple if isinstance(v, tuple) else list
        return [_plain(x, depth - 1, left) for x in base.__getitem__(v, slice(0, None))]
    if isinstance(v, (bool, np.bool_)):
        return _bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _float(v)
    if isinstance(v, np.ndarray) or hasattr(v, "__array__"):
        a = np.ndarray.view(np.asarray(v), np.ndarray)
        left[0] -= a.size
        if left[0] < 0:
            raise _NotAnArray
        return a
    raise _NotAnArray


def _take(seq: Any, n: int) -> list:
    return list(itertools.islice(seq, n))


def _xy_points(xs: Any, ys: Any, cap: int = MAX_LINE_POINTS,
               data: tuple[bool, bool] = (True, True)) -> list[list[float | str]]:
    """At most ``cap`` points (evenly spread, both ends kept); a coordinate that is not in
    data units (``data``: x, y) is shipped as 'nan'."""
    xs = np.asarray(xs, dtype=float).reshape(-1)
    ys = np.asarray(ys, dtype=float).reshape(-1)
    n = min(len(xs), len(ys))
    idx = np.arange(n)
    if n > cap:
        idx = np.unique(np.linspace(0, n - 1, cap).astype(int))
    return [[_json_float(float(xs[i])) if data[0] else "nan", _json_float(float(ys[i])) if data[1] else "nan"]
            for i in idx]


def _mpl() -> Any:
    """matplotlib's base classes, imported only to encode a Figure (which only exists where matplotlib does)."""
    from types import SimpleNamespace

    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.collections import Collection, LineCollection
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.text import Annotation, Text

    return SimpleNamespace(Artist=Artist, Axes=Axes, Collection=Collection, LineCollection=LineCollection,
                           Figure=Figure, SubFigure=SubFigure, Legend=Legend, Line2D=Line2D,
                           Annotation=Annotation, Text=Text)


# A Figure is read through matplotlib's own (base-class) methods, artist by artist: an
# artist of the wrong type, an invisible one, or one whose reading raises is left out.
# Coordinates are shipped in data units; one that an artist gives in other units (axes
# fractions, points, ...) is 'nan', so that nothing is mistaken for a data position.

def _encode_figure(fig: Any) -> dict:
    """Lines, markers, segments, texts and legend entries of every Axes, in data coordinates."""
    mpl = _mpl()
    base = next((c for c in (mpl.Figure, mpl.SubFigure) if issubclass(type(fig), c)), None)
    if base is None:
        raise TypeError("not a matplotlib Figure")
    axes = []
    for ax in _kept(_take(base.axes.fget(fig), MAX_AXES), mpl):
        try:
            if issubclass(type(ax), mpl.Axes):
                axes.append(_encode_axes(ax, mpl))
        except Exception:  # an Axes that cannot be read is left out
            continue
    try:
        legends = [lg for lg in _kept(_take(fig.legends, MAX_ITEMS), mpl) if issubclass(type(lg), mpl.Legend)]
    except Exception:
        legends = []
    return {"t": "figure", "axes": axes, "legend": _legend_labels(legends, mpl)}


def _kept(artists: list, mpl: Any) -> list:
    """The visible ones of some artists (one whose visibility cannot be read is left out)."""
    kept = []
    for a in artists:
        try:
            if mpl.Artist.get_visible(a) is True:
                kept.append(a)
        except Exception:
            continue
    return kept


def _legend_labels(legends: list, mpl: Any) -> list[str]:
    labels: list[str] = []
    for lg in legends:
        try:
            texts = _take(mpl.Legend.get_texts(lg), MAX_ITEMS)
            labels += [_text(mpl.Text.get_text(t), MAX_LABEL) for t in texts if issubclass(type(t), mpl.Text)]
        except Exception:
            continue
    return labels[:MAX_ITEMS]


def _data_units(transform: Any, ax: Any, mpl: Any) -> tuple[bool, bool]:
    """Whether ``transform`` reads x and y in ``ax``'s data units (an axvline's is (True, False))."""
    if transform is ax.transData:
        return True, True
    if transform is mpl.Axes.get_xaxis_transform(ax):
        return True, False
    if transform is mpl.Axes.get_yaxis_transform(ax):
        return False, True
    return False, False


def _coords_units(coords: Any, ax: Any, mpl: Any) -> tuple[bool, bool]:
    """The same for an Annotation's ``xycoords``: "data", a transform, or a pair of them (x, y)."""
    if type(coords) is tuple and tuple.__len__(coords) == 2:
        return _coords_units(tuple.__getitem__(coords, 0), ax, mpl)[0], _coords_units(
            tuple.__getitem__(coords, 1), ax, mpl)[1]
    if type(coords) is str:
        return (coords == "data",) * 2  # type: ignore[return-value]
    return _data_units(coords, ax, mpl)


def _children(ax: Any, mpl: Any) -> dict[str, list]:
    """An Axes' visible lines, collections and texts, at most MAX_ITEMS of each, in drawing order.

    Read from the Axes' own list of children by exact type, not through its ``lines`` or
    ``collections`` views, which ask every child ``isinstance``: one child that raises there
    would hide all the others.
    """
    kinds = {"lines": mpl.Line2D, "collections": mpl.Collection, "texts": mpl.Text}
    found: dict[str, list] = {kind: [] for kind in kinds}
    children = ax._children
    if type(children) is not list:
        raise TypeError("an Axes without its list of children")
    for child in list.__getitem__(children, slice(0, MAX_ITEMS * MAX_ITEMS)):
        for kind, cls in kinds.items():
            if issubclass(type(child), cls) and len(found[kind]) < MAX_ITEMS and _kept([child], mpl):
                found[kind].append(child)
    return found


def _encode_axes(ax: Any, mpl: Any) -> dict:
    children = _children(ax, mpl)
    lines = []
    for ln in children["lines"]:
        try:
            lines.append(_line_record(ln, ax, mpl))
        except Exception:
            continue
    points: list = []
    segments: list = []
    for coll in children["collections"]:
        try:
            points += _offsets(coll, ax, mpl, MAX_POINTS - len(points))
        except Exception:
            pass
        try:
            if issubclass(type(coll), mpl.LineCollection):
                segments += _segments(coll, ax, mpl, MAX_SEGMENTS - len(segments))
        except Exception:
            pass
    texts = []
    for t in children["texts"]:
        try:
            texts += _text_record(t, ax, mpl)
        except Exception:
            continue
    legend = mpl.Axes.get_legend(ax)
    shown = legend is not None and issubclass(type(legend), mpl.Legend) and _kept([legend], mpl)
    return {"lines": lines, "points": points, "segments": segments, "texts": texts,
            "legend": _legend_labels([legend], mpl) if shown else []}


_NO_STYLE = ("none", "", " ")  # matplotlib's spellings of "no marker" and "no line"


def _line_record(ln: Any, ax: Any, mpl: Any) -> dict:
    """A Line2D: its points, its label, whether it draws markers and whether it joins its points."""
    data = _data_units(mpl.Artist.get_transform(ln), ax, mpl)
    marker = mpl.Line2D.get_marker(ln)
    has_marker = not (marker is None or isinstance(marker, str) and _text(marker, 8).lower() in _NO_STYLE)
    joined = _text(mpl.Line2D.get_linestyle(ln), 8).lower() not in _NO_STYLE
    return {"xy": _xy_points(mpl.Line2D.get_xdata(ln), mpl.Line2D.get_ydata(ln), MAX_LINE_POINTS, data)
            if any(data) else [],
            "label": _text(mpl.Artist.get_label(ln), MAX_LABEL),
            "marker": bool(has_marker and _float(mpl.Line2D.get_markersize(ln)) > 0),
            "joined": bool(joined and _float(mpl.Line2D.get_linewidth(ln)) > 0)}


def _offsets(coll: Any, ax: Any, mpl: Any, cap: int) -> list:
    """The marker positions of a collection (a scatter's points); none for one whose offsets
    are not in data units (a LineCollection's, which are zero)."""
    data = _data_units(mpl.Collection.get_offset_transform(coll), ax, mpl)
    if cap <= 0 or not any(data):
        return []
    offsets = np.asarray(mpl.Collection.get_offsets(coll), dtype=float).reshape(-1, 2)
    return _xy_points(offsets[:, 0], offsets[:, 1], cap, data)


def _segments(coll: Any, ax: Any, mpl: Any, cap: int) -> list:
    """The polylines of a LineCollection (``vlines``, ``hlines``, a stem's stems)."""
    data = _data_units(mpl.Artist.get_transform(coll), ax, mpl)
    if cap <= 0 or not any(data):
        return []
    out = []
    for seg in _take(mpl.LineCollection.get_segments(coll), cap):
        xy = np.asarray(seg, dtype=float).reshape(-1, 2)
        if len(xy):
            out.append(_xy_points(xy[:, 0], xy[:, 1], MAX_SEGMENT_POINTS, data))
    return out


def _text_record(t: Any, ax: Any, mpl: Any) -> list[dict]:
    """A text at its position; an Annotation at the point it annotates (``xy``).  A text that
    draws nothing (no characters, no arrow) is left out."""
    s = _text(mpl.Text.get_text(t), MAX_LABEL)
    if issubclass(type(t), mpl.Annotation):
        if not s.strip() and t.arrow_patch is None:
            return []
        xy, data = t.xy, _coords_units(t.xycoords, ax, mpl)
    else:
        if not s.strip():
            return []
        xy, data = mpl.Text.get_position(t), _data_units(mpl.Artist.get_transform(t), ax, mpl)
    x, y = np.asarray(xy, dtype=float).reshape(2).tolist()
    return [{"x": _json_float(x) if data[0] else "nan", "y": _json_float(y) if data[1] else "nan", "s": s}]


# --------------------------------------------------------------------------
# Calling student code
# --------------------------------------------------------------------------

class CallTimeout(BaseException):
    """Raised inside student code when a call runs past its time limit."""


def _can_alarm() -> bool:
    """SIGALRM limits need POSIX timers and the main thread (a kernel's worker thread has no signals)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``CallTimeout`` after ``seconds`` (SIGALRM).  ``None`` or 0, a thread other than the
    main one, or a platform without SIGALRM: no limit rather than an error.  An alarm already
    running (a cell's limit around a call's) keeps its own deadline and is re-armed on exit."""
    if not seconds or seconds <= 0 or not _can_alarm():
        yield
        return

    def _raise(signum, frame):
        raise CallTimeout()

    old = signal.signal(signal.SIGALRM, _raise)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    if 0 < outer < seconds:
        signal.setitimer(signal.ITIMER_REAL, outer)  # the outer deadline comes first
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3), interval)


def timeout_output(seconds: float | None, *, skipped: bool = False) -> dict:
    """The output of a call that ran past ``seconds``; ``skipped``: not made, because an
    earlier call of the same function already had."""
    out: dict = {"t": "timeout"}
    if seconds:
        out["seconds"] = float(seconds)
    if skipped:
        out["skipped"] = True
    return out


def call_student(func: Any, args: list, timeout: float | None = None) -> dict:
    """Call ``func`` on freshly decoded ``args`` and encode what happens.

    One call, one limit.  A caller making several calls of one function (``call_all``
    for one case; the untrusted runner across cases) should not call it again once it
    has timed out: report ``timeout_output(timeout, skipped=True)`` for the rest, so
    an endless loop costs the limit once, not once per call.
    """
    if func is None:
        return {"t": "missing"}
    if not callable(func):
        return {"t": "notcallable", "type": _type_name(func)}
    try:
        with time_limit(timeout):
            return _call_and_encode(func, args)
    except CallTimeout:
        return timeout_output(timeout)


def _call_and_encode(func: Any, args: list) -> dict:
    # inside the time limit: encoding and printing the error run student code (__float__, __str__)
    try:
        value = func(*decode_args(args))
    except Exception as exc:
        return {"t": "error", "type": _type_name(exc), "message": _safe_text(exc, MAX_MESSAGE)}
    return encode_output(value)


def call_all(func: Any, calls: list[list], timeout: float | None = DEFAULT_CALL_SECONDS) -> list[dict]:
    """``call_student`` on each argument list; after a timeout the remaining calls are not made."""
    outputs: list[dict] = []
    for args in calls:
        if outputs and outputs[-1]["t"] == "timeout":
            outputs.append(timeout_output(timeout, skipped=True))
        else:
            outputs.append(call_student(func, args, timeout))
    return outputs


_MAGIC = re.compile(r"^\s*[%!]")


def python_source(cell_source: str) -> str:
    """A notebook cell as plain Python: IPython-only lines (``%magic``, ``!shell``) and a cell
    magic's first line become ``pass``."""
    lines = cell_source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    return "\n".join("pass  # " + ln.strip() if _MAGIC.match(ln) else ln for ln in lines)


def read_variable(value: Any, timeout: float | None = None) -> dict:
    """A numeric answer stored in a variable (``None``: the variable is missing)."""
    if value is None:
        return {"t": "missing"}
    try:
        with time_limit(timeout):
            return encode_output(value)
    except CallTimeout:
        return timeout_output(timeout)


def run_case(func: Any, case: dict | str, timeout: float | None = DEFAULT_CALL_SECONDS) -> tuple[bool, str]:
    """Run one check case in this process (the otter path): call, encode, judge.

    Each call gets ``timeout`` seconds, so that ``grader.check`` on an endless loop
    reports it instead of hanging the student's kernel.
    """
    if isinstance(case, str):
        case = json.loads(case)
    before = _open_figures()
    try:
        if case.get("variable"):
            outputs = [read_variable(func, timeout)]
        else:
            outputs = call_all(func, case["calls"], timeout)
    finally:  # a figure the student's function drew is judged, not shown under grader.check
        _close_figures_since(before)
    return judge_case(case, outputs)


def _open_figures() -> set:
    """The numbers of pyplot's open figures, if the student's code imported pyplot (else none)."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    try:
        return set(plt.get_fignums()) if plt is not None else set()
    except Exception:  # noqa: BLE001  (pyplot as the student's kernel left it)
        return set()


def _close_figures_since(before: set) -> None:
    """Close the pyplot figures opened since ``before``: the notebook's inline backend would
    otherwise draw them under the ``grader.check`` cell.  Figures the student opened in
    their own cells stay open."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
    except Exception:  # noqa: BLE001
        pass


class CheckFailed(AssertionError):
    """A failed check under ``grader.check``; its message is the teaching message, and otter shows
    it alone (see :func:`check_case`)."""


def check_case(func: Any, case: dict | str, timeout: float | None = DEFAULT_CALL_SECONDS) -> None:
    """The body of a generated otter test: :func:`run_case`; a failure raises ``CheckFailed``.

    otter prints a failed exception-format test as ``Error at line 13 in test <question>:``, the
    test's source line (``assert passed, feedback``) and ``AssertionError: <message>``; for a
    ``CheckFailed`` it prints the message alone (:func:`_otter_prints_check_messages_alone`).
    """
    passed, feedback = run_case(func, case, timeout)
    if not passed:
        _otter_prints_check_messages_alone()
        raise CheckFailed(feedback)


def _otter_prints_check_messages_alone() -> None:
    """Have otter's exception-format tests report a ``CheckFailed`` by its message alone.

    Only an otter already loaded is changed (the process that is running its tests: nothing
    is imported here), only for ``CheckFailed`` (any other error keeps otter's own report),
    and an otter without this hook is left as it is: its report is then merely longer.
    """
    import sys

    cls = getattr(sys.modules.get("otter.test_files.exception_test"), "ExceptionTestFile", None)
    original = getattr(cls, "_generate_error_message", None)
    if original is None or getattr(original, "prints_check_messages_alone", False):
        return

    def _generate_error_message(self: Any, excp: BaseException, *args: Any, **kwargs: Any) -> str:
        if isinstance(excp, AssertionError) and type(excp).__name__ == "CheckFailed":  # any copy of this module
            return str(excp)
        return original(self, excp, *args, **kwargs)

    _generate_error_message.prints_check_messages_alone = True  # type: ignore[attr-defined]
    cls._generate_error_message = _generate_error_message


# --------------------------------------------------------------------------
# Validating outputs: anything that comes back from the sandbox is checked
# against the encoder's exact schema before a judge reads it.
# --------------------------------------------------------------------------

class InvalidOutput(ValueError):
    """An output record the encoder cannot have made (the message says why, briefly)."""


_CALL_KINDS = {"missing", "notcallable", "timeout", "error"}  # only ever a whole output, never nested
_FIELDS: dict[str, tuple[set[str], set[str]]] = {  # kind → (required fields, optional fields)
    "none": ({"t"}, set()), "bool": ({"t", "v"}, set()), "num": ({"t", "v"}, set()),
    "str": ({"t", "v"}, set()), "array": ({"t", "shape", "data"}, set()), "toolarge": ({"t", "shape"}, set()),
    "list": ({"t", "len", "items"}, {"array"}), "tuple": ({"t", "len", "items"}, {"array"}),
    "dict": ({"t", "items"}, set()), "figure": ({"t", "axes", "legend"}, set()),
    "object": ({"t", "type"}, {"error"}), "missing": ({"t"}, set()), "notcallable": ({"t", "type"}, set()),
    "timeout": ({"t"}, {"seconds", "skipped"}), "error": ({"t", "type", "message"}, set()),
}
_NON_FINITE = ("nan", "inf", "-inf")


def validate_output(out: object) -> dict:
    """``out`` itself when it is a record ``call_student`` can have made; else ``InvalidOutput``.

    Exact fields per kind, exact types (a bool is not a number), finite floats or
    'nan'/'inf'/'-inf', consistent lengths and shapes, the encoder's caps on sizes,
    texts and nesting, and MAX_TOTAL cost units in all.
    """
    _Validator().record(out, 0)
    return out  # type: ignore[return-value]


def _fail(why: str) -> None:
    raise InvalidOutput(why)


def _is_number(x: object) -> bool:
    return (type(x) is float and math.isfinite(x)) or (type(x) is str and x in _NON_FINITE)


def _is_text(x: object, cap: int) -> bool:
    return type(x) is str and len(x) <= cap


def _list_of(x: object, cap: int, what: str) -> list:
    if type(x) is not list or len(x) > cap:
        _fail(f"malformed {what}")
    return x  # type: ignore[return-value]


def _check_shape(shape: object) -> list[int]:
    shape = _list_of(shape, MAX_NDIM, "shape")
    if not all(type(d) is int and 0 <= d < 2**63 for d in shape):
        _fail("malformed shape")
    return shape


def _check_numbers(values: list, what: str) -> None:
    if not all(_is_number(x) for x in values):
        _fail(f"{what} holds something other than a number")


class _Validator:
    def __init__(self) -> None:
        self.left = MAX_TOTAL

    def charge(self, rec: dict) -> None:
        self.left -= _own_cost(rec)
        if self.left < 0:
            _fail("far too large")

    def record(self, rec: object, depth: int, kinds: tuple[str, ...] | None = None) -> None:
        if type(rec) is not dict:
            _fail("not a record")
        t = rec.get("t")
        if type(t) is not str or t not in _FIELDS or (kinds is not None and t not in kinds):
            _fail("unknown kind of value")
        if t in _CALL_KINDS and depth > 0:
            _fail(f"a nested {t!r} record")
        required, optional = _FIELDS[t]
        if not required <= rec.keys() <= required | optional:
            _fail(f"wrong fields in a {t!r} record")
        getattr(self, "_" + t)(rec, depth)

    def _leaf(self, rec: dict, depth: int) -> None:
        self.charge(rec)

    _none = _missing = _leaf

    def _bool(self, rec: dict, depth: int) -> None:
        if type(rec["v"]) is not bool:
            _fail("a bool that is not True or False")
        self.charge(rec)

    def _num(self, rec: dict, depth: int) -> None:
        if not _is_number(rec["v"]):
            _fail("a number that is not a finite float, 'nan', 'inf' or '-inf'")
        self.charge(rec)

    def _str(self, rec: dict, depth: int) -> None:
        if not _is_text(rec["v"], MAX_STR):
            _fail("malformed string")
        self.charge(rec)

    def _array(self, rec: dict, depth: int) -> None:
        shape, data = _check_shape(rec["shape"]), _list_of(rec["data"], MAX_ELEMENTS, "array data")
        if _bulk(shape) > MAX_ELEMENTS or math.prod(shape) != len(data):
            _fail("an array whose shape does not match its data")
        self.charge(rec)
        _check_numbers(data, "an array")

    def _toolarge(self, rec: dict, depth: int) -> None:
        if _bulk(_check_shape(rec["shape"])) <= MAX_ELEMENTS:
            _fail("a 'toolarge' array that is not too large")
        self.charge(rec)

    def _list(self, rec: dict, depth: int) -> None:
        n, items = rec["len"], rec["items"]
        if depth >= MAX_DEPTH:
            _fail("nested too deeply")
        if type(n) is not int or not 0 <= n < 2**63:
            _fail(f"a {rec['t']} with a malformed length")
        if type(items) is not list or len(items) != min(n, MAX_ITEMS):
            _fail(f"a {rec['t']} whose items do not match its length")
        self.charge(rec)
        for item in items:
            self.record(item, depth + 1)
        if "array" in rec:
            self.record(rec["array"], depth + 1, ("array", "toolarge"))
            shape = rec["array"]["shape"]
            if not shape or shape[0] != n:
                _fail(f"a {rec['t']} whose array does not match its length")

    _tuple = _list

    def _dict(self, rec: dict, depth: int) -> None:
        items = rec["items"]
        if depth >= MAX_DEPTH:
            _fail("nested too deeply")
        if type(items) is not dict or len(items) > MAX_ITEMS or not all(_is_text(k, MAX_KEY) for k in items):
            _fail("malformed dict")
        self.charge(rec)
        for item in items.values():
            self.record(item, depth + 1)

    def _figure(self, rec: dict, depth: int) -> None:
        # structure and texts first (cheap), then the cost, then the many numbers
        pairs: list = []
        for ax in _list_of(rec["axes"], MAX_AXES, "figure"):
            if type(ax) is not dict or ax.keys() != {"lines", "points", "segments", "texts", "legend"}:
                _fail("malformed figure axes")
            for ln in _list_of(ax["lines"], MAX_ITEMS, "figure lines"):
                if (type(ln) is not dict or ln.keys() != {"xy", "label", "marker", "joined"}
                        or not _is_text(ln["label"], MAX_LABEL)
                        or type(ln["marker"]) is not bool or type(ln["joined"]) is not bool):
                    _fail("malformed figure line")
                pairs.append(_list_of(ln["xy"], MAX_LINE_POINTS, "figure line"))
            pairs.append(_list_of(ax["points"], MAX_POINTS, "figure points"))
            for seg in _list_of(ax["segments"], MAX_SEGMENTS, "figure segments"):
                if not _list_of(seg, MAX_SEGMENT_POINTS, "figure segment"):
                    _fail("an empty figure segment")
                pairs.append(seg)
            for tx in _list_of(ax["texts"], MAX_ITEMS, "figure texts"):
                if (type(tx) is not dict or tx.keys() != {"x", "y", "s"} or not _is_text(tx["s"], MAX_LABEL)
                        or not _is_number(tx["x"]) or not _is_number(tx["y"])):
                    _fail("malformed figure text")
            self._labels(ax["legend"])
        self._labels(rec["legend"])
        self.charge(rec)
        for xy in pairs:
            if not all(type(p) is list and len(p) == 2 and _is_number(p[0]) and _is_number(p[1]) for p in xy):
                _fail("malformed figure points")

    @staticmethod
    def _labels(labels: object) -> None:
        if not all(_is_text(s, MAX_LABEL) for s in _list_of(labels, MAX_ITEMS, "legend")):
            _fail("malformed legend")

    def _object(self, rec: dict, depth: int) -> None:
        if not _is_text(rec["type"], MAX_TYPE) or not _is_text(rec.get("error", ""), MAX_ERROR):
            _fail("malformed object record")
        self.charge(rec)

    def _notcallable(self, rec: dict, depth: int) -> None:
        if not _is_text(rec["type"], MAX_TYPE):
            _fail("malformed record")
        self.charge(rec)

    def _timeout(self, rec: dict, depth: int) -> None:
        seconds = rec.get("seconds", 1.0)
        if type(seconds) is not float or not 0 < seconds <= 1e6 or type(rec.get("skipped", True)) is not bool:
            _fail("malformed timeout record")
        self.charge(rec)

    def _error(self, rec: dict, depth: int) -> None:
        if not _is_text(rec["type"], MAX_TYPE) or not _is_text(rec["message"], MAX_MESSAGE):
            _fail("malformed error record")
        self.charge(rec)


# --------------------------------------------------------------------------
# Judging: plain-data outputs against a plain-data expectation
# --------------------------------------------------------------------------

def judge_case(case: dict, outputs: list[dict]) -> tuple[bool, str]:
    """``(passed, feedback)`` for one case; never raises, and the feedback never shows expected values.

    Every output is validated first: outputs come from student code (or from a
    process it ran in), and a judge must only ever read records the encoder can make.
    """
    label = case["label"]
    try:
        if type(outputs) is not list or len(outputs) != len(case["calls"]):
            raise InvalidOutput("one result per call was expected")
        for out in outputs:
            if isinstance(out, dict) and out.get("t") == "invalid" and set(out) == {"t", "why"}:
                raise InvalidOutput(str(out["why"])[:200])  # the trusted side already found it unreadable
            validate_output(out)
    except InvalidOutput as exc:
        return False, f"{label}: the returned value could not be read ({exc})."
    try:
        return _judge_valid(case, outputs)
    except Exception as exc:  # defence in depth: a judge fault fails this case, never the grader
        return False, f"{label}: the returned value could not be judged ({type(exc).__name__})."


def _judge_valid(case: dict, outputs: list[dict]) -> tuple[bool, str]:
    for out in outputs:
        problem = _call_problem(out, case["func"])
        if problem:
            return False, f"{case['label']}: {problem}"
    expect = case["expect"]
    if expect["kind"] in _MULTI_JUDGES:
        ok, msg = _MULTI_JUDGES[expect["kind"]](outputs, expect)
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
        limit = f" of {out['seconds']:g} s" if "seconds" in out else ""
        if out.get("skipped"):
            return f"`{func}` ran past its time limit{limit} on an earlier input, so it was not run on this one."
        return f"`{func}` ran past its time limit{limit} (an endless loop, or far too much work)."
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


def as_array(out: dict) -> np.ndarray | None:
    t = out["t"]
    if t == "array":
        src = out
    elif t in ("list", "tuple") and "array" in out and out["array"]["t"] == "array":
        src = out["array"]
    elif t == "num":
        return np.array(unjson_float(out["v"]))
    else:
        return None
    return np.array([unjson_float(x) for x in src["data"]], dtype=float).reshape(src["shape"])


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
    got = as_array(out)
    if got is None or got.ndim == 0 and want.ndim != 0:
        return False, f"expected an array of shape {want.shape}, got {describe(out)}."
    if got.shape == want.shape and close(got, want, expect["rtol"], expect["atol"]):
        return True, "passed."
    mistake = known_mistake(got, expect)
    if mistake:
        return False, mistake
    if got.shape != want.shape:
        return False, _shape_message(got.shape, want.shape, got, want, expect)
    return False, _not_finite(got, want) or \
        f"the shape {want.shape} is right but the values are not. {expect.get('hint', '')}".strip()


def _not_finite(got: np.ndarray, want: np.ndarray) -> str | None:
    """A message for nan or inf where the answer is finite (an overflow or a division by zero)."""
    if np.all(np.isfinite(want)) and not np.all(np.isfinite(got)):
        return ("the result contains nan or inf where the answer is finite: an overflow (exp of a large number?) "
                "or a division by zero.")
    return None


def known_mistake(got: np.ndarray, expect: dict) -> str | None:
    """The message of the first known wrong answer that ``got`` matches, whatever its shape."""
    for alt in expect.get("alternatives", []):
        if _matches_alternative(got, alt, expect):
            return alt["message"]
    return None


def _matches_alternative(got: np.ndarray, alt: dict, expect: dict) -> bool:
    if "value" in alt:
        value = alt["value"]
        want = decode_array(value) if isinstance(value, dict) else np.array([unjson_float(x) for x in value])
        if want.ndim == 0 and got.size == 1:
            got = got.reshape(())
        return close(got, want, expect["rtol"], expect["atol"])
    if "solves" in alt:  # got is a solution of M w = r, though not the asked one
        M, r = decode_array(alt["solves"]["M"]), decode_array(alt["solves"]["r"])
        return got.shape == (M.shape[1], r.shape[1]) and close(M @ got, r, 1e-6, 1e-8)
    return False


def _judge_scalar(out: dict, expect: dict) -> tuple[bool, str]:
    got = as_array(out)
    if got is None:
        return False, f"expected a number (a Python float), got {describe(out)}."
    want = np.array(float(expect["value"]))
    if got.size == 1 and close(got.reshape(()), want, expect["rtol"], expect["atol"]):
        return True, "passed."
    mistake = known_mistake(got, expect)
    if mistake:
        return False, mistake
    if got.size != 1:
        return False, f"expected a number (a Python float), got {describe(out)}."
    if math.isnan(float(want)):
        return False, "this input has no finite answer; return float('nan') for it."
    if _not_finite(got, want):
        return False, _not_finite(got, want)
    return False, f"the value is wrong. {expect.get('hint', '')}".strip()


def _judge_bool(out: dict, expect: dict) -> tuple[bool, str]:
    if out["t"] != "bool":
        return False, f"expected True or False, got {describe(out)}."
    if out["v"] == expect["value"]:
        return True, "passed."
    return False, f"not the right answer for this matrix. {expect.get('hint', '')}".strip()


def _judge_tuple(out: dict, expect: dict) -> tuple[bool, str]:
    items, names = expect["items"], expect["names"]
    # the item count is checked as well as the length: zip would silently compare nothing
    if out["t"] not in ("tuple", "list") or out["len"] != len(items) or len(out["items"]) != len(items):
        return False, f"expected a tuple ({', '.join(names)}), got {describe(out)}."
    for name, sub_out, sub_expect in zip(names, out["items"], items):
        ok, msg = judge_value(sub_out, sub_expect)
        if not ok:
            return False, f"{name}: {msg}"
    return True, "passed."


def _judge_numbers(out: dict, expect: dict) -> tuple[bool, str]:
    want = np.array([unjson_float(x) for x in expect["value"]], dtype=float)
    got = as_array(out)
    if got is None:
        return False, f"expected {want.size} numbers, got {describe(out)}."
    got = got.reshape(-1)
    if got.size == want.size and close(got, want, expect["rtol"], expect["atol"]):
        return True, "passed."
    mistake = known_mistake(got, expect)
    if mistake:
        return False, mistake
    if got.size != want.size:
        return False, f"expected {want.size} numbers, got {got.size}."
    wrong = np.flatnonzero(~_elementwise_close(got, want, expect["rtol"], expect["atol"]))
    return False, (f"{len(wrong)} of {want.size} values are wrong (entries {', '.join(map(str, wrong[:5]))}). "
                   f"{expect.get('hint', '')}").strip()


def _elementwise_close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    return np.array([close(np.array(g), np.array(w), rtol, atol) for g, w in zip(got, want)])


def _judge_inverse(out: dict, expect: dict) -> tuple[bool, str]:
    X = decode_array(expect["X"])
    m, n = X.shape
    got = as_array(out)
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
    mistake = known_mistake(got, expect)
    if mistake:
        return False, mistake
    what = "A X" if left else "X B"
    return False, f"{what} is not the identity I_{size}. {expect.get('hint', '')}".strip()


def _judge_finite_number(out: dict, expect: dict) -> tuple[bool, str]:
    """The form of an answer whose value is checked later (a student's own numbers): one finite number."""
    got = as_array(out)
    if got is None or got.size != 1 or not np.all(np.isfinite(got)):
        return False, f"expected one finite number (a float), got {describe(out)}. {expect.get('hint', '')}".strip()
    return True, "passed (the form only: the value is checked after the deadline)."


_JUDGES: dict[str, Callable[[dict, dict], tuple[bool, str]]] = {
    "array": _judge_array,
    "scalar": _judge_scalar,
    "bool": _judge_bool,
    "tuple": _judge_tuple,
    "numbers": _judge_numbers,
    "inverse": _judge_inverse,
    "finite_number": _judge_finite_number,
}
_MULTI_JUDGES: dict[str, Callable[[list[dict], dict], tuple[bool, str]]] = {}  # judge every call's output at once


def judge(kind: str, *, every_call: bool = False) -> Callable:
    """Register the judge of expectations of ``kind`` (an assignment's ``judges.py`` uses it).

    A judge takes ``(output, expect)`` and returns ``(passed, message)``; with
    ``every_call`` it takes the list of every call's output instead.  Outputs reach a
    judge validated (see ``validate_output``), and a judge that raises fails the case.
    """
    def register(fn: Callable) -> Callable:
        (_MULTI_JUDGES if every_call else _JUDGES)[kind] = fn
        return fn
    return register
