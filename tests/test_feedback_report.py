"""What students and TAs read: grader.check output, feedback files, the class report and the roster gradebook."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from conftest import grader_check_outputs, hw0_cases, hw0_runtime, load_catalogue, with_function

from autograder.batch import grade_batch
from autograder.feedback import feedback_markdown, feedback_name

# --------------------------------------------------------------------------- grader.check in a real kernel

WRONG_PLOT = ("def plot_elbow_step(w, b, x, y, lr):\n"
              "    fig, ax = plt.subplots()\n"
              "    ax.plot([0, 1], [0, 1])\n"
              "    return fig")


def test_grader_check_shows_the_teaching_message_alone_and_draws_no_figure(built, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(built.student_notebook.parent, folder)
    nb = nbformat.read(folder / "hw0.ipynb", as_version=4)
    nb = with_function(nb, "def d_xTc(x, c):\n    return c")  # the transpose
    nb = with_function(nb, "import matplotlib.pyplot as plt\n" + WRONG_PLOT, replaces="plot_elbow_step")
    outputs = grader_check_outputs(nb, folder)
    q1a = outputs["q1a"]
    assert "Test case failed" in q1a and "the transpose" in q1a and "numerator layout" in q1a
    for clutter in ("Error at line", "assert passed", "AssertionError", "check_case(", "CheckFailed"):
        assert clutter not in q1a, clutter
    assert re.search(r"Test case failed\n\s*d_xTc\(x: \(3, 1\), c: \(3, 1\)\) \[public case 1\]: expected shape", q1a)
    assert "no plotted curve matches" in outputs["q4b"] and "Error at line" not in outputs["q4b"]
    q4b = next(c for c in nb.cells if c.source.strip() == 'grader.check("q4b")')
    assert [o for o in q4b.outputs if "image/png" in o.get("data", {})] == []  # the student's figure is not echoed


def test_otter_keeps_its_own_report_for_other_errors():
    """Only a failed check is reported by its message alone; an error of any other kind keeps otter's report."""
    from otter.test_files.exception_test import ExceptionTestFile

    rt = hw0_runtime()
    source = "\n".join([
        "from otter.test_files import test_case", "", "OK_FORMAT = False", "", 'name = "qx"', "points = None", "",
        "@test_case(points=1, hidden=False)", "def test_check(check_case, f, case):", "    check_case(f, case)", "",
        "@test_case(points=1, hidden=False)", "def test_other(f):", "    raise ValueError('not a check')", ""])
    case = {"id": "qx/f/public0", "qid": "qx", "func": "f", "label": "f() [public case 1]", "calls": [[]],
            "expect": {"kind": "array", "value": rt.encode_array(np.ones(3)), "alternatives": [], "rtol": 1e-6,
                       "atol": 1e-9, "hint": "", "layout_hint": ""}}
    test = ExceptionTestFile.from_string(source, path="qx.py")
    test.run({"check_case": rt.check_case, "f": lambda: 2 * np.ones(3), "case": case})
    check, other = (r.message for r in test.test_case_results)
    assert check.startswith("❌ Test case failed\nf() [public case 1]: the shape (3,) is right but the values are not")
    assert "Error at line 14 in test qx:" in other and "ValueError: not a check" in other


# --------------------------------------------------------------------------- feedback, report, roster: one class

SLOW = "def d_xTc(x, c):\n    while True:\n        pass"
Q3E_BOTH_WRONG = ["def fake_features(X, lam):\n    return np.hstack([X, np.sqrt(lam) * np.eye(X.shape[1])])",
                  "def ridge_fake_features(X, y, lam):\n    n, d = X.shape\n"
                  "    F = np.hstack([X, np.sqrt(lam) * np.eye(n)])\n    return np.linalg.pinv(F) @ y"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, built, solution_nb):
    """A class graded by `autograder grade` with a roster, feedback and the report."""
    tmp = tmp_path_factory.mktemp("class")
    folder = tmp / "submissions"
    folder.mkdir()
    shutil.copy(built.solution_notebook, folder / "s001_hw0.ipynb")
    nb = solution_nb
    for code in Q3E_BOTH_WRONG:
        nb = with_function(nb, code)
    nbformat.write(nb, folder / "s002_hw0.ipynb")
    (folder / "s003_hw0.ipynb").write_text('{"cells": [\n  {"cell_type": "code"},\n    oops\n]}')
    nbformat.write(with_function(solution_nb, SLOW), folder / "s004_hw0.ipynb")
    roster = tmp / "roster.csv"
    roster.write_text("student_id,name,section\ns001,Ada,A\ns002,Ben,B\ns003,Cy,A\ns004,Di,B\ns005,Eve Absent,A\n")
    out = tmp / "grades.csv"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
                           "--roster", str(roster), "--report", str(tmp / "report.html"), "--feedback-dir",
                           str(tmp / "fb"), "--call-timeout", "1", "--jobs", "2", "--quiet", str(folder)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp, folder


