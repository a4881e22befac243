"""What `autograder build` gives students: stubs per the spec, public checks that teach, no secrets."""

from __future__ import annotations

import inspect
import json
import re
import shutil

import nbformat
from conftest import grader_check_outputs, hw0_checks

import reference.hw0.calculus
import reference.hw0.least_squares
import reference.hw0.relu_elbow
import reference.hw0.ridge

SPEC_FUNCTIONS = {
    "q1a": ["d_xTc"], "q1b": ["d_sqnorm"], "q1c": ["d_Ax"], "q1d": ["d_xTAx"],
    "q1e": ["equals_2xTA_for_all_x"], "q1f": ["numerical_derivative"],
    "q2a": ["least_squares"], "q2b": ["sigma_pinv", "least_squares_svd"], "q2c": ["left_inverse"],
    "q2d": ["min_norm"], "q2e": ["min_norm_svd"], "q2f": ["right_inverse"],
    "q3a": ["ridge"], "q3b": ["ridge_gains", "ridge_svd"], "q3c": ["neg_log_posterior"],
    "q3d": ["fake_data", "ridge_fake_data"], "q3e": ["fake_features", "ridge_fake_features"],
    "q3f": ["kernel_ridge"], "q3g": ["ridge_shrinkage_direction"], "q3h": ["ridge_limit_zero"],
    "q4a": ["elbow", "dloss_dphi", "dloss_dw", "dloss_db"],
    "q4b": ["sgd_step", "elbow_after_step", "case_answers", "plot_elbow_step"],
    "q4c": ["elbows"], "q4d": ["sgd_step_network", "elbows_after_step"], "q4e": ["elbows_after_step_leaky"],
}


def test_every_spec_function_is_checked_under_its_question():
    checked = {(c.qid, c.func) for c in hw0_checks() if not c.optional}
    assert checked == {(q, f) for q, fs in SPEC_FUNCTIONS.items() for f in fs}


def test_student_notebook_has_one_stub_cell_per_function(built):
    nb = nbformat.read(built.student_notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for funcs in SPEC_FUNCTIONS.values():
        for f in funcs:
            stubs = [s for s in code if s.startswith(f"def {f}(")]
            assert len(stubs) == 1, f
            assert stubs[0].rstrip().endswith("..."), f"{f} stub is not blank"
    assert sum("_Type your answer here" in c.source for c in nb.cells if c.cell_type == "markdown") >= 20


def _solution_lines(master_nb) -> set[str]:
    lines, inside = set(), False
    for cell in master_nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN SOLUTION"):
            inside = True
        elif cell.cell_type == "raw" and src.startswith("# END SOLUTION"):
            inside = False
        elif inside:
            body = src.split("# BEGIN SOLUTION", 1)[-1].split("# END SOLUTION", 1)[0]
            lines |= {ln.strip() for ln in body.splitlines() if len(ln.strip()) > 15}
    return lines


def _reference_formula_lines() -> set[str]:
    out = set()
    for module in (reference.hw0.calculus, reference.hw0.least_squares, reference.hw0.ridge, reference.hw0.relu_elbow):
        for ln in inspect.getsource(module).splitlines():
            s = ln.strip()
            if len(s) > 20 and not s.startswith(("#", '"""')) and re.search(r"@|solve|svd|pinv|sqrt|maximum", s):
                out.add(s)
    return out


def test_student_folder_holds_no_solution_hidden_test_or_reference(built, hw0):
    from autograder.build import master_notebook

    student_dir = built.student_notebook.parent
    texts = {p.name: p.read_text() for p in student_dir.rglob("*") if p.is_file()}
    assert set(texts) == {"hw0.ipynb", "dlmath_check.py", "dlmath_export.py"}
    everything = "\n".join(texts.values())
    nb = json.loads(texts["hw0.ipynb"])
    tests = nb["metadata"]["otter"]["tests"]
    assert set(tests) == set(hw0.question_ids)
    hidden_ids = [c["id"] for c in hw0.cases if c["hidden"]]
    assert not any(h in everything for h in hidden_ids)
    assert "hidden=True" not in "".join(tests.values())
    assert not re.search(r"\b(from|import) reference\b", everything)
    leaked = [ln for ln in _solution_lines(master_notebook(hw0)) if ln in everything]
    assert leaked == []
    leaked = [ln for ln in _reference_formula_lines() if ln in everything]
    assert leaked == []


def test_grader_check_runs_in_a_real_kernel_and_names_the_mistake(built, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(built.student_notebook.parent, folder)
    nb = nbformat.read(folder / "hw0.ipynb", as_version=4)
    answers = {"d_xTc": "def d_xTc(x, c):\n    return c",  # the transpose
               "d_sqnorm": "def d_sqnorm(x):\n    return 2 * x.T"}  # right
    for cell in nb.cells:
        for name, code in answers.items():
            if cell.cell_type == "code" and cell.source.startswith(f"def {name}("):
                cell.source = code
    outputs = grader_check_outputs(nb, folder)
    assert "All test cases passed" in outputs["q1b"]
    assert "the transpose" in outputs["q1a"] and "numerator layout" in outputs["q1a"]
    assert "Test case failed" in outputs["q1c"]  # a blank stub fails, with a message
