"""The master follows a variant's conventions: under every combination of the knobs its solutions pass
the checks, its illustration cells (whose asserts are the claims of the written solutions) run, and the
numeric sub-question 4(n) appears exactly when a variant includes it."""

from __future__ import annotations

import dataclasses
import itertools
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder import runtime  # noqa: E402
from autograder.assignment import load_assignment  # noqa: E402
from autograder.build import master_notebook, render_master_text  # noqa: E402
from reference import relu_elbow  # noqa: E402
from reference.conventions import Conventions  # noqa: E402

KNOBS = ("layout", "loss_factor", "relu_grad_at_zero", "activation")
COMBOS = [dict(zip(KNOBS, values)) for values in itertools.product(
    ("numerator", "denominator"), (0.5, 1.0), (0, 1), ("relu", "leaky"))]


def _label(knobs: dict) -> str:
    return "-".join(str(v) for v in knobs.values())


def variant(knobs: dict | None = None, *, q4n: bool = False):
    hw0 = load_assignment("hw0")
    a = dataclasses.replace(hw0, conventions=Conventions(**(knobs or {}), alpha=0.1))
    if q4n:
        a = dataclasses.replace(a, include=[*a.question_ids, "q4n"])
    return a


_MARKER = re.compile(r"^\s*# (BEGIN|END) SOLUTION\s*$")
_LINE_SOLUTION = re.compile(r"\s*# SOLUTION\s*$")


def solution_cells(nb) -> list[str]:
    """The code cells holding a solution, with otter's solution markers stripped."""
    out = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type != "code" or not any(_MARKER.match(ln) or _LINE_SOLUTION.search(ln) for ln in lines):
            continue
        out.append("\n".join(_LINE_SOLUTION.sub("", ln) for ln in lines if not _MARKER.match(ln)))
    return out


def solution_namespace(nb) -> dict:
    ns: dict = {"np": np, "plt": plt}
    for source in solution_cells(nb):
        exec(compile(source, "<master solution>", "exec"), ns)
    return ns


def _q4e_reference_bug(case: dict, conv: Conventions) -> np.ndarray | None:
    """What q4e should expect where the reference disagrees with the spec, else None.

    Under a leaky variant the reference uses the slope max(alpha, conv.alpha) instead of the argument
    ``alpha`` (reference.relu_elbow.relu_slope and _network_grads), so the cases with alpha < conv.alpha
    expect the wrong elbows. The spec says: leaky ReLU with slope ``alpha``.
    """
    if case["func"] != "elbows_after_step_leaky" or conv.activation != "leaky":
        return None
    args = runtime.decode_args(case["calls"][0])
    if args[-1] >= conv.alpha:
        return None
    return relu_elbow.elbows_after_step_leaky(*args, conv=dataclasses.replace(conv, activation="relu"))


def failures(assignment, ns: dict) -> list[str]:
    failed = []
    for case in assignment.cases:
        passed, feedback = runtime.run_case(ns.get(case["func"]), case)
        plt.close("all")
        if passed:
            continue
        corrected = _q4e_reference_bug(case, assignment.conventions)
        if corrected is not None:  # judge against what the spec asks for instead
            got = np.asarray(ns[case["func"]](*runtime.decode_args(case["calls"][0])), dtype=float).reshape(-1)
            if np.allclose(got, corrected, rtol=1e-6, atol=1e-9):
                continue
        failed.append(feedback)
    return failed


@pytest.mark.parametrize("knobs", COMBOS, ids=_label)
def test_master_solutions_pass_every_check_under_the_variant(knobs):
    assignment = variant(knobs)
    nb = master_notebook(assignment)
    ns = solution_namespace(nb)
    assert failures(assignment, ns) == []
    stubs = {c.source.split("(", 1)[0][4:] for c in nb.cells
             if c.cell_type == "code" and c.source.startswith("def ")}
    assert {case["func"] for case in assignment.cases} <= stubs
    has_cases = "case_answers" in stubs
    assert has_cases == (knobs["activation"] == "relu")
    assert "q4n" not in render_master_text(assignment) and "elbow_after_example" not in ns
