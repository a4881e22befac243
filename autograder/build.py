"""Build an assignment: master text → otter master notebook → student notebook + autograder zip,
and the executed master → solutions page.

The master is MyST Markdown in otter-assign format, one file per problem
(``assignments/<name>/master/*.md``, joined in name order, then rendered by Jinja).
Each ``# CHECKS <qid>`` code cell inside a ``# BEGIN TESTS`` block is
replaced by one exception-format otter test cell per case of that question, all
generated from the same check definitions the batch grader uses.

The build also executes the master (every solution and every illustration cell,
whose asserts check the claims of the written solutions) and fails if any cell
raises; the executed notebook is rendered to ``dist/<name>/solutions/<name>-solutions.html``,
outside the student folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jupytext
import nbclient
import nbformat
import yaml

from autograder.assignment import PROJECT_ROOT, Assignment
from autograder.errors import UserError
from autograder.gradescope import add_two_phase_grader
from autograder.solutions import render_solutions

RUNTIME_NAME = "dlmath_check"  # the runtime's module name next to the notebook
EXPORT_NAME = "dlmath_export"  # adds the written answers' PDF to the student's export zip
_PLACEHOLDER = "# CHECKS "
CELL_TIMEOUT = 120  # seconds per master cell during the build's execution
# run first in the kernel that executes the master; not part of the master itself
_SETUP = ("%config InlineBackend.figure_formats = ['svg']\n"
          "%config InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', 'metadata': {'Date': None}}\n"
          "import matplotlib\n"
          "matplotlib.rcParams['svg.hashsalt'] = 'dlmath'")


@dataclass
class BuildOutput:
    student_notebook: Path
    solution_notebook: Path
    autograder_zip: Path
    solutions_html: Path | None = None  # dist/<name>/solutions/<name>-solutions.html: never for students


class MasterExecutionError(RuntimeError):
    """A cell of the master raised while the build executed it (a false claim, or a bug)."""


def test_cell_source(case: dict) -> str:
    """One otter exception-format test cell that runs ``case`` through the runtime.

    ``check_case`` raises on a failure with the teaching message, which ``grader.check`` then
    shows alone (not otter's ``Error at line …`` / ``assert passed, feedback`` around it)."""
    name = "test_" + "".join(ch if ch.isalnum() else "_" for ch in case["id"])
    keys = ("id", "qid", "func", "label", "calls", "expect", *(("variable",) if case.get("variable") else ()))
    data = json.dumps({k: case[k] for k in keys})  # "variable": a numeric answer is read, not called
    return "\n".join([
        '""" # BEGIN TEST CONFIG',
        f"points: {case['points']!r}",
        f"hidden: {'true' if case['hidden'] else 'false'}",
        '""" # END TEST CONFIG',
        f"def {name}({case['func']}):",
        f"    from {RUNTIME_NAME} import check_case",
        f"    check_case({case['func']}, {data!r})",
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
                raise UserError(f"{_where(assignment)}: a '# CHECKS {qid}' cell, but no checks for {qid!r}")
            seen.add(qid)
            cells += [nbformat.v4.new_code_cell(test_cell_source(c)) for c in by_qid[qid]]
        else:
            cells.append(cell)
    missing = set(by_qid) - seen
    if missing:
        raise UserError(f"{_where(assignment)}: no '# CHECKS' cell for {sorted(missing)}")
    nb.cells = cells
    return nb


def apply_otter_config(nb: nbformat.NotebookNode, config_path: Path, name: str) -> nbformat.NotebookNode:
    """Put the project's ``otter_config.json`` into the master's ``generate:`` settings, and the name."""
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# ASSIGNMENT CONFIG"):
            settings = yaml.safe_load(cell.source) or {}
            settings["generate"] = json.loads(config_path.read_text())
            settings["name"] = name
            files = list(settings.get("files") or [])
            settings["files"] = files + [f for f in (f"{RUNTIME_NAME}.py", f"{EXPORT_NAME}.py") if f not in files]
            cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(settings, sort_keys=False)
            return nb
    raise ValueError("the master has no '# ASSIGNMENT CONFIG' raw cell")


# The master is a Jinja template with delimiters that LaTeX and Python never use.
_JINJA = jinja2.Environment(block_start_string="<%", block_end_string="%>", variable_start_string="<<",
                            variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
                            undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _where(assignment: Assignment) -> str:
    return f"{assignment.folder.name}/master"


def render_master_text(assignment: Assignment) -> str:
    """The master's text for this assignment's conventions, numbers and student: its files joined
    in name order and rendered as one template (``conv``, ``knobs``, ``numbers``, ``name``, ``student_id``)."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in assignment.master_files)
    try:
        template = _JINJA.from_string(text)
        return template.render(conv=assignment.conventions, knobs=dict(assignment.knob_values),
                               numbers=assignment.numbers, name=assignment.name, student_id=assignment.student_id)
    except jinja2.TemplateError as exc:
        line = f" (line {exc.lineno} of the joined files)" if getattr(exc, "lineno", None) else ""
        raise UserError(f"{_where(assignment)}: the template does not render{line}: {exc}") from None


def _question_name(cell: nbformat.NotebookNode) -> str | None:
    if cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# BEGIN QUESTION"):
        return (yaml.safe_load(cell.source) or {}).get("name")
    return None


def _covered(name: str) -> set[str]:
    """Autograded ids a question stands for: ``p3gh_written`` → {p3g, p3h}; ``p1a`` → {p1a}."""
    stem = name.split("_")[0]
    number = stem.rstrip("abcdefghijklmnopqrstuvwxyz")
    return {number + letter for letter in stem[len(number):]} or {stem}


def drop_excluded_questions(nb: nbformat.NotebookNode, keep: set[str]) -> nbformat.NotebookNode:
    """Remove every question block (and its written part) whose sub-parts are all excluded."""
    cells, skipping, depth = [], False, 0
    for cell in nb.cells:
        name = _question_name(cell)
        if name is not None and not skipping and not (_covered(name) & keep):
            skipping, depth = True, 0
        if skipping:
            if cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# BEGIN QUESTION"):
                depth += 1
            elif cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# END QUESTION"):
                depth -= 1
                skipping = depth > 0
            continue
        cells.append(cell)
    nb.cells = cells
    return nb


def read_master(assignment: Assignment) -> nbformat.NotebookNode:
    try:
        nb = jupytext.reads(render_master_text(assignment), fmt="md:myst")
    except Exception as exc:  # jupytext's own errors (a broken front matter or cell header) carry no common type
        raise UserError(f"{_where(assignment)}: not a MyST notebook after rendering ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    keep = set(assignment.question_ids)
    if assignment.include is not None:
        nb = drop_excluded_questions(nb, keep)
    return nb


def manual_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """The written (``manual: true``) questions of a master and their points."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().upper().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source) or {}
            if config.get("manual"):
                found[str(config.get("name"))] = float(config.get("points", 0))
    return found


def check_written_points(nb: nbformat.NotebookNode, assignment: Assignment) -> None:
    """The YAML's ``written`` points and the master's manual questions must agree, or they drift apart."""
    if not assignment.written:
        return
    in_master = manual_points(nb)
    declared = {q: p for q, p in assignment.written.items() if q in in_master or assignment.include is None}
    if declared != in_master:
        diff = sorted(set(declared.items()) ^ set(in_master.items()))
        raise UserError(f"{assignment.folder.name}: the 'written' points of its YAML and the master's manual "
                        f"questions differ ({', '.join(f'{q}: {p:g}' for q, p in diff[:4])}); make them agree")


def master_notebook(assignment: Assignment) -> nbformat.NotebookNode:
    nb = read_master(assignment)
    check_written_points(nb, assignment)
    apply_otter_config(nb, PROJECT_ROOT / "otter_config.json", assignment.name)  # the project's defaults
    return expand_checks(nb, assignment)


def execute_master(assignment: Assignment, cwd: Path) -> nbformat.NotebookNode:
    """Run every code cell of the master in a fresh kernel; raise :class:`MasterExecutionError` on any error.

    The ``# CHECKS`` placeholders are comments, so this runs the solutions and the
    illustrations (whose asserts are the claims of the written solutions), not the tests.
    """
    nb = read_master(assignment)
    setup = nbformat.v4.new_code_cell(_SETUP)
    setup.metadata["tags"] = ["build-setup"]
    nb.cells.insert(0, setup)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        raise MasterExecutionError(f"{_where(assignment)}: a cell of the master failed during the build:\n"
                                   f"{_ANSI.sub('', str(exc))}") from None
    return nb


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours its tracebacks

BASE_REQUIREMENTS = ["numpy", "matplotlib"]  # what the runtime and the figures need everywhere


def requirements(assignment: Assignment) -> str:
    """The student environment's packages: the base ones, then the assignment's own
    ``requirements.txt`` (in its folder), each once."""
    own = assignment.folder / "requirements.txt"
    extra = own.read_text().splitlines() if own.exists() else []
    lines = [ln.strip() for ln in [*BASE_REQUIREMENTS, *extra] if ln.strip() and not ln.strip().startswith("#")]
    return "\n".join(dict.fromkeys(lines)) + "\n"


_EXPORT_PDF = f"""
# Your written answers as a PDF (made through Chromium), added to the zip for manual grading.
import {EXPORT_NAME}
{EXPORT_NAME}.add_written_pdf({{notebook!r}})"""


def add_pdf_export(student_notebook: Path) -> None:
    """Make the student notebook's export cell also add the written answers' PDF to the zip."""
    nb = nbformat.read(student_notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
    for cell in cells:
        cell.source = cell.source.rstrip() + "\n" + _EXPORT_PDF.format(notebook=student_notebook.name)
    if cells:
        nbformat.write(nb, student_notebook)


def build(assignment: Assignment, *, dist: Path | None = None) -> BuildOutput:
    """Write ``dist/<name>/student/<name>.ipynb`` and the otter zip under ``dist/<name>/autograder/``."""
    dist = dist or assignment.root / "dist"
    out = dist / assignment.name
    work = dist / f".{assignment.name}-master"
    for folder in (out, work):
        shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True)
    (work / f"{RUNTIME_NAME}.py").write_text(assignment.support, encoding="utf-8")
    shutil.copy(Path(__file__).with_name("export.py"), work / f"{EXPORT_NAME}.py")
    (work / "requirements.txt").write_text(requirements(assignment))
    master = work / f"{assignment.name}.ipynb"
    nbformat.write(master_notebook(assignment), master)
    # otter assign runs in its own process while this one executes the master
    log = work / "otter-assign.log"
    with open(log, "w") as log_file, tempfile.TemporaryDirectory(prefix="master-run-") as run_dir:
        proc = subprocess.Popen([sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs",
                                 master.name, str(out.resolve())], cwd=work, stdout=log_file,
                                stderr=subprocess.STDOUT, text=True)
        try:
            executed = execute_master(assignment, Path(run_dir))
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"otter assign failed:\n{log.read_text()}")
    zips = sorted((out / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"expected one autograder zip, found {zips}")
    add_two_phase_grader(zips[0], assignment.plan)
    add_pdf_export(out / "student" / f"{assignment.name}.ipynb")
    solutions = out / "solutions" / f"{assignment.name}-solutions.html"
    solutions.parent.mkdir(parents=True, exist_ok=True)
    solutions.write_text(render_solutions(executed, title=f"{assignment.name} — solutions"), encoding="utf-8")
    return BuildOutput(out / "student" / f"{assignment.name}.ipynb",
                       out / "autograder" / f"{assignment.name}.ipynb", zips[0], solutions)
