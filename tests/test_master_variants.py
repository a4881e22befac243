"""The master follows a variant's conventions: under every combination of the knobs its solutions pass
the checks, its illustration cells (whose asserts are the claims of the written solutions) run, and the
numeric sub-question 4(n) appears exactly when a variant includes it."""

from __future__ import annotations

import dataclasses
import itertools
import re
from concurrent.futures import ThreadPoolExecutor

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from conftest import hw0_runtime  # noqa: E402

from autograder.assignment import load_assignment  # noqa: E402
from autograder.build import build, execute_master, master_notebook, read_master, render_master_text  # noqa: E402
from autograder.solutions import render_markdown  # noqa: E402

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships
KNOBS = ("layout", "loss_factor", "relu_grad_at_zero", "activation")
COMBOS = [dict(zip(KNOBS, values)) for values in itertools.product(
    ("numerator", "denominator"), (0.5, 1.0), (0, 1), ("relu", "leaky"))]


def _label(knobs: dict) -> str:
    return "-".join(str(v) for v in knobs.values())


def variant(knobs: dict | None = None, *, q4n: bool = False):
    hw0 = load_assignment("hw0")
    a = dataclasses.replace(hw0, knob_values={**hw0.knob_values, **(knobs or {}), "alpha": 0.1})
    if q4n:
        a = dataclasses.replace(a, include=[*a.question_ids, "q4n"])
    return a


_MARKER = re.compile(r"^\s*# (BEGIN SOLUTION( NO PROMPT)?|END SOLUTION)\s*$")
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


def failures(assignment, ns: dict) -> list[str]:
    failed = []
    for case in assignment.cases:
        passed, feedback = runtime.run_case(ns.get(case["func"]), case)
        plt.close("all")
        if not passed:
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


def _question_names(nb) -> list[str]:
    return [yaml.safe_load(c.source)["name"] for c in nb.cells
            if c.cell_type == "raw" and c.source.lstrip().startswith("# BEGIN QUESTION")]


@pytest.mark.parametrize("knobs", [COMBOS[0], COMBOS[-1]], ids=_label)
def test_numeric_subquestion_appears_when_included_prints_its_numbers_exactly_and_its_solution_passes(knobs):
    assignment = variant(knobs, q4n=True)
    numbers = assignment.numbers
    assert numbers is not None and "q4n" in assignment.question_ids
    text = render_master_text(assignment)
    for key, value in numbers.items():
        symbol = r"\mathrm{lr}" if key == "lr" else key
        assert f"${symbol} = {value!r}$" in text, key
    nb = master_notebook(assignment)
    names = _question_names(nb)
    assert names.index("q4b_written") < names.index("q4n") < names.index("q4c")
    ns = solution_namespace(nb)
    assert isinstance(ns["elbow_after_example"], float)
    assert failures(assignment, ns) == []
    assert any(c["qid"] == "q4n" for c in assignment.cases)


@pytest.mark.parametrize("knobs", COMBOS, ids=_label)
def test_rendered_master_is_well_formed(knobs):
    assignment = variant(knobs, q4n=True)
    text = render_master_text(assignment)
    assert not re.search(r"<%|%>|<<|>>|<#|#>", text)  # no Jinja left over
    nb = read_master(assignment)
    doubled = [c.source[:60] for c in nb.cells if c.cell_type == "markdown" and "\n\n\n" in c.source]
    assert doubled == []  # no blank line doubled by a template tag
    glued = []  # ... and none eaten: paragraphs and display maths stand apart
    for cell in nb.cells:
        lines = cell.source.split("\n") if cell.cell_type == "markdown" else []
        for before, line in zip(lines, lines[1:]):
            if before.strip() and re.match(r"\*\*(Shape|Derivation|Interpretation)\.\*\*|\$\$", line):
                glued.append(line[:60])
            if re.fullmatch(r"\$\$.*\$\$", before) and line.strip():
                glued.append(before[-60:])
    assert glued == []
    depth = {"QUESTION": 0, "SOLUTION": 0, "TESTS": 0}
    for cell in nb.cells:
        m = re.match(r"# (BEGIN|END) (QUESTION|SOLUTION|TESTS)\b", cell.source.lstrip())
        if cell.cell_type == "raw" and m:
            depth[m.group(2)] += 1 if m.group(1) == "BEGIN" else -1
            assert 0 <= depth[m.group(2)] <= 1, (m.group(0), cell.source[:80])
    assert depth == {"QUESTION": 0, "SOLUTION": 0, "TESTS": 0}
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for func in {case["func"] for case in assignment.cases}:
        defined = [s for s in code if s.startswith(f"def {func}(")]
        assert len(defined) == 1 or func == "elbow_after_example", func
    for source in code:  # every cell is valid Python (IPython magics aside)
        compile(source, "<cell>", "exec")


# between them, these four take every branch of the template's conditions
BRANCHES = [COMBOS[0], COMBOS[-1], dict(COMBOS[0], loss_factor=1.0, relu_grad_at_zero=1),
            dict(COMBOS[-1], loss_factor=0.5, relu_grad_at_zero=0)]


@pytest.mark.parametrize("knobs", BRANCHES, ids=_label)
def test_written_solutions_typeset_on_the_solutions_page(knobs):
    for cell in read_master(variant(knobs, q4n=True)).cells:
        if cell.cell_type == "markdown":
            render_markdown(cell.source)  # raises MathError on LaTeX the offline page cannot typeset


def _execute(knobs: dict | None, tmp_path) -> None:
    folder = tmp_path / _label(knobs or {"default": "default"})
    folder.mkdir()
    execute_master(variant(knobs, q4n=knobs is not None), folder)


@pytest.mark.slow
def test_every_illustration_runs_under_every_combination(tmp_path):
    """The build executes the master (solutions and '# IGNORE' illustrations, whose asserts check the written
    claims) in a kernel: do it for all 16 combinations, with 4(n) included, two kernels at a time."""
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda knobs: _execute(knobs, tmp_path), COMBOS))


@pytest.mark.slow
def test_a_variant_builds_and_its_student_notebook_shows_the_numeric_prompt(tmp_path):
    knobs = {"layout": "denominator", "loss_factor": 1.0, "relu_grad_at_zero": 1, "activation": "leaky"}
    assignment = variant(knobs, q4n=True)
    out = build(assignment, dist=tmp_path / "dist")
    student = nbformat.read(out.student_notebook, as_version=4)
    code = [c.source.strip() for c in student.cells if c.cell_type == "code"]
    assert "elbow_after_example = ..." in code
    assert not any(s.startswith("def case_answers(") for s in code)
    for func in {case["func"] for case in assignment.cases} - {"elbow_after_example"}:
        (stub,) = [s for s in code if s.startswith(f"def {func}(")]
        assert stub.endswith("..."), func
    text = "\n".join(c.source for c in student.cells)
    assert "w_new, b_new = w - lr * g * x, b - lr * g" not in text and "# SOLUTION" not in text
    assert "Denominator layout" in text and "lrelu" in text and "elbow_after_example" in text
