"""The framework knows no assignment: a new one is a folder (``autograder new``), its knobs are
declared and checked, its judges ship with it, and the whole per-student path works from the
command line.  Every command here runs on a copy of the project, never on the repository's own
``assignments/`` or ``dist/``."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from conftest import grader_check_outputs

from autograder import runtime
from autograder.assignment import PROJECT_ROOT
from autograder.checks import Check, alt, expect_array
from autograder.errors import UserError
from autograder.support import support_source

# Names of the assignments, their question ids and their topics: none may appear in the core.
BANNED = re.compile(r"\bhw\d+\b|\bq\d+[a-z]+\b|relu|ridge|elbow|softmax|momentum|backprop|numerator|denominator"
                    r"|leaky|posterior|sin_map|polyak", re.IGNORECASE)
SECRET = "course-secret-for-tests-0123456789"


def test_the_core_names_no_assignment_question_or_topic():
    found = []
    for path in sorted((PROJECT_ROOT / "autograder").rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or "templates" in path.parts:
            continue  # the scaffold's template is example content, written into a new assignment
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if BANNED.search(line):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{n}: {line.strip()}")
    assert found == []


def _scores(path: Path) -> list[float]:
    return [float(r["score"]) for r in csv.DictReader(path.open())]


def test_new_assignment_builds_checks_and_grades_without_touching_the_core(project):
    core = project.digest("autograder")
    made = project.cli("new", "demo1")
    assert made.returncode == 0, made.stderr
    assert (project.root / "reference" / "demo1" / "example.py").exists()
    checked = project.cli("check", "--assignment", "demo1", "--seeds", "5", "--dist", project.root / "dist")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "-> OK" in checked.stdout and "2 caught, each on its own question only" in checked.stdout
    built = project.cli("build", "--assignment", "demo1", "--dist", project.root / "dist")
    assert built.returncode == 0, built.stderr
    dist = project.root / "dist" / "demo1"
    out = project.root / "grades.csv"
    graded = project.cli("grade", "--assignment", "demo1", "--out", out, "--quiet",
                         dist / "autograder" / "demo1.ipynb", dist / "student" / "demo1.ipynb")
    assert graded.returncode == 0, graded.stderr
    assert _scores(out) == [2.0, 0.0]
    assert project.digest("autograder") == core  # `git diff -- autograder/` would be empty
    # a second `new` of the same name, and a name that cannot be a package, are user errors
    for name, says in (("demo1", "exists already"), ("Demo-1", "lower-case letters")):
        again = project.cli("new", name)
        assert again.returncode == 2 and says in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize("setting, says", [
    ("nosuch=1", "unknown knob 'nosuch' (known: scale)"),
    ("scale=3", "knob 'scale' cannot be '3' (allowed: 1.0, 2.0)"),
    ("scale=big", "knob 'scale' takes a float, not 'big'"),
    ("scale", "expected KEY=VALUE"),
])
def test_a_knob_outside_the_declaration_is_a_message_and_writes_nothing(project, setting, says):
    assert project.cli("new", "demo1").returncode == 0
    proc = project.cli("variant", "new", "--base", "demo1", "--seed", "3", "--set", setting)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert not (project.root / "assignments" / "demo1-3").exists()


def test_numeric_subquestions_come_from_the_assignments_declaration(project):
    assert project.cli("new", "demo1").returncode == 0
    proc = project.cli("variant", "new", "--base", "demo1", "--seed", "3", "--numeric")
    assert proc.returncode == 2 and "demo1 declares no numeric sub-question" in proc.stderr


def test_a_variant_is_checked_and_a_failing_one_is_removed_unless_kept(project):
    assert project.cli("new", "demo1").returncode == 0
    good = project.cli("variant", "new", "--base", "demo1", "--seed", "3", "--set", "scale=2.0")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "demo1-3: solution 2/2, blank 0 -> OK" in good.stdout
    written = yaml.safe_load((project.root / "assignments" / "demo1-3" / "demo1-3.yaml").read_text())
    assert written == {"base": "demo1", "seed": 3, "set": {"scale": 2.0}}
    # a master whose solution ignores the knob: right by default, wrong under scale = 2
    master = project.root / "assignments" / "demo1" / "master" / "1-example.md"
    master.write_text(master.read_text().replace("return <<conv.scale>> * s * (1.0 - s)", "return s * (1.0 - s)")
                      .replace("<<conv.scale>> * numeric", "numeric"))
    for keep in (False, True):
        bad = project.cli("variant", "new", "--base", "demo1", "--seed", "4", "--set", "scale=2.0",
                          *(["--keep"] if keep else []))
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "demo1-4: solution 0/2" in bad.stdout and "FAILED" in bad.stdout
        assert (project.root / "assignments" / "demo1-4").exists() == keep
        assert ("removed" in bad.stdout) != keep


def test_a_master_that_fails_to_build_is_reported_not_a_traceback(project):
    assert project.cli("new", "demo1").returncode == 0
    master = project.root / "assignments" / "demo1" / "master" / "1-example.md"
    master.write_text(master.read_text().replace("assert np.allclose(", "assert not np.allclose("))
    proc = project.cli("check", "--assignment", "demo1", "--seeds", "0", "--dist", project.root / "dist")
    assert proc.returncode == 1 and "a cell of the master failed" in proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in proc.stderr
    bad = project.cli("variant", "new", "--base", "demo1", "--seed", "5")
    assert bad.returncode == 1 and not (project.root / "assignments" / "demo1-5").exists()


def test_per_student_notebooks_then_grading_with_the_secret_and_roster_flags_copies(project, tmp_path):
    assert project.cli("new", "demo1").returncode == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\ns1,Ada\ns2,Bo\ns3,Cy\ns4,Di\n")
    secret = tmp_path / "course.key"
    secret.write_text(SECRET)
    made = project.cli("variant", "students", "--assignment", "demo1", "--roster", roster, "--secret-file", secret,
                       "--out", tmp_path / "made", "--dist", project.root / "dist")
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "made" / "s1"
    assert sorted(p.name for p in folder.iterdir()) == ["demo1.ipynb", "dlmath_check.py", "dlmath_export.py"]
    # s1 answers in their own folder, with grader.check in a real kernel
    nb = nbformat.read(folder / "demo1.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def sigmoid_grad("))
    cell.source = "def sigmoid_grad(z):\n    s = 1 / (1 + np.exp(-z))\n    return s * (1 - s)"
    nbformat.write(nb, folder / "demo1.ipynb")
    outputs = grader_check_outputs(nb, folder)
    assert any("q1a" in text and "passed" in text for text in outputs.values()), outputs
    handed = tmp_path / "handed"
    handed.mkdir()
    shutil.copy(folder / "demo1.ipynb", handed / "s1_demo1.ipynb")
    shutil.copy(folder / "demo1.ipynb", handed / "s2_demo1.ipynb")  # s2 hands in s1's notebook
    forged = nbformat.read(tmp_path / "made" / "s3" / "demo1.ipynb", as_version=4)
    forged.metadata["dlmath"]["variant"] = "0" * 16  # s3 edits the variant tag
    nbformat.write(forged, handed / "s3_demo1.ipynb")
    out, report = tmp_path / "grades.csv", tmp_path / "report.html"
    graded = project.cli("grade", "--assignment", "demo1", "--out", out, "--secret-file", secret, "--roster", roster,
                         "--report", report, handed)
    assert graded.returncode == 0, graded.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades-roster.csv").open())}
    assert rows["s1"]["score"] == "2" and rows["s1"]["flags"] == ""
    assert "made for 's1'" in rows["s2"]["flags"] and "copied" in rows["s2"]["flags"]
    assert "does not match" in rows["s3"]["flags"]
    assert rows["s4"]["status"] == "missing"
    assert "made for" in report.read_text() and "does not match" in report.read_text()
    assert graded.stdout.count("FLAG:") == 2 and "copied from another student?" in graded.stdout


def test_an_assignments_judges_ship_in_its_support_file_and_may_import_only_safe_modules(tmp_path):
    judges = tmp_path / "judges.py"
    judges.write_text("from __future__ import annotations\n\nimport numpy as np\n\n"
                      "from autograder.runtime import as_array, judge\n\n\n"
                      "@judge('positive')\ndef _positive(out, expect):\n"
                      "    got = as_array(out)\n"
                      "    ok = got is not None and bool(np.all(got > 0))\n"
                      "    return ok, 'passed.' if ok else 'every entry must be positive.'\n")
    text = support_source(judges)
    assert "autograder" not in text.split("The assignment's own judges")[1].replace("judges.py", "")
    namespace: dict = {}
    exec(compile(text, "dlmath_check.py", "exec"), namespace)  # what a student's kernel does on import
    case = {"label": "f(x)", "func": "f", "calls": [[]], "expect": {"kind": "positive"}}
    assert namespace["run_case"](lambda: np.ones(3), case) == (True, "f(x): passed.")
    assert namespace["run_case"](lambda: -np.ones(3), case)[1] == "f(x): every entry must be positive."
    judges.write_text("import os\nfrom reference.hw0 import calculus\n")
    with pytest.raises(UserError, match="may import only"):
        support_source(judges)


def test_a_known_wrong_answer_may_have_any_shape():
    def draw(rng, index):
        return [[rng.normal(size=(4, 4))]]

    def expect(A, calls, conv):
        return expect_array(A + A.T, alt(np.diag(A + A.T), "you returned the diagonal, as a vector."))

    case = Check("x1", "sym", ("A",), draw, expect).case(1, 0, hidden=False)
    A = runtime.decode_args(case["calls"][0])[0]
    assert runtime.run_case(lambda A: A + A.T, case)[0]
    assert runtime.run_case(lambda A: np.diag(A + A.T), case)[1].endswith("you returned the diagonal, as a vector.")
    assert "expected shape (4, 4)" in runtime.run_case(lambda A: A[:2], case)[1]
    assert A.shape == (4, 4)


def test_integer_array_arguments_reach_the_student_as_integers():
    def draw(rng, index):
        return [[np.array([2, 0, 1])]]

    def expect(labels, calls, conv):
        return expect_array(np.eye(3)[labels])

    case = Check("x1", "one_hot", ("Y",), draw, expect).case(1, 0, hidden=False)
    assert runtime.run_case(lambda Y: np.eye(3)[Y], case) == (True, f"{case['label']}: passed.")
