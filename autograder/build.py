"""Build an assignment: master text → otter master notebook → student notebook + autograder zip.

The master is MyST Markdown (``assignments/<name>/<name>.md``) in otter-assign
format.  Each ``# CHECKS <qid>`` code cell inside a ``# BEGIN TESTS`` block is
replaced by one exception-format otter test cell per case of that question, all
generated from the same check definitions the batch grader uses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import yaml

from autograder.assignment import PROJECT_ROOT, Assignment
from autograder.gradescope import add_two_phase_grader

RUNTIME_NAME = "dlmath_check"  # the runtime's module name next to the notebook
_PLACEHOLDER = "# CHECKS "


@dataclass
class BuildOutput:
    student_notebook: Path
    solution_notebook: Path
    autograder_zip: Path


def test_cell_source(case: dict) -> str:
    """One otter exception-format test cell that runs ``case`` through the runtime."""
    name = "test_" + "".join(ch if ch.isalnum() else "_" for ch in case["id"])
    data = json.dumps({k: case[k] for k in ("id", "qid", "func", "label", "calls", "expect")})
    return "\n".join([
        '""" # BEGIN TEST CONFIG',
        f"points: {case['points']!r}",
        f"hidden: {'true' if case['hidden'] else 'false'}",
        '""" # END TEST CONFIG',
        f"def {name}({case['func']}):",
        f"    from {RUNTIME_NAME} import run_case",
        f"    case = {data!r}",
        f"    passed, feedback = run_case({case['func']}, case)",
        "    assert passed, feedback",
    ])


def expand_checks(nb: nbformat.NotebookNode, assignment: Assignment) -> nbformat.NotebookNode:
    """Replace every ``# CHECKS <qid>`` placeholder cell by that question's test cells."""
    by_qid: dict[str, list[dict]] = {}
    for case in assignment.cases:
        by_qid.setdefault(case["qid"], []).append(case)
    cells, seen = [], set()
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "code" and source.startswith(_PLACEHOLDER):
            qid = source[len(_PLACEHOLDER):].strip()
            if qid not in by_qid:
                raise ValueError(f"{assignment.master.name}: no checks for {qid!r}")
            seen.add(qid)
            cells += [nbformat.v4.new_code_cell(test_cell_source(c)) for c in by_qid[qid]]
        else:
            cells.append(cell)
    missing = set(by_qid) - seen
    if missing:
        raise ValueError(f"{assignment.master.name}: no '# CHECKS' cell for {sorted(missing)}")
    nb.cells = cells
    return nb


def apply_otter_config(nb: nbformat.NotebookNode, config_path: Path) -> nbformat.NotebookNode:
    """Put the project's ``otter_config.json`` into the master's ``generate:`` settings."""
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# ASSIGNMENT CONFIG"):
            settings = yaml.safe_load(cell.source) or {}
            settings["generate"] = json.loads(config_path.read_text())
            cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(settings, sort_keys=False)
            return nb
    raise ValueError("the master has no '# ASSIGNMENT CONFIG' raw cell")


def master_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    nb = jupytext.read(assignment.master, fmt="md:myst")
    apply_otter_config(nb, PROJECT_ROOT / "otter_config.json")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    return expand_checks(nb, assignment)


def build(assignment: Assignment, *, dist: Path | None = None) -> BuildOutput:
    """Write ``dist/<name>/student/<name>.ipynb`` and the otter zip under ``dist/<name>/autograder/``."""
    dist = dist or PROJECT_ROOT / "dist"
    out = dist / assignment.name
    work = dist / f".{assignment.name}-master"
    for folder in (out, work):
        shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(Path(__file__).with_name("runtime.py"), work / f"{RUNTIME_NAME}.py")
    (work / "requirements.txt").write_text("numpy\nmatplotlib\n")
    master = work / f"{assignment.name}.ipynb"
    nbformat.write(master_notebook(assignment), master)
    proc = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs",
                           master.name, str(out.resolve())], cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"otter assign failed:\n{proc.stdout}\n{proc.stderr}")
    zips = sorted((out / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"expected one autograder zip, found {zips}")
    add_two_phase_grader(zips[0], assignment.plan)
    return BuildOutput(out / "student" / f"{assignment.name}.ipynb",
                       out / "autograder" / f"{assignment.name}.ipynb", zips[0])
