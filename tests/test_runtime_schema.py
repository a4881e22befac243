"""What comes back from student code is attacker-chosen: the encoder reads lying containers
through their base types, every output is validated against the encoder's exact schema
before a judge reads it, and ``grader.check`` cannot hang on an endless loop.

Real objects and real matplotlib throughout; the batch tests grade real notebooks.
"""

from __future__ import annotations

import copy
import inspect
import json
import random
import threading
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import solution  # noqa: E402
from conftest import hw0_runtime, with_function  # noqa: E402

from autograder.batch import grade_paths  # noqa: E402
from autograder.sandbox import make_sandbox  # noqa: E402

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships
HOLLOW = {"t": "tuple", "len": 2, "items": []}
REQUIRED = {  # each kind of output record → its required fields (the encoder's schema)
    "none": {"t"}, "bool": {"t", "v"}, "num": {"t", "v"}, "str": {"t", "v"}, "array": {"t", "shape", "data"},
    "toolarge": {"t", "shape"}, "list": {"t", "len", "items"}, "tuple": {"t", "len", "items"}, "dict": {"t", "items"},
    "figure": {"t", "axes", "legend"}, "object": {"t", "type"}, "missing": {"t"}, "notcallable": {"t", "type"},
    "timeout": {"t"}, "error": {"t", "type", "message"},
}


class Hollow(tuple):
    """Says it has two items and yields none."""

    def __len__(self):
        return 2

    def __iter__(self):
        return iter(())

    def __getitem__(self, i):
        raise IndexError(i)


def _cases(hw0, kind=None, func=None, hidden=None):
    return [c for c in hw0.plan.cases if (kind is None or c["expect"]["kind"] == kind)
            and (func is None or c["func"] == func) and (hidden is None or c["hidden"] == hidden)]


def _reference_outputs(ns: dict, case: dict) -> list[dict]:
    target = solution.target(ns, case)
    if case.get("variable"):
        return [runtime.read_variable(target)]
    return runtime.call_all(target, case["calls"])


def _roundtrip(out: dict) -> dict:
    return json.loads(json.dumps(out))


# --------------------------------------------------------------------------
# The hollow tuple and other lying containers
# --------------------------------------------------------------------------

def test_encoder_reads_the_real_items_of_a_hollow_tuple():
    out = runtime.encode_output(Hollow())
    assert (out["t"], out["len"], out["items"]) == ("tuple", 0, [])
    full = runtime.encode_output(Hollow((1.5, 2.5)))
    assert full["len"] == 2 and [i["v"] for i in full["items"]] == [1.5, 2.5]
    assert full["array"] == {"t": "array", "shape": [2], "data": [1.5, 2.5]}
    runtime.validate_output(out)
    runtime.validate_output(full)