def _feedback(tmp, folder, name):
    return (tmp / "fb" / feedback_name(str(folder / name))).read_text()


def test_feedback_groups_failures_by_mistake_not_by_input(graded_class):
    tmp, folder = graded_class
    text = _feedback(tmp, folder, "s002_hw0.ipynb")
    bullets = [ln for ln in text.splitlines() if ln.startswith("- **q3e**")]
    assert len(bullets) == 2, bullets  # one per function: the sizes in the messages differ from input to input
    assert all("(2 public and 4 hidden cases)" in b for b in bullets)
    assert all("the numbers differ from case to case" in b and "[public case 1]" in b for b in bullets)
    assert not [ln for ln in text.splitlines() if "[hidden case" in ln]  # the example shown is a public input


def test_feedback_shows_points_out_of_each_questions_maximum(graded_class, hw0):
    tmp, folder = graded_class
    text = _feedback(tmp, folder, "s002_hw0.ipynb")
    assert f"| q3e | 0 / {hw0.points['q3e']:g} | 0 / 12 |" in text
    assert f"| q1a | {hw0.points['q1a']:g} / {hw0.points['q1a']:g} | 6 / 6 |" in text
    invalid = _feedback(tmp, folder, "s003_hw0.ipynb")  # no check ran: the maximum comes from the plan
    assert f"| q1a | 0 / {hw0.points['q1a']:g} | 0 / 0 |" in invalid


def test_an_invalid_notebook_is_explained_readably(graded_class, hw0):
    tmp, folder = graded_class
    rows = {r["submission"]: r for r in csv.DictReader((tmp / "grades.csv").open())}
    assert rows[str(folder / "s003_hw0.ipynb")]["status"] == "invalid-notebook"
    text = _feedback(tmp, folder, "s003_hw0.ipynb")
    assert "not a notebook: the file is not valid JSON (line 3, column 5)" in text
    assert "could not be graded" in text and "Expecting" not in text and "char " not in text


