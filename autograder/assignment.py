"""An assignment: its folder under ``assignments/``, its YAML settings and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from autograder.checks import CHECKS, cases_for, question_ids
from autograder.checks.base import Check
from autograder.plan import GradingPlan

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Assignment:
    """``assignments/<name>/<name>.yaml`` (seed, points) plus the master ``<name>.md``."""

    name: str
    folder: Path
    seed: int
    points: dict[str, float]
    written: dict[str, float] = field(default_factory=dict)

    @property
    def master(self) -> Path:
        return self.folder / f"{self.name}.md"

    @property
    def checks(self) -> list[Check]:
        return CHECKS[self.name]

    @cached_property
    def cases(self) -> list[dict]:
        """All cases, each with the points it is worth."""
        cases = cases_for(self.checks, self.seed)
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


def load_assignment(name: str, *, root: Path | None = None) -> Assignment:
    folder = (root or PROJECT_ROOT) / "assignments" / name
    settings = yaml.safe_load((folder / f"{name}.yaml").read_text())
    assignment = Assignment(name=name, folder=folder, seed=int(settings["seed"]),
                            points={str(k): float(v) for k, v in settings["points"].items()},
                            written={str(k): float(v) for k, v in settings.get("written", {}).items()})
    missing = set(assignment.question_ids) - set(assignment.points)
    if missing:
        raise ValueError(f"{name}.yaml gives no points for {sorted(missing)}")
    return assignment


def list_assignments(*, root: Path | None = None) -> list[str]:
    base = (root or PROJECT_ROOT) / "assignments"
    return sorted(p.name for p in base.iterdir() if (p / f"{p.name}.yaml").exists())
