"""The autograder zip's run_autograder, in a simulated Gradescope layout on this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from conftest import with_function


def _gradescope(tmp_path, built, notebook_nb=None, *, name="hw0.ipynb", raw=None):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    with zipfile.ZipFile(built.autograder_zip) as zf:
        zf.extractall(root / "source")
    if raw is not None:
        (root / "submission" / name).write_text(raw)
    else:
        nbformat.write(notebook_nb, root / "submission" / name)
    script = root / "source" / "run_autograder"
    shutil.copy(script, root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "DLMATH_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _by_name(results):
    return {t["name"]: t for t in results["tests"]}


def test_zip_carries_the_grader_but_not_the_reference(built):
    with zipfile.ZipFile(built.autograder_zip) as zf:
        names = zf.namelist()
        assert "dlmath/plan.json" in names and "dlmath/autograder/untrusted.py" in names
        assert not any(n.startswith(("reference/", "dlmath/reference")) for n in names)
        assert not any("checks/" in n for n in names if n.startswith("dlmath/"))
        assert "autograder.gradescope" in zf.read("run_autograder").decode()


def test_correct_submission(tmp_path, built, solution_nb, hw0):
    results = _gradescope(tmp_path, built, solution_nb)
    assert results["score"] == hw0.max_score
    tests = _by_name(results)
    assert all(tests[q]["score"] == hw0.points[q] for q in hw0.question_ids)
    assert tests["Public checks"]["visibility"] == "visible"
    assert all(tests[q]["visibility"] == "after_published" for q in hw0.question_ids)


def test_wrong_submission(tmp_path, built, solution_nb, hw0):
    nb = with_function(solution_nb, "def d_xTAx(A, x):\n    return 2 * x.T @ A")
    results = _gradescope(tmp_path, built, nb)
    tests = _by_name(results)
    assert tests["q1d"]["score"] == 0 and results["score"] == hw0.max_score - hw0.points["q1d"]
    assert "symmetric" in tests["q1d"]["output"]
    visible = tests["Public checks"]["output"]
    for case in hw0.cases:  # nothing of the hidden cases in what students see now
        if case["hidden"]:
            assert case["id"] not in visible


@pytest.mark.parametrize("kind", ["crash", "corrupt"])
def test_crashing_or_corrupt_submission(tmp_path, built, solution_nb, hw0, kind):
    if kind == "crash":
        nb = with_function(solution_nb, "def d_Ax(A, x):\n    import os\n    os._exit(1)")
        results = _gradescope(tmp_path, built, nb)
        status = "kernel-died"
    else:
        results = _gradescope(tmp_path, built, raw="{ broken")
        status = "invalid-notebook"
    tests = _by_name(results)
    assert status in tests["Grading status"]["output"]
    assert results["score"] < hw0.max_score
    assert set(hw0.question_ids) <= set(tests)
