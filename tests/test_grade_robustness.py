"""Bad input gets a row, a clear status and loses nothing else."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile

import nbformat
import pytest
from conftest import with_function

from autograder.batch import grade_paths
from autograder.grade import Limits, grade_submission
from autograder.sandbox import make_sandbox


def _write(tmp_path, name, nb):
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_corrupt_json_is_invalid_notebook(tmp_path, hw0):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    r = grade_submission(path, hw0.plan)
    assert (r.status, r.score) == ("invalid-notebook", 0)
    assert "not valid JSON" in r.message


def test_non_python_kernel_is_invalid_notebook(tmp_path, hw0, solution_nb):
    nb = nbformat.from_dict(solution_nb)
    nb.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    r = grade_submission(_write(tmp_path, "r.ipynb", nb), hw0.plan)
    assert r.status == "invalid-notebook" and "R" in r.message


def test_missing_function_and_exception_cost_only_their_question(tmp_path, hw0, solution_nb):
    nb = with_function(solution_nb, "def d_xTc_renamed(x, c):\n    return c.T", replaces="d_xTc")
    nb = with_function(nb, "def d_sqnorm(x):\n    raise ValueError('not done yet')")
    r = grade_submission(_write(tmp_path, "partial.ipynb", nb), hw0.plan)
    assert r.status == "ok"
    assert r.scores["q1a"] == 0 and r.scores["q1b"] == 0
    assert r.score == hw0.max_score - hw0.points["q1a"] - hw0.points["q1b"]
    messages = " ".join(v["message"] for v in r.feedback if not v["passed"])
    assert "no function named `d_xTc`" in messages and "raised ValueError: not done yet" in messages


def test_infinite_loop_in_one_function(tmp_path, hw0, solution_nb):
    nb = with_function(solution_nb, "def ridge(X, y, lam):\n    while True:\n        pass")
    r = grade_submission(_write(tmp_path, "loop.ipynb", nb), hw0.plan, limits=Limits(call_seconds=0.5))
    assert r.status == "timeout"
    assert r.scores["q3a"] == 0
    assert r.score == hw0.max_score - hw0.points["q3a"]


def test_os_exit_is_kernel_died_with_a_row(tmp_path, hw0, solution_nb):
    nb = with_function(solution_nb, "def d_Ax(A, x):\n    import os\n    os._exit(3)")
    r = grade_submission(_write(tmp_path, "exit.ipynb", nb), hw0.plan)
    assert r.status == "kernel-died"
    assert r.scores["q1a"] == hw0.points["q1a"]  # checks that ran before the crash are kept
    assert r.scores["q1c"] == 0


def test_sys_exit_in_a_cell_is_ignored_like_ipython(tmp_path, hw0, solution_nb):
    nb = nbformat.from_dict(solution_nb)
    nb.cells.insert(3, nbformat.v4.new_code_cell("import sys\nsys.exit()"))
    r = grade_submission(_write(tmp_path, "sysexit.ipynb", nb), hw0.plan)
    assert (r.status, r.score) == ("ok", hw0.max_score)


def test_otter_export_zip_is_graded_like_its_notebook(tmp_path, hw0, solution_nb):
    path = tmp_path / "hw0_2026_export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hw0.ipynb", nbformat.writes(solution_nb))
        zf.writestr("dlmath_check.py", "# a student's copy is ignored\n")
    r = grade_submission(path, hw0.plan)
    assert (r.status, r.score) == ("ok", hw0.max_score)


def test_cli_writes_one_row_per_submission(tmp_path, built, hw0):
    broken = tmp_path / "in" / "broken.ipynb"
    broken.parent.mkdir()
    broken.write_text("not json")
    out = tmp_path / "grades.csv"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--assignment", "hw0", "--out", str(out),
                           "--feedback-dir", str(tmp_path / "fb"), str(built.solution_notebook),
                           str(built.student_notebook), str(broken.parent)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:4] == ["submission", "status", "score", "max_score"]
    assert list(rows[0])[4:] == hw0.question_ids
    by_status = {(r["status"], float(r["score"])) for r in rows}
    assert by_status == {("ok", hw0.max_score), ("ok", 0.0), ("invalid-notebook", 0.0)}
    assert len(list((tmp_path / "fb").glob("*.md"))) == 3


@pytest.mark.parametrize("jobs", [1, 2])
def test_regrading_gives_the_same_scores(tmp_path, hw0, built, jobs):
    paths = [built.solution_notebook, built.student_notebook]
    first = [r.scores for r in grade_paths(paths, hw0.plan, jobs=jobs)]
    assert first == [r.scores for r in grade_paths(paths, hw0.plan, jobs=jobs)]


def test_feedback_never_shows_expected_values(tmp_path, hw0, solution_nb):
    nb = with_function(solution_nb, "def ridge(X, y, lam):\n    return np.zeros((X.shape[1], 1)) + 0.123")
    r = grade_submission(_write(tmp_path, "fb.ipynb", nb), hw0.plan)
    text = json.dumps([v["message"] for v in r.feedback])
    for case in hw0.cases:
        if case["qid"] == "q3a":
            for value in case["expect"]["value"]["data"][:3]:
                assert repr(value)[:8] not in text


def test_memory_bomb_in_a_function_and_in_a_cell(tmp_path, hw0, solution_nb):
    nb = with_function(solution_nb, "def d_xTc(x, c):\n    big = np.ones((10**6, 10**5))\n    return c.T")
    nb.cells.insert(3, nbformat.v4.new_code_cell("hog = bytearray(10**11)"))
    r = grade_submission(_write(tmp_path, "bomb.ipynb", nb), hw0.plan)
    assert r.status == "ok"
    assert r.scores["q1a"] == 0 and r.score == hw0.max_score - hw0.points["q1a"]
    assert "MemoryError" in r.message
    assert any("MemoryError" in v["message"] for v in r.feedback if v["qid"] == "q1a")


def test_gigantic_output_is_dropped(tmp_path, hw0, solution_nb):
    nb = nbformat.from_dict(solution_nb)
    nb.cells.insert(3, nbformat.v4.new_code_cell("print('x' * 10**8)\nfor i in range(200000):\n    print(i, 'spam')"))
    nb = with_function(nb, "def ridge(X, y, lam):\n    print('y' * 10**7)\n    return np.zeros((3000, 3000))")
    r = grade_submission(_write(tmp_path, "loud.ipynb", nb), hw0.plan)
    assert r.status == "ok"
    assert r.score == hw0.max_score - hw0.points["q3a"]
    assert any("far larger than asked" in v["message"] for v in r.feedback if v["qid"] == "q3a")


@pytest.mark.parametrize("mode", ["none", "bwrap"])
def test_a_child_that_kills_its_worker(tmp_path, hw0, solution_nb, built, mode):
    """Unsandboxed, the worker dies and is replaced; sandboxed (another uid), the kill is refused."""
    nb = with_function(solution_nb, "def d_Ax(A, x):\n    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)")
    paths = [_write(tmp_path, "killer.ipynb", nb), built.solution_notebook, built.student_notebook]
    results = grade_paths(paths, hw0.plan, jobs=1, sandbox=make_sandbox(mode))
    assert [r.status for r in results] == ["kernel-died" if mode == "none" else "ok", "ok", "ok"]
    assert results[0].scores["q1c"] == 0
    assert [r.score for r in results[1:]] == [hw0.max_score, 0]
