"""Variants: next semester's assignment, and one per student.

* ``new_variant`` writes ``assignments/<name>/<name>.yaml`` (a base, a seed, knob values,
  sub-parts) and ``self_check`` proves it before anyone relies on it: its build
  gives the solution full marks and the blank notebook none, and the catalogue of
  wrong answers is still caught; a wrong answer that the variant's conventions make
  right is *reported*, never silently dropped.
* Per-student variants: a student's numbers come from HMAC(secret, assignment/id).
  ``student_notebooks`` writes one notebook per student that records the id and a
  variant tag; ``SecretVariants.plan_for`` recomputes the student's variant at
  grading time and flags a notebook whose id and tag disagree (edited metadata) or
  that belongs to another student than the one who handed it in (copied).  Without
  the secret nothing can be recomputed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from autograder.assignment import NAME, PROJECT_ROOT, Assignment
from autograder.errors import UserError
from autograder.plan import GradingPlan

# ------------------------------------------------------------------ next semester

def new_variant(*, base: str, name: str, seed: int, knobs: dict | None = None, include: list[str] | None = None,
                root: Path | None = None) -> Path:
    """Write the YAML of a variant of ``base`` and return its path; ``knobs`` are the values to set
    (checked against the base's declaration when the variant is loaded)."""
    root = root or PROJECT_ROOT
    if not NAME.fullmatch(name):
        raise UserError(f"{name!r} cannot name an assignment: use letters, digits, '-' and '_', starting with a letter")
    if (root / "assignments" / name).exists():
        raise UserError(f"assignments/{name} exists already; choose another --name")
    settings: dict = {"base": base, "seed": int(seed)}
    if knobs:
        settings["set"] = knobs
    if include:
        settings["include"] = include
    folder = root / "assignments" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(f"# Variant of {base}, written by `autograder variant new`.\n"
                    + yaml.safe_dump(settings, sort_keys=False))
    return path


@dataclass
class SelfCheck:
    """The proof of an assignment (``autograder check``) or of a variant (``variant new``)."""

    name: str
    solution_score: float
    blank_score: float
    max_score: float
    strict: bool = True  # a base assignment: every catalogue entry must be caught
    caught: list[str] = field(default_factory=list)
    no_longer_wrong: list[str] = field(default_factory=list)  # not caught (right under a variant's conventions)
    not_applicable: list[str] = field(default_factory=list)  # their question is not in the variant
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # entry → other questions whose points it moved
    styles_failed: list[str] = field(default_factory=list)
    styles_checked: int = 0
    seeds_checked: int = 0
    seed_failures: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # questions with no catalogue entry

    @property
    def ok(self) -> bool:
        return (self.solution_score == self.max_score and self.blank_score == 0 and not self.elsewhere
                and not self.styles_failed and not self.seed_failures
                and not (self.strict and self.no_longer_wrong))

    def summary(self) -> str:
        lines = [f"{self.name}: solution {self.solution_score:g}/{self.max_score:g}, blank {self.blank_score:g}"
                 f" -> {'OK' if self.ok else 'FAILED'}",
                 f"  wrong-answer catalogue: {len(self.caught)} caught, each on its own question only"
                 if not self.elsewhere else f"  wrong-answer catalogue: {len(self.caught)} caught"]
        for entry, others in self.elsewhere.items():
            lines.append(f"  {entry} also moved the points of {', '.join(others)} (it must cost its own question only)")
        if self.no_longer_wrong:
            what = "NOT CAUGHT" if self.strict else "no longer wrong under this variant"
            lines.append(f"  {what} ({len(self.no_longer_wrong)}): " + ", ".join(self.no_longer_wrong))
        if self.not_applicable:
            lines.append(f"  not applicable (its sub-part is not in this variant) ({len(self.not_applicable)}): "
                         + ", ".join(self.not_applicable))
        if self.styles_checked:
            lines.append(f"  correct styles: {self.styles_checked - len(self.styles_failed)} of "
                         f"{self.styles_checked} earn full marks" + "".join(f"\n    FAILED {s}" for s in self.styles_failed))
        if self.seeds_checked:
            lines.append(f"  the solution on {self.seeds_checked} seeds: "
                         + ("every case passes" if not self.seed_failures else f"{len(self.seed_failures)} failures")
                         + "".join(f"\n    {f}" for f in self.seed_failures[:10]))
        lines.append("  coverage: " + ("every question has a catalogue entry" if not self.uncovered
                                       else "no catalogue entry for " + ", ".join(self.uncovered)))
        return "\n".join(lines)


def with_function(nb: nbformat.NotebookNode, code: str, *, replaces: str | None = None) -> nbformat.NotebookNode | None:
    """A copy of ``nb`` whose one cell defining ``replaces`` (default: the function in ``code``) holds
    ``code``; ``None`` when no single such cell exists."""
    func = replaces or re.match(r"def (\w+)\(", code).group(1)
    nb = nbformat.from_dict(nb)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(f"def {func}(")]
    if len(cells) != 1:
        return None
    cells[0].source = code
    return nb


