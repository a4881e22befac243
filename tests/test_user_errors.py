"""A user's mistake gets a one-line message and exit status 2; an assignment carries its own catalogue;
per-student folders hold everything ``grader.check`` needs."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import grader_check_outputs

from autograder.assignment import PROJECT_ROOT, load_assignment
from autograder.errors import UserError
from autograder.variants import student_notebooks


def _cli(*args: str, cwd=PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("args, says", [
    (["grade", "--assignment", "nosuch", "--out", "OUT", "x.ipynb"], "unknown assignment 'nosuch'"),
    (["build", "--assignment", "nosuch", "--dist", "OUT"], "unknown assignment 'nosuch'"),
    (["variant", "new", "--base", "nosuch", "--seed", "1", "--name", "nosuch-1"], "unknown assignment 'nosuch'"),
    (["grade", "--assignment", "hw0", "--out", "OUT", "--roster", "MISSING.csv", "--secret-file", "MISSING.key",
      "x.ipynb"], "cannot read the roster"),
])
def test_a_user_error_is_one_line_and_exit_2(tmp_path, args, says):
    args = [a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "missing")) for a in args]
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not (PROJECT_ROOT / "assignments" / "nosuch-1").exists()


@pytest.fixture
def tmp_root(tmp_path):
    """A copy of the project's assignments (tests never write into the repository's own)."""
    shutil.copytree(PROJECT_ROOT / "assignments" / "hw0", tmp_path / "assignments" / "hw0")
    return tmp_path


def test_a_bad_settings_key_names_the_key_and_the_file(tmp_root):
    path = tmp_root / "assignments" / "hw0" / "hw0.yaml"
    path.write_text(path.read_text() + "pionts: {q1a: 1}\n")
    with pytest.raises(UserError, match=r"hw0\.yaml: unknown setting 'pionts'"):
        load_assignment("hw0", root=tmp_root)


@pytest.mark.parametrize("content", [None, "", "[]\n"])
def test_a_missing_or_empty_catalogue_is_an_error_not_a_pass(tmp_root, content):
    path = tmp_root / "assignments" / "hw0" / "catalogue.yaml"
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with pytest.raises(UserError, match="catalogue"):
        load_assignment("hw0", root=tmp_root).catalogue()


def test_the_catalogue_lives_beside_its_assignment(hw0):
    assert hw0.catalogue_path == PROJECT_ROOT / "assignments" / "hw0" / "catalogue.yaml"
    assert {e["qid"] for e in hw0.catalogue()} >= set(hw0.question_ids)  # every question has a wrong answer


def test_a_student_folder_holds_what_grader_check_needs(tmp_path, built, hw0):
    (folder,) = [p.parent for p in student_notebooks(hw0, b"s" * 32, ["s001"], template=built.student_notebook,
                                                        out=tmp_path / "students")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in built.student_notebook.parent.iterdir())
    nb = nbformat.read(folder / "hw0.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def d_sqnorm("):
            cell.source = "def d_sqnorm(x):\n    return 2 * x.T"
    outputs = grader_check_outputs(nb, folder)
    assert "All test cases passed" in outputs["q1b"]
    assert "ModuleNotFoundError" not in "".join(outputs.values())


def test_the_build_takes_the_assignments_own_requirements(tmp_root):
    from autograder.build import requirements

    hw0 = load_assignment("hw0", root=tmp_root)
    assert requirements(hw0).splitlines() == ["numpy", "matplotlib"]
    (tmp_root / "assignments" / "hw0" / "requirements.txt").write_text("# extra\nscipy>=1.10\nnumpy\n")
    assert requirements(hw0).splitlines() == ["numpy", "matplotlib", "scipy>=1.10"]
