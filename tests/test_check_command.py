"""``autograder check`` proves an assignment before release, and fails loudly when a part does not hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from autograder.assignment import PROJECT_ROOT, list_assignments, load_assignment
from autograder.variants import self_check


@pytest.mark.parametrize("name", list_assignments())
def test_every_assignment_proves_itself_and_prints_coverage(tmp_path, name):
    """The framework runs every assignment's catalogue, correct styles and seeds (``autograder check``)."""
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "check", "--assignment", name, "--seeds", "3",
                           "--dist", str(tmp_path / "dist")], capture_output=True, text=True, timeout=900,
                          cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assignment = load_assignment(name)
    assert f"{name}: solution {assignment.max_score:g}/{assignment.max_score:g}, blank 0 -> OK" in proc.stdout
    caught = int(re.search(r"wrong-answer catalogue: (\d+) caught, each on its own question only", proc.stdout)[1])
    assert caught == len(assignment.catalogue()) >= 25
    assert "the solution on 3 seeds: every case passes" in proc.stdout
    assert "coverage: every question has a catalogue entry" in proc.stdout


@pytest.fixture
def tmp_root(tmp_path):
    shutil.copytree(PROJECT_ROOT / "assignments" / "hw0", tmp_path / "assignments" / "hw0")
    return tmp_path


def test_check_fails_on_an_uncaught_entry_a_leaky_entry_and_a_broken_style(tmp_root):
    folder = tmp_root / "assignments" / "hw0"
    catalogue = yaml.safe_load((folder / "catalogue.yaml").read_text())
    catalogue = [e for e in catalogue if e["qid"] != "q1c"]  # q1c loses its only entries: a coverage gap
    catalogue += [
        {"id": "right-after-all", "qid": "q1a", "code": "def d_xTc(x, c):\n    return c.T"},  # not a wrong answer
        {"id": "breaks-others", "qid": "q1b",  # wrong on q1b, and it breaks every later cell's NumPy
         "code": "def d_sqnorm(x):\n    return x.T\nnp = None"},
    ]
    (folder / "catalogue.yaml").write_text(yaml.safe_dump(catalogue, sort_keys=False))
    styles = yaml.safe_load((folder / "correct_styles.yaml").read_text())
    styles.append({"id": "not-right", "qid": "q1a", "code": "def d_xTc(x, c):\n    return c"})
    (folder / "correct_styles.yaml").write_text(yaml.safe_dump(styles, sort_keys=False))
    report = self_check(load_assignment("hw0", root=tmp_root), dist=tmp_root / "dist", seeds=1)
    assert not report.ok
    assert report.no_longer_wrong == ["right-after-all"]
    assert list(report.elsewhere) == ["breaks-others"] and "q1b" not in report.elsewhere["breaks-others"]
    assert report.styles_failed == ["not-right"]
    assert report.uncovered == ["q1c"]
    text = report.summary()
    assert "NOT CAUGHT" in text and "breaks-others also moved the points of" in text and "FAILED not-right" in text
    assert "no catalogue entry for q1c" in text
