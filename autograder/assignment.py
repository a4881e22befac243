"""An assignment: its folder under ``assignments/``, its YAML settings and its checks.

``assignments/<name>/<name>.yaml`` holds the seed and the points.  A *variant*
names a ``base`` assignment whose master and checks it reuses, and may set its own
``seed``, ``points``, the sub-parts to ``include``, and ``knobs`` (the teaching
conventions of ``reference.conventions``)::

    base: hw0
    seed: 2027
    knobs: {layout: denominator, loss_factor: 1.0, relu_grad_at_zero: 0, activation: relu}
    include: [q1a, q1b, ..., q4n]     # optional; q4n is the numeric sub-question
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import yaml

from autograder.checks import CHECKS, cases_for, question_ids
from autograder.checks.base import Check
from autograder.errors import UserError
from autograder.plan import GradingPlan
from reference.conventions import DEFAULT, Conventions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Assignment:
    name: str
    folder: Path
    seed: int
    points: dict[str, float]
    written: dict[str, float] = field(default_factory=dict)
    base: str = ""  # the assignment whose master and checks this one uses ("" = itself)
    conventions: Conventions = DEFAULT
    include: list[str] | None = None  # question ids; None = every non-optional one
    root: Path = PROJECT_ROOT
    student_id: str | None = None  # set for a per-student variant
    hidden_seed: int | None = None  # a student's own seed for the hidden cases (public ones stay shared)

    @property
    def base_name(self) -> str:
        return self.base or self.name

    @property
    def master(self) -> Path:
        return self.root / "assignments" / self.base_name / f"{self.base_name}.md"

    @property
    def checks(self) -> list[Check]:
        return [c for c in CHECKS[self.base_name] if c.applies(self.conventions)
                and (c.qid in self.include if self.include is not None else not c.optional)]

    @cached_property
    def cases(self) -> list[dict]:
        """All cases, each with the points it is worth."""
        cases = cases_for(self.checks, self.seed, self.conventions, self.hidden_seed)
        count = {q: sum(c["qid"] == q for c in cases) for q in self.question_ids}
        for case in cases:
            case["points"] = self.points[case["qid"]] / count[case["qid"]]
        return cases

    @property
    def question_ids(self) -> list[str]:
        return question_ids(self.checks)

    @property
    def max_score(self) -> float:
        return float(sum(self.points[q] for q in self.question_ids))

    @cached_property
    def plan(self) -> GradingPlan:
        """What the grader needs, as plain data (expectations already computed)."""
        return GradingPlan(self.name, self.question_ids, {q: self.points[q] for q in self.question_ids}, self.cases)

    @property
    def numbers(self) -> dict | None:
        """The numbers of the numeric sub-question, when the variant has one."""
        from autograder.checks.relu_elbow import example_numbers

        case = next((c for c in self.cases if c["qid"] == "q4n"), None)
        return example_numbers(case) if case else None

    @property
    def catalogue_path(self) -> Path:
        """The wrong-answer catalogue (a variant uses its base's): data beside the master."""
        return self.root / "assignments" / self.base_name / "catalogue.yaml"

    @property
    def correct_styles_path(self) -> Path:
        return self.root / "assignments" / self.base_name / "correct_styles.yaml"

    def catalogue(self) -> list[dict]:
        """Every wrong answer (``id``, ``qid``, ``code``, …); a missing or empty catalogue is an error,
        never a pass with nothing checked."""
        return _entries(self.catalogue_path, "wrong-answer catalogue")

    def correct_styles(self) -> list[dict]:
        return _entries(self.correct_styles_path, "correct-style corpus")

    def for_student(self, hidden_seed: int, student_id: str) -> Assignment:
        """The same assignment with the student's own hidden cases and numbers."""
        return replace(self, hidden_seed=hidden_seed, student_id=student_id)


SETTINGS_KEYS = {"seed", "points", "written", "base", "knobs", "include"}


def _entries(path: Path, what: str) -> list[dict]:
    try:
        entries = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: the assignment's {what} is missing ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path}: the assignment's {what} is empty; it needs at least one entry")
    return entries


def _read(root: Path, name: str) -> dict:
    path = root / "assignments" / name / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(list_assignments(root=root)) or "none"
        raise UserError(f"unknown assignment {name!r} (no {path}); known: {known}")
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(settings, dict):
        raise UserError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(map(str, settings)) - SETTINGS_KEYS)
    if unknown:
        raise UserError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(SETTINGS_KEYS))})")
    return settings


def load_assignment(name: str, *, root: Path | None = None) -> Assignment:
    root = root or PROJECT_ROOT
    settings = _read(root, name)
    base = str(settings.get("base", ""))
    inherited = _read(root, base) if base else {}
    merged = {**inherited, **settings}
    where = root / "assignments" / name / f"{name}.yaml"
    for key in ("seed", "points"):
        if key not in merged:
            raise UserError(f"{where}: the setting {key!r} is missing")
    try:
        assignment = Assignment(
            name=name, folder=root / "assignments" / name, seed=int(merged["seed"]),
            points={str(k): float(v) for k, v in merged["points"].items()},
            written={str(k): float(v) for k, v in (merged.get("written") or {}).items()},
            base=base, conventions=Conventions(**(merged.get("knobs") or {})), include=merged.get("include"),
            root=root)
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{where}: {exc}") from exc
    if assignment.base_name not in CHECKS:
        raise UserError(f"{where}: no checks are defined for {assignment.base_name!r}")
    missing = set(assignment.question_ids) - set(assignment.points)
    if missing:
        raise UserError(f"{where}: no points for {sorted(missing)}")
    return assignment


def list_assignments(*, root: Path | None = None) -> list[str]:
    base = (root or PROJECT_ROOT) / "assignments"
    return sorted(p.name for p in base.iterdir() if (p / f"{p.name}.yaml").exists())
