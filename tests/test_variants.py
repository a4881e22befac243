"""Variants: new seeds, knobs, and one variant per student from a course secret."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import Project, hw0_cases, hw0_checks, hw0_runtime

from autograder.assignment import PROJECT_ROOT, load_assignment
from autograder.batch import grade_paths
from autograder.variants import SecretVariants, new_variant, self_check, student_assignment, student_notebooks
from reference.hw0.conventions import Conventions

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships

SECRET = b"course-secret-for-tests-0123456789"


@pytest.fixture
def tmp_root(tmp_path):
    """A project root holding a copy of hw0, where variants can be written freely."""
    shutil.copytree(PROJECT_ROOT / "assignments" / "hw0", tmp_path / "assignments" / "hw0")
    return tmp_path


def test_two_seeds_give_different_numbers_and_both_self_check(tmp_root):
    reports, cases = [], []
    for seed in (2027, 2028):
        new_variant(base="hw0", name=f"hw0-{seed}", seed=seed, root=tmp_root)
        variant = load_assignment(f"hw0-{seed}", root=tmp_root)
        cases.append([c["calls"] for c in variant.cases if c["hidden"]])
        reports.append(self_check(variant, dist=tmp_root / "dist"))
    assert cases[0] != cases[1]
    for report in reports:
        assert report.ok, report.summary()
        assert report.no_longer_wrong == [] and len(report.caught) >= 40


def test_denominator_layout_rejects_numerator_rows():
    conv = Conventions(layout="denominator")
    checks = [c for c in hw0_checks() if c.func in ("d_xTc", "d_sqnorm", "d_xTAx")]
    answers = {"d_xTc": lambda x, c: c.T, "d_sqnorm": lambda x: 2 * x.T, "d_xTAx": lambda A, x: x.T @ (A + A.T)}
    for case in hw0_cases(7, conv, checks=checks):
        passed, message = runtime.run_case(answers[case["func"]], case)
        assert not passed
        assert "denominator layout" in message and "the transpose" in message
    right = {"d_xTc": lambda x, c: c, "d_sqnorm": lambda x: 2 * x, "d_xTAx": lambda A, x: (A + A.T) @ x}
    assert all(runtime.run_case(right[c["func"]], c)[0] for c in hw0_cases(7, conv, checks=checks))


def test_per_student_variants_flag_copies_and_edited_metadata(tmp_path, built, hw0):
    a, b = student_assignment(hw0, SECRET, "s1"), student_assignment(hw0, SECRET, "s2")
    assert a.plan.fingerprint != b.plan.fingerprint
    assert [c["calls"] for c in a.cases if c["hidden"]] != [c["calls"] for c in b.cases if c["hidden"]]
    assert [c["calls"] for c in a.cases if not c["hidden"]] == [c["calls"] for c in hw0.cases if not c["hidden"]]
    # solved notebooks made for s1 and s2 (the solution notebook as template: every answer filled in)
    s1, s2 = student_notebooks(hw0, SECRET, ["s1", "s2"], template=built.solution_notebook, out=tmp_path / "made")
    meta = nbformat.read(s1, as_version=4).metadata["dlmath"]
    assert meta["student_id"] == "s1" and len(meta["variant"]) == 16
    handed = tmp_path / "handed"
    handed.mkdir()
    shutil.copy(s1, handed / "s1_hw0.ipynb")
    shutil.copy(s1, handed / "s2_hw0.ipynb")  # s2 hands in s1's notebook
    forged = nbformat.read(s2, as_version=4)
    forged.metadata["dlmath"]["variant"] = "0" * 16
    nbformat.write(forged, handed / "s3_hw0.ipynb")
    owners = {str(handed / "s1_hw0.ipynb"): "s1", str(handed / "s2_hw0.ipynb"): "s2"}
    variants = SecretVariants(hw0, SECRET, owners)
    paths = sorted(handed.iterdir())
    plans = {str(p): variants.plan_for(p) for p in paths}
    assert plans[str(handed / "s1_hw0.ipynb")][1] == []
    assert any("made for 's1'" in f for f in plans[str(handed / "s2_hw0.ipynb")][1])
    assert any("does not match" in f for f in plans[str(handed / "s3_hw0.ipynb")][1])
    # graded against each owner's own variant: correct code earns full marks in every variant
    results = {r.submission: r for r in _grade_with(paths, hw0, variants)}
    assert results[str(handed / "s1_hw0.ipynb")].score == hw0.max_score
    assert results[str(handed / "s1_hw0.ipynb")].flags == []
    assert results[str(handed / "s2_hw0.ipynb")].flags
    # without the secret nothing matches
    assert SecretVariants(hw0, b"another-secret-of-enough-bytes").plan_for(handed / "s1_hw0.ipynb")[1]


def _grade_with(paths, hw0, variants):
    from autograder.batch import grade_batch

    out = paths[0].parent.parent / "grades.csv"
    return grade_batch(paths, hw0.plan, out=out, plan_for=variants.plan_for, progress=False)


def test_variant_new_then_build_then_grade_end_to_end(tmp_path):
    project = Project(tmp_path / "project", ("hw0",))  # never the repository's own assignments/ or dist/
    name = "hw0-e2e-2027"
    made = project.cli("variant", "new", "--base", "hw0", "--seed", "2027", "--name", name)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "-> OK" in made.stdout
    assert project.cli("build", "--assignment", name).returncode == 0
    dist = project.root / "dist" / name
    out = tmp_path / "grades.csv"
    graded = project.cli("grade", "--assignment", name, "--out", out, "--quiet",
                         dist / "autograder" / f"{name}.ipynb", dist / "student" / f"{name}.ipynb")
    assert graded.returncode == 0, graded.stderr
    rows = list(csv.DictReader(out.open()))
    variant = load_assignment(name, root=project.root)
    assert [float(r["score"]) for r in rows] == [variant.max_score, 0.0]
    assert json.loads(variant.plan.to_json())["name"] == name


def test_grade_paths_on_a_variant_uses_its_own_cases(tmp_root, built, hw0):
    new_variant(base="hw0", name="hw0-2030", seed=2030, root=tmp_root)
    variant = load_assignment("hw0-2030", root=tmp_root)
    assert variant.plan.fingerprint != hw0.plan.fingerprint
    (r,) = grade_paths([built.solution_notebook], variant.plan)
    assert r.score == variant.max_score
    assert dataclasses.replace(variant, seed=hw0.seed).plan.fingerprint != hw0.plan.fingerprint  # name differs


# Wrong answers of the catalogue that a variant's conventions make right, with the knobs they need.
FLIPS = {
    "q1a-transpose": {"layout": "denominator"},
    "q1b-column": {"layout": "denominator"},
    "q1c-denominator": {"layout": "denominator"},
    "q1d-column": {"layout": "denominator"},
    "q1f-transposed": {"layout": "denominator"},
    "q4a-dphi-factor-2": {"loss_factor": 1.0},
    "q4a-dw-relu-prime-zero-is-one": {"relu_grad_at_zero": 1, "loss_factor": 0.5, "activation": "relu"},
    "q4b-step-relu-prime-one": {"relu_grad_at_zero": 1, "loss_factor": 0.5, "activation": "relu"},
    "q4d-relu-prime-one": {"relu_grad_at_zero": 1, "loss_factor": 0.5, "activation": "relu"},
    "q4e-slope-one-at-zero": {"relu_grad_at_zero": 1, "loss_factor": 0.5},
}
KNOBS = [dict(zip(("layout", "loss_factor", "relu_grad_at_zero", "activation"), combo))
         for combo in itertools.product(["numerator", "denominator"], [0.5, 1.0], [0, 1], ["relu", "leaky"])]


@pytest.mark.parametrize("knobs", KNOBS, ids=lambda k: "-".join(map(str, k.values())))
def test_every_knob_combination_builds_and_self_checks(tmp_root, knobs):
    name = "hw0-knobs"
    new_variant(base="hw0", name=name, seed=2031, knobs={**knobs, "alpha": 0.1}, root=tmp_root)
    report = self_check(load_assignment(name, root=tmp_root), dist=tmp_root / "dist")
    assert report.ok, report.summary()
    expected = {entry for entry, need in FLIPS.items() if all(knobs[k] == v for k, v in need.items())}
    assert set(report.no_longer_wrong) == expected, report.summary()
    assert len(report.caught) >= 40


def test_per_student_numeric_question(tmp_root, hw0):
    from autograder.build import build
    from reference.hw0.relu_elbow import elbow_after_step

    new_variant(base="hw0", name="hw0-num", seed=2040, include=hw0.question_ids + ["q4n"], root=tmp_root)
    variant = load_assignment("hw0-num", root=tmp_root)
    out = build(variant, dist=tmp_root / "dist")
    made = student_notebooks(variant, SECRET, ["s1", "s2"], template=out.student_notebook, out=tmp_root / "made")
    numbers = {sid: student_assignment(variant, SECRET, sid).numbers for sid in ("s1", "s2")}
    assert numbers["s1"] != numbers["s2"]
    # a public check of the form only, worth nothing; the student's own hidden case carries the point
    assert [(c["hidden"], c["points"]) for c in variant.cases if c["qid"] == "q4n"] == [(False, 0.0), (True, 1.0)]
    for sid, path in zip(("s1", "s2"), made):
        statement = next(c.source for c in nbformat.read(path, as_version=4).cells
                         if c.cell_type == "markdown" and "elbow_after_example" in c.source)
        assert all(f"{v}" in statement for v in numbers[sid].values()), (sid, numbers[sid])
    # s1 solves their own notebook: the solution's functions, and the number for s1's data
    solved = nbformat.read(made[0], as_version=4)
    solution_cells = {c.source.split("(")[0]: c.source for c in nbformat.read(out.solution_notebook, as_version=4).cells
                      if c.cell_type == "code" and c.source.startswith("def ")}
    for cell in solved.cells:
        head = cell.source.split("(")[0]
        if cell.cell_type == "code" and head in solution_cells:
            cell.source = solution_cells[head]
        elif cell.cell_type == "code" and cell.source.lstrip().startswith("elbow_after_example"):
            cell.source = f"elbow_after_example = {elbow_after_step(**numbers['s1'])!r}"
    handed = tmp_root / "handed"
    handed.mkdir()
    for sid in ("s1", "s2"):  # s2 hands in s1's work
        nbformat.write(solved, handed / f"{sid}_hw0-num.ipynb")
    owners = {str(handed / f"{sid}_hw0-num.ipynb"): sid for sid in ("s1", "s2")}
    results = {Path(r.submission).name: r for r in _grade_with(sorted(handed.iterdir()), variant,
                                                                  SecretVariants(variant, SECRET, owners))}
    own, copied = results["s1_hw0-num.ipynb"], results["s2_hw0-num.ipynb"]
    assert own.score == variant.max_score and own.flags == []
    assert copied.scores["q4n"] == 0 and copied.flags