def test_roster_gradebook_keeps_the_rosters_own_columns(graded_class, hw0):
    tmp, _ = graded_class
    with open(tmp / "grades-roster.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header[:6] == ["student_id", "name", "section", "submission", "status", "score"]
    by_id = {r[0]: dict(zip(header, r)) for r in rows}
    assert (by_id["s002"]["name"], by_id["s002"]["section"], by_id["s002"]["status"]) == ("Ben", "B", "ok")
    assert (by_id["s005"]["name"], by_id["s005"]["status"], by_id["s005"]["submission"]) == ("Eve Absent", "missing", "")
    assert by_id["s001"]["score"] == f"{hw0.max_score:g}"


def test_report_has_no_empty_header_names_the_slow_function_and_lists_absent_students(graded_class):
    tmp, folder = graded_class
    page = (tmp / "report.html").read_text()
    assert "<th></th>" not in page
    summary = page.split("<h2>Summary</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<thead>" not in summary and "<td>submissions</td><td>4</td>" in summary
    trouble = page.split("<h2>Timed out, crashed or invalid</h2>", 1)[1].split("<h2>", 1)[0]
    slow = next(row for row in trouble.split("<tr>") if "s004_hw0.ipynb" in row)
    assert "<td>timeout</td>" in slow and "timed out in d_xTc" in slow
    assert "not valid JSON (line 3, column 5)" in trouble
    absent = page.split("<h2>Roster students with no graded submission</h2>", 1)[1]
    assert "<td>s005</td><td>Eve Absent</td><td>A</td><td>missing</td>" in absent
    assert "s001" not in absent and "s004" not in absent


def test_the_report_without_a_roster_has_no_roster_section(tmp_path, hw0):
    from autograder.report import report_html

    path = tmp_path / "x.ipynb"
    path.write_text("")
    results = grade_batch([path], hw0.plan, out=tmp_path / "g.csv", progress=False)
    assert results[0].message == "not a notebook: the file is empty"
    page = report_html(results, hw0.plan)
    assert "Roster students" not in page and "<th></th>" not in page
    assert "could not be graded" in feedback_markdown(results[0], hw0.plan)


# --------------------------------------------------------------------------- common slips, named

def _named(entry_id, tmp_path, hw0, solution_nb):
    entry = next(e for e in load_catalogue() if e["id"] == entry_id)
    path = tmp_path / f"{entry_id}.ipynb"
    nbformat.write(with_function(solution_nb, entry["code"]), path)
    (r,) = grade_batch([path], hw0.plan, out=tmp_path / f"{entry_id}.csv", progress=False)
    others = {q: s for q, s in r.scores.items() if q != entry["qid"]}
    assert others == {q: hw0.points[q] for q in others} and r.scores[entry["qid"]] < hw0.points[entry["qid"]]
    return [v for v in r.feedback if not v["passed"]]


def test_q3c_without_the_noise_variance_is_named(tmp_path, hw0, solution_nb):
    failed = _named("q3c-no-noise-scaling", tmp_path, hw0, solution_nb)
    assert failed and all(v["qid"] == "q3c" and "lost its 1/λ" in (v["misconception"] or "") for v in failed)


def test_ridge_by_the_normal_equations_on_a_wide_x_is_named(tmp_path, hw0, solution_nb):
    failed = _named("q3a-normal-equations", tmp_path, hw0, solution_nb)
    assert all(v["qid"] == "q3a" for v in failed)
    exact = [v for v in failed if v["misconception"] and "fits this wide X exactly" in v["misconception"]]
    assert exact, [v["message"] for v in failed]


def test_the_exact_fit_message_is_only_for_wide_x_and_never_for_the_pseudoinverse():
    rt = hw0_runtime()

    def normal_equations(X, y, lam):  # what solve(XᵀX, Xᵀy) returns on a wide X: an exact fit, not the smallest
        w = np.linalg.pinv(X) @ y
        return w + np.linalg.svd(X)[2][-1:].T if X.shape[0] < X.shape[1] else w

    def pinv(X, y, lam):
        return np.linalg.pinv(X) @ y

    seen = 0
    for seed in range(6):
        for case in (c for c in hw0_cases(seed) if c["func"] == "ridge"):
            X, y, lam = rt.decode_args(case["calls"][0])
            says = rt.run_case(normal_equations, case)[1]  # on a tall X it is the pseudoinverse's solution
            wide = X.shape[0] < X.shape[1]
            assert ("fits this wide X exactly" in says) == wide and ("pseudoinverse" in says) != wide
            assert "pseudoinverse" in rt.run_case(pinv, case)[1]
            seen += wide
    assert seen >= 6


def test_a_generated_check_of_a_numeric_answer_reads_the_variable(monkeypatch, hw0):
    """A numeric sub-question's check cell judges the notebook's variable instead of calling it."""
    from autograder.build import test_cell_source
    from autograder.checks import cases_for

    checks = [c for c in hw0.module.CHECKS if c.variable]
    case = {**next(c for c in cases_for(checks, 1, hw0.conventions, rt=hw0.runtime) if c["hidden"]), "points": 1}
    monkeypatch.setitem(sys.modules, "dlmath_check", hw0.runtime)
    namespace: dict = {}
    exec(test_cell_source(case), namespace)  # the cell's config block is a bare string: the rest is the test
    (test,) = [f for name, f in namespace.items() if name.startswith("test_")]
    test(case["expect"]["value"])  # the right number passes
    with pytest.raises(AssertionError, match=r"\[hidden case 1\]: the value is wrong"):
        test(case["expect"]["value"] + 1.0)