def test_encoder_reads_other_lying_values_through_their_base_types():
    class LyingList(list):
        def __len__(self):
            return 99

        def __iter__(self):
            return iter([7.0] * 99)

    class LyingDict(dict):
        def items(self):
            return [("forged", 1.0)]

    class LyingStr(str):
        def __getitem__(self, i):
            return "forged" * 1000

        def __str__(self):
            return "forged"

    class LyingFloat(float):
        def __float__(self):
            return 0.0

    class LyingInt(int):
        def __float__(self):
            return 0.0

        def __index__(self):
            return 0

    class LyingArray(np.ndarray):
        shape = (1,)
        size = 1

        def view(self, *args, **kwargs):
            return np.zeros(1)

    assert runtime.encode_output(LyingList([1.0, 2.0]))["len"] == 2
    assert runtime.encode_output(LyingDict(a=2.0))["items"] == {"a": {"t": "num", "v": 2.0}}
    assert runtime.encode_output(LyingStr("x" * 500)) == {"t": "str", "v": "x" * runtime.MAX_STR}
    assert runtime.encode_output(LyingFloat(3.5)) == {"t": "num", "v": 3.5}
    assert runtime.encode_output(LyingInt(4)) == {"t": "num", "v": 4.0}
    arr = runtime.encode_output(np.arange(6.0).reshape(2, 3).view(LyingArray))
    assert (arr["shape"], arr["data"]) == ([2, 3], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    for v in (LyingList([1.0, 2.0]), LyingDict(a=2.0), LyingStr("x"), LyingFloat(1.0), arr):
        runtime.validate_output(runtime.encode_output(v))


def test_hollow_tuple_fails_every_tuple_case(hw0):
    cases = _cases(hw0, kind="tuple")
    assert {c["func"] for c in cases} == {"fake_data", "sgd_step", "sgd_step_network"}
    for case in cases:
        passed, message = runtime.run_case(lambda *args: Hollow(), case)
        assert not passed, message
        passed, message = runtime.judge_case(case, [runtime.call_student(lambda *a: Hollow(), case["calls"][0])])
        assert not passed and "expected a tuple" in message


def test_hand_made_hollow_records_are_rejected(hw0):
    with pytest.raises(runtime.InvalidOutput):
        runtime.validate_output(HOLLOW)
    for case in _cases(hw0, kind="tuple"):
        passed, message = runtime.judge_case(case, [HOLLOW])
        assert not passed and "could not be read" in message
    hollow_pairs = {"t": "dict", "items": {k: HOLLOW for k in ("i", "ii", "iii", "iv")}}
    for case in _cases(hw0, kind="choice"):
        passed, message = runtime.judge_case(case, [hollow_pairs])
        assert not passed and "could not be read" in message


# --------------------------------------------------------------------------
# Malformed records: the correct answer with one schema violation never passes
# --------------------------------------------------------------------------

def _records(rec: dict, depth: int = 0):
    """(record, depth) for ``rec`` and every record nested in it."""
    yield rec, depth
    if rec["t"] in ("list", "tuple"):
        for item in rec["items"]:
            yield from _records(item, depth + 1)
        if "array" in rec:
            yield rec["array"], depth + 1
    elif rec["t"] == "dict":
        for item in rec["items"].values():
            yield from _records(item, depth + 1)


def _mutations(rec: dict, depth: int, rng: random.Random) -> list:
    """In-place edits of one record, each of which the encoder can never produce."""
    t = rec["t"]
    bad_numbers = [True, False, 1, float("nan"), float("inf"), -float("inf"), "NaN", "1.0", None, [1.0], {}]
    edits = [
        lambda: rec.pop(rng.choice(sorted(REQUIRED[t]))),
        lambda: rec.__setitem__("extra", 1.0),
        lambda: rec.__setitem__("t", rng.choice(["float", "ndarray", "", "TUPLE", 0])),
    ]
    if depth > 0:
        edits.append(lambda: rec.update({"t": "timeout"}) or [rec.pop(k) for k in list(rec) if k != "t"])
    if t == "num":
        edits.append(lambda: rec.__setitem__("v", rng.choice(bad_numbers)))
    if t == "bool":
        edits.append(lambda: rec.__setitem__("v", rng.choice([1.0, 0, "True", None])))
    if t == "array" and rec["data"]:
        k = rng.randrange(len(rec["data"]))
        edits += [
            lambda: rec["data"].__setitem__(k, rng.choice(bad_numbers)),
            lambda: rec["data"].append(0.0),
            lambda: rec["data"].pop(),
            lambda: rec.__setitem__("shape", rec["shape"] + [2]),
            lambda: rec.__setitem__("shape", [-1, *rec["shape"]]),
            lambda: rec.__setitem__("shape", [10**9, 10**9]),
            lambda: rec.__setitem__("shape", [True] * max(1, len(rec["shape"]))),
            lambda: rec.__setitem__("shape", [float(d) for d in rec["shape"]] or [1.0]),
            lambda: rec.__setitem__("shape", [1] * 9),
        ]
    if t in ("list", "tuple"):
        edits += [
            lambda: rec.__setitem__("len", rec["len"] + 1 if rec["len"] < runtime.MAX_ITEMS else -1),
            lambda: rec.__setitem__("len", -1),
            lambda: rec.__setitem__("len", float(rec["len"])),
            lambda: rec.__setitem__("items", rec["items"][:-1] if rec["items"] else [{"t": "none"}]),
            lambda: rec.__setitem__("array", {"t": "num", "v": 1.0}),
            lambda: rec.__setitem__("items", {str(k): v for k, v in enumerate(rec["items"])}),
        ]
        if rec["items"]:
            edits.append(lambda: rec["items"].__setitem__(0, rng.choice([None, 1.0, "x", [], {"t": "missing"}])))
    if t == "dict":
        edits += [
            lambda: rec["items"].__setitem__("k" * 51, {"t": "none"}),
            lambda: rec["items"].update({f"key{k}": {"t": "none"} for k in range(65)}),
            lambda: rec.__setitem__("items", list(rec["items"].values())),
        ]
    if t == "figure":
        ax = rec["axes"][0] if rec["axes"] else None
        edits += [
            lambda: rec.__setitem__("axes", rec["axes"] * 9 or [{}]),
            lambda: rec.__setitem__("legend", [1.0]),
            lambda: rec.__setitem__("legend", ["x" * 81]),
        ]
        if ax and ax["lines"]:
            edits += [
                lambda: ax["lines"][0]["xy"].append([0.0, 1.0, 2.0]),
                lambda: ax["lines"][0]["xy"].append([True, 0.0]),
                lambda: ax["lines"][0].__setitem__("label", 5),
                lambda: ax["lines"][0]["xy"].extend([[0.0, 0.0]] * (runtime.MAX_LINE_POINTS + 1)),
            ]
        if ax:
            edits += [lambda: ax["texts"].append({"x": 0.0, "y": 0.0}), lambda: ax.pop("points")]
    return edits


def _nest(rec: dict, levels: int) -> dict:
    for _ in range(levels):
        rec = {"t": "list", "len": 1, "items": [rec]}
    return rec


def _whole_output_attacks(rec: dict) -> list[object]:
    data = [0.5] * runtime.MAX_ELEMENTS
    big = {"t": "array", "shape": [runtime.MAX_ELEMENTS], "data": data}
    return [None, [], "passed", 1.0, True, [rec], {"t": "tuple", "len": 3, "items": [rec, rec]},
            _nest(rec, runtime.MAX_DEPTH + 1), _nest({"t": "none"}, 50),
            {"t": "list", "len": 64, "items": [big] * 64},  # tiny JSON-side references, 12.8 M numbers
            {"t": "timeout", "seconds": "10"}, {"t": "timeout", "skipped": 1},
            {"t": "error", "type": "E", "message": "m" * 301}, {"t": "toolarge", "shape": [2, 2]},
            {"t": "object", "type": 5}]


def test_malformed_records_fail_and_never_raise(hw0):
    ns = solution.namespace()
    cases = [c for c in hw0.plan.cases if c["expect"]["kind"] != "offsets"]
    rng = random.Random(20240601)
    tried = 0
    for _ in range(400):
        case = rng.choice(cases)
        good = _roundtrip(_reference_outputs(ns, case)[0])
        assert runtime.judge_case(case, [good])[0], case["id"]
        bad = copy.deepcopy(good)
        rec, depth = rng.choice(list(_records(bad)))
        rng.choice(_mutations(rec, depth, rng))()
        for out in (bad, rng.choice(_whole_output_attacks(copy.deepcopy(good)))):
            with pytest.raises(runtime.InvalidOutput):
                runtime.validate_output(out)
            passed, message = runtime.judge_case(case, [out])
            assert passed is False and isinstance(message, str) and "could not be read" in message
            tried += 1
    assert tried == 800


def _garbage(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value that looks a little like a record."""
    pick = rng.randrange(9 if depth < 5 else 5)
    scalars = [None, True, 0, -1, 2**70, 1.5, float("nan"), "nan", "x" * rng.randrange(300)]
    if pick < 5:
        return rng.choice(scalars)
    if pick < 7:
        return [_garbage(rng, depth + 1) for _ in range(rng.randrange(4))]
    rec = {"t": rng.choice([*REQUIRED, "?"])}
    for key in rng.sample(["v", "len", "items", "shape", "data", "axes", "legend", "type", "message", "array",
                           "seconds", "error", "x"], rng.randrange(4)):
        rec[key] = _garbage(rng, depth + 1)
    return rec


def test_random_garbage_never_passes_and_never_raises(hw0):
    rng = random.Random(7)
    cases = [c for c in hw0.plan.cases if len(c["calls"]) == 1 and c["expect"]["kind"] != "bool"]
    rejected = 0
    for _ in range(600):
        out, case = _garbage(rng), rng.choice(cases)
        passed, message = runtime.judge_case(case, [out])
        assert isinstance(message, str) and passed is False
        try:
            runtime.validate_output(out)
        except runtime.InvalidOutput:
            rejected += 1
    assert rejected > 500


def test_offsets_judge_needs_one_output_per_call(hw0):
    ns = solution.namespace()
    case = _cases(hw0, kind="offsets")[0]
    outs = _reference_outputs(ns, case)
    assert runtime.judge_case(case, outs)[0]
    assert runtime.judge_case(case, outs[:1]) == (False, f"{case['label']}: the returned value could not be read "
                                                         "(one result per call was expected).")


# --------------------------------------------------------------------------
# Everything real passes: the reference, and a zoo of values
# --------------------------------------------------------------------------

def test_every_reference_output_validates_and_passes(hw0):
    ns = solution.namespace()
    for case in hw0.plan.cases:
        outputs = _reference_outputs(ns, case)
        for out in outputs:
            assert runtime.validate_output(out) is out
            runtime.validate_output(_roundtrip(out))
        passed, message = runtime.judge_case(case, outputs)
        assert passed, message
        assert runtime.judge_case(case, [_roundtrip(o) for o in outputs]) == (passed, message)


def _figures() -> list:
    figs = []
    fig, ax = plt.subplots()
    t = np.linspace(-3, 3, 9000)  # more points than MAX_LINE_POINTS
    ax.plot(t, np.maximum(t, 0), label="relu " * 40)
    ax.scatter([0.5, 1.5], [0.0, np.nan])
    ax.vlines([1.0, 2.0], 0, 1)
    ax.axvline(0.25)
    ax.text(0.1, 0.2, "elbow")
    ax.annotate("point", xy=(1.0, 2.0), xytext=(2.0, 3.0), arrowprops={})
    ax.legend()
    fig.legend(["figure-level"])
    figs += [fig, ax]
    fig2, axs = plt.subplots(3, 3)  # nine Axes: eight are kept
    for a in axs.flat:
        a.plot([0, 1], [1, np.inf])
    figs.append(fig2)
    fig3 = plt.figure()  # no Axes at all
    figs.append(fig3)
    fig4, ax4 = plt.subplots()
    ax4.scatter(np.arange(5000.0), np.arange(5000.0))
    for k in range(100):
        ax4.plot([k, k + 1], [0, 1], label=f"line {k}")
        ax4.text(k, k, "t")
    ax4.legend()
    figs.append(fig4)
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)
    return figs


class RaisingFloat:
    def __float__(self):
        raise ArithmeticError("no")


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no")


def _zoo() -> list:
    shapes = [(), (0,), (3,), (0, 3), (3, 0, 2), (2, 3), (1, 1), (4, 1), (1, 4), (2, 2, 2), (1,) * 8, (1,) * 9,
              (500, 401), (0, 10**6)]
    arrays = [np.arange(float(np.prod(s))).reshape(s) for s in shapes]
    special = np.array([[np.nan, np.inf], [-np.inf, -0.0]])
    numbers = [np.float16(1.5), np.float32(0.1), np.float64(2.5), np.longdouble(3.5), np.int8(-3), np.uint64(2**64 - 1),
               np.int64(7), 0, -5, 2**80, 2**2000, 1e308, float("nan"), float("inf"), -float("inf"), np.complex128(1j)]
    values = [None, True, False, np.bool_(True), np.array(True), np.array(False), "", "α" * 300, "\ud800 lone",
              special, np.array([1, 2, 3]), np.array(["1.5", "2"]), np.array([1 + 2j]), np.array([object()]),
              np.array([None, 1.0], dtype=object), np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
              [1.0, 2.0], [[1.0], [2.0]], [[1.0, 2.0], [3.0]], (np.ones((2, 1)), np.zeros((3, 1))),
              (np.ones((2, 1)), np.zeros((2, 1))), [np.float64(1.0), True], list(range(100)), [0.5] * 300_000,
              {"i": ("increases", "left"), 3: [1, 2], ("k",) * 40: None}, {f"k{i}": i for i in range(100)},
              [[[[[[1.0]]]]]], _nest_py(40), set([1.0]), (x for x in ()), object(), RaisingFloat(),
              [RaisingFloat(), 1.0], ValueError("boom"), Unprintable(), Hollow(), Hollow((1.0, 2.0)),
              [np.zeros(runtime.MAX_ELEMENTS)] * 64, [[np.zeros(1000)] * 64] * 64, np.zeros((2,) * 20)]
    return arrays + numbers + values + _figures()


def _nest_py(levels: int) -> list:
    v: list = [1.0]
    for _ in range(levels):
        v = [v, v]
    return v


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_everything_the_encoder_makes_validates():
    kinds = set()
    for v in _zoo():
        out = runtime.encode_output(v)
        kinds.add(out["t"])
        assert runtime.validate_output(out) is out, (type(v), str(out)[:300])
        runtime.validate_output(_roundtrip(out))
    assert kinds >= {"none", "bool", "num", "str", "array", "toolarge", "list", "tuple", "dict", "figure", "object"}


def test_every_call_outcome_validates():
    def raises_unprintable(*args):
        raise Unprintable()

    def raises_long(*args):
        raise ValueError("x" * 10_000)

    def loops(*args):
        while True:
            pass

    outs = [runtime.call_student(None, []), runtime.call_student(3.0, []),
            runtime.call_student(raises_unprintable, []), runtime.call_student(raises_long, []),
            runtime.call_student(loops, [], timeout=0.2), runtime.timeout_output(10.0, skipped=True),
            runtime.timeout_output(None), runtime.read_variable(None), runtime.read_variable(np.float64(1.0))]
    assert [o["t"] for o in outs] == ["missing", "notcallable", "error", "error", "timeout", "timeout", "timeout",
                                      "missing", "num"]
    for out in outs:
        runtime.validate_output(out)
        runtime.validate_output(_roundtrip(out))


def test_encoder_figure_keeps_what_the_judge_reads():
    fig = _figures()[0]
    out = runtime.encode_output(fig)
    ax = out["axes"][0]
    assert len(ax["lines"][0]["xy"]) <= runtime.MAX_LINE_POINTS
    assert len(ax["lines"][0]["label"]) == runtime.MAX_LABEL
    assert [0.5, 0.0] in ax["points"] and ax["legend"] and out["legend"] == ["figure-level"]
    assert {"x": 1.0, "y": 2.0, "s": "point"} in ax["texts"]
    assert len(runtime.encode_output(_figures()[2])["axes"]) == runtime.MAX_AXES


# --------------------------------------------------------------------------
# grader.check: a time limit per call, and one timeout per case
# --------------------------------------------------------------------------

def _loop(*args):
    while True:
        pass


def test_run_case_has_a_default_time_limit():
    default = inspect.signature(runtime.run_case).parameters["timeout"].default
    assert default == runtime.DEFAULT_CALL_SECONDS == 10


def test_endless_loop_times_out_with_a_clear_message(hw0):
    case = _cases(hw0, func="d_xTc")[0]
    start = time.monotonic()
    passed, message = runtime.run_case(_loop, case, timeout=1)
    assert not passed and time.monotonic() - start < 3
    assert "ran past its time limit of 1 s" in message


def test_one_timeout_per_case_not_one_per_call(hw0):
    case = _cases(hw0, kind="offsets")[0]
    assert len(case["calls"]) >= 4
    start = time.monotonic()
    passed, message = runtime.run_case(_loop, case, timeout=0.5)
    assert not passed and time.monotonic() - start < 1.5  # one limit, not 4 × 0.5 s
    assert "ran past its time limit of 0.5 s" in message
    outs = runtime.call_all(_loop, case["calls"], timeout=0.3)
    assert [o.get("skipped", False) for o in outs] == [False] + [True] * (len(outs) - 1)
    skipped = runtime.judge_case({**case, "calls": case["calls"][:1]}, outs[1:2])[1]
    assert "on an earlier input, so it was not run on this one" in skipped


def test_run_case_outside_the_main_thread_runs_without_a_limit(hw0):
    ns = solution.namespace()
    case = _cases(hw0, func="d_xTAx")[0]
    results = []
    thread = threading.Thread(target=lambda: results.append(runtime.run_case(ns["d_xTAx"], case, timeout=1)))
    thread.start()
    thread.join(30)
    assert results and results[0][0], results


def test_nested_limits_keep_the_outer_deadline():
    start = time.monotonic()
    with pytest.raises(runtime.CallTimeout):
        with runtime.time_limit(1.0):
            with runtime.time_limit(5.0):
                pass
            while time.monotonic() - start < 4:  # without the outer alarm this loop just ends
                pass
    assert time.monotonic() - start < 2


# --------------------------------------------------------------------------
# The batch grader: hollow and forged outputs earn nothing a blank notebook does not
# --------------------------------------------------------------------------

HOLLOW_CODE = """def {func}(*args):
    class Hollow(tuple):
        def __len__(self): return 2
        def __iter__(self): return iter(())
    return Hollow()
"""

FORGE_CELL = """import json, sys
FORGED = {forged!r}
_dumps = json.dumps
def _forging_dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and "out" in obj:
        obj = dict(obj, out=FORGED)
    return _dumps(obj, *args, **kwargs)
json.dumps = _forging_dumps
for _name in ("runtime", "dlmath_check"):
    _m = sys.modules.get(_name)
    if _m is not None:
        _m.encode_output = lambda v, depth=0: FORGED
        _m.call_student = lambda *a, **k: FORGED
        _m.read_variable = lambda *a, **k: FORGED
"""


def _graded(tmp_path, notebooks: dict, plan) -> dict:
    paths = []
    for name, nb in notebooks.items():
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    results = grade_paths(paths, plan, jobs=2, sandbox=make_sandbox("none"))
    return dict(zip(notebooks, results))


def test_hollow_and_forged_outputs_score_no_more_than_blank(tmp_path, built, solution_nb, hw0):
    blank = nbformat.read(built.student_notebook, as_version=4)
    hollow = blank
    for func in ("fake_data", "sgd_step", "sgd_step_network"):
        hollow = with_function(hollow, HOLLOW_CODE.format(func=func), replaces=func)
    notebooks = {"blank": blank, "hollow": hollow,
                 "hollow_sgd_step": with_function(solution_nb, HOLLOW_CODE.format(func="sgd_step"), replaces="sgd_step")}
    pairs = {"t": "dict", "items": {k: HOLLOW for k in ("i", "ii", "iii", "iv")}}
    for name, forged in (("forged_tuple", HOLLOW), ("forged_pairs", pairs)):
        nb = nbformat.from_dict(blank)
        nb.cells.append(nbformat.v4.new_code_cell(FORGE_CELL.format(forged=forged)))
        notebooks[name] = nb
    r = _graded(tmp_path, notebooks, hw0.plan)
    assert r["blank"].status == "ok"
    for name in ("hollow", "forged_tuple", "forged_pairs"):
        over = {q: s for q, s in r[name].scores.items() if s > r["blank"].scores[q] + 1e-9}
        assert over == {}, (name, over, r[name].status, r[name].message)
    sgd = [v for v in r["hollow_sgd_step"].feedback if v["func"] == "sgd_step"]
    assert sgd and not any(v["passed"] for v in sgd)
    others = [v for v in r["hollow_sgd_step"].feedback if v["func"] != "sgd_step"]
    assert all(v["passed"] for v in others)