def self_check(assignment: Assignment, *, dist: Path | None = None, seeds: int = 0) -> SelfCheck:
    """Prove an assignment or a variant: its build (which executes the master) gives the solution
    full marks and the blank notebook none; every catalogue entry costs points on its own question
    and on no other; every correct style earns full marks (under the base conventions); the
    solution passes every case on ``seeds`` more seeds.  A missing or empty catalogue is a
    ``UserError``, not a pass."""
    from autograder.batch import grade_paths
    from autograder.build import build

    out = build(assignment, dist=dist)
    plan = assignment.plan
    solution = nbformat.read(out.solution_notebook, as_version=4)
    report = SelfCheck(assignment.name, 0.0, 0.0, plan.max_score, strict=not assignment.base)
    wrong = [e for e in assignment.catalogue() if e["qid"] in plan.question_ids]
    report.not_applicable = [e["id"] for e in assignment.catalogue() if e["qid"] not in plan.question_ids]
    styles = [e for e in assignment.correct_styles() if e["qid"] in plan.question_ids] \
        if assignment.is_default else []
    with tempfile.TemporaryDirectory(prefix="dlmath-selfcheck-") as tmp:
        paths = [out.solution_notebook, out.student_notebook]
        for entry in [*wrong, *styles]:
            nb = with_function(solution, entry["code"])
            if nb is None and report.strict:
                raise UserError(f"{entry['id']}: its code defines no function of the notebook")
            if nb is None:  # the variant has no such function (its knobs removed that sub-part)
                report.not_applicable.append(entry["id"])
                continue
            paths.append(Path(tmp) / f"{len(paths):04d}.ipynb")
            nbformat.write(nb, paths[-1])
        wrong = [e for e in wrong if e["id"] not in report.not_applicable]
        styles = [e for e in styles if e["id"] not in report.not_applicable]
        results = grade_paths(paths, plan)
    good, blank = results[0], results[1]
    report.solution_score, report.blank_score = good.score, blank.score
    for entry, result in zip(wrong, results[2:]):
        lost = result.scores[entry["qid"]] < plan.points[entry["qid"]]
        (report.caught if lost else report.no_longer_wrong).append(entry["id"])
        others = [q for q in plan.question_ids if q != entry["qid"] and result.scores[q] != good.scores[q]]
        if others:
            report.elsewhere[entry["id"]] = others
    report.styles_checked = len(styles)
    report.styles_failed = [e["id"] for e, r in zip(styles, results[2 + len(wrong):]) if r.score != plan.max_score]
    report.uncovered = [q for q in plan.question_ids if not any(e["qid"] == q for e in wrong)]
    report.seeds_checked = seeds
    report.seed_failures = seed_sweep(assignment, solution, seeds)
    return report


def seed_sweep(assignment: Assignment, solution: nbformat.NotebookNode, seeds: int) -> list[str]:
    """The solution notebook's functions, run in this process (it is the instructor's own code),
    on every case of ``seeds`` other seeds; the failures.  Numeric answers stored in variables
    are for the assignment's own seed and are left out."""
    if not seeds:
        return []
    from autograder.checks import cases_for

    namespace = _run_solution(solution)
    rt = assignment.runtime
    failures = []
    for seed in range(seeds):
        for case in cases_for(assignment.checks, 10_000 + seed, assignment.conventions, rt=rt):
            if case.get("variable"):
                continue
            passed, message = rt.run_case(namespace.get(case["func"]), case)
            if not passed:
                failures.append(f"seed {10_000 + seed}: {message}")
    return failures


def _run_solution(solution: nbformat.NotebookNode) -> dict:
    import sys
    import types

    from autograder import runtime

    otter = types.ModuleType("otter")  # grader = otter.Notebook(...) and grader.check(...) do nothing here
    otter.Notebook = lambda *a, **k: types.SimpleNamespace(check=lambda *a, **k: None,
                                                           check_all=lambda *a, **k: None, export=lambda *a, **k: None)
    namespace: dict = {"__name__": "__main__"}
    saved = sys.modules.get("otter")
    sys.modules["otter"] = otter
    try:
        for cell in solution.cells:
            if cell.cell_type == "code":
                exec(compile(runtime.python_source(cell.source), "<solution>", "exec"), namespace)
    finally:
        if saved is not None:
            sys.modules["otter"] = saved
        else:
            sys.modules.pop("otter", None)
    return namespace


