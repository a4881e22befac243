"""Correct answers in other styles earn full points: lists, tuples, NumPy scalars, other algorithms."""

from __future__ import annotations

import re

import nbformat
import pytest
import solution
from conftest import hw0_cases, hw0_checks, hw0_runtime, with_function

from autograder.assignment import load_assignment
from autograder.grade import grade_submission

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships

STYLES = load_assignment("hw0").correct_styles()


@pytest.mark.parametrize("entry", STYLES, ids=[e["id"] for e in STYLES])
def test_style_passes_on_every_seed(entry):
    ns = solution.namespace()
    exec(entry["code"], ns)
    func = re.match(r"def (\w+)\(", entry["code"]).group(1)
    checks = [c for c in hw0_checks() if c.func == func]
    assert checks and all(c.qid == entry["qid"] for c in checks)
    for seed in range(25):
        for case in hw0_cases(seed, checks=checks):
            passed, message = runtime.run_case(ns[func], case)
            assert passed, (seed, message)


def test_all_styles_in_one_notebook_get_full_marks(tmp_path, hw0, solution_nb):
    nb = solution_nb
    for entry in STYLES:
        nb = with_function(nb, entry["code"])
    path = tmp_path / "styles.ipynb"
    nbformat.write(nb, path)
    r = grade_submission(path, hw0.plan)
    assert r.status == "ok"
    assert r.score == hw0.max_score, [v["message"] for v in r.feedback if not v["passed"]]