# ------------------------------------------------------------------ one per student

def variant_tag(secret: bytes, assignment: str, student_id: str) -> str:
    return hmac.new(secret, f"{assignment}/{student_id}".encode(), hashlib.sha256).hexdigest()


def student_assignment(base: Assignment, secret: bytes, student_id: str) -> Assignment:
    """The student's own variant: same checks, conventions and public cases; hidden cases and
    numbers from the HMAC."""
    tag = variant_tag(secret, base.name, student_id)
    return base.for_student(int(tag[:12], 16), student_id)


def personal_text(base: Assignment, mine: Assignment, common: list | None = None) -> dict[str, str]:
    """The Markdown cells that read differently for this student (their own numbers): the
    common text → the student's.  Both renderings come from the same master, cell by cell
    (``common``: the base's cells, when already rendered)."""
    from autograder.build import read_master

    common, own = common if common is not None else read_master(base).cells, read_master(mine).cells
    if len(common) != len(own):
        raise UserError(f"{base.name}: the master has a different number of cells for a student; "
                        "per-student numbers may change text, not the notebook's structure")
    return {a.source.strip(): b.source for a, b in zip(common, own)
            if a.cell_type == "markdown" and a.source != b.source}


def student_notebooks(base: Assignment, secret: bytes, student_ids: list[str], *, template: Path,
                      out: Path) -> list[Path]:
    """One notebook per student from the built student notebook: the student's numbers and id."""
    from autograder.build import read_master

    written, common = [], read_master(base).cells
    for sid in student_ids:
        nb = nbformat.read(template, as_version=4)
        mine = student_assignment(base, secret, sid)
        nb.metadata["dlmath"] = {"assignment": base.name, "student_id": sid,
                                 "variant": variant_tag(secret, base.name, sid)[:16]}
        own_text = personal_text(base, mine, common)
        for cell in nb.cells:  # otter may merge its own comments into a Markdown cell: replace the text within
            for common_text, student_text in own_text.items():
                if cell.cell_type == "markdown" and common_text in cell.source:
                    cell.source = cell.source.replace(common_text, student_text.strip())
        path = out / _safe(sid) / template.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        for support in template.parent.iterdir():  # dlmath_check.py and any other file the build ships
            if support.is_file() and support != template:
                shutil.copy(support, path.parent / support.name)
        written.append(path)
    return written


def _safe(student_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", student_id)


@dataclass
class SecretVariants:
    """Chooses, per submission, the plan of the student it belongs to, and flags mismatches."""

    base: Assignment
    secret: bytes
    owners: dict[str, str] = field(default_factory=dict)  # submission path → student id, from a roster
    _plans: dict[str, GradingPlan] = field(default_factory=dict)

    def _plan(self, student_id: str) -> GradingPlan:
        if student_id not in self._plans:
            self._plans[student_id] = student_assignment(self.base, self.secret, student_id).plan
        return self._plans[student_id]

    def plan_for(self, path: Path) -> tuple[GradingPlan, list[str]]:
        claimed_id, claimed_tag = _claims(path)
        owner = self.owners.get(str(path)) or claimed_id
        flags = []
        if claimed_id and claimed_tag != variant_tag(self.secret, self.base.name, claimed_id)[:16]:
            flags.append(f"the notebook's variant tag does not match its student id {claimed_id!r} (edited metadata?)")
        if claimed_id and owner and claimed_id != owner:
            flags.append(f"handed in by {owner!r} but made for {claimed_id!r} (copied from another student?)")
        if not owner:
            flags.append("no student id: graded against the common variant")
            return self.base.plan, flags
        return self._plan(owner), flags


def _claims(path: Path) -> tuple[str | None, str | None]:
    from autograder.grade import InvalidNotebook, read_notebook

    try:
        meta = read_notebook(path).get("metadata", {}).get("dlmath", {})
    except (InvalidNotebook, OSError, AttributeError):
        return None, None
    if not isinstance(meta, dict):
        return None, None
    sid, tag = meta.get("student_id"), meta.get("variant")
    return (str(sid) if sid else None), (str(tag) if tag else None)


def read_secret(path: Path) -> bytes:
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the course secret ({exc.strerror})") from exc
    if len(secret) < 16:
        raise UserError(f"{path}: a course secret needs at least 16 bytes")
    return secret

