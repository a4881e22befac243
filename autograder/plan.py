"""A grading plan: everything the grader needs, as plain data.

The plan is the cases (inputs *and* expectations computed from ``reference/``),
the question ids and their points.  The TA's grader makes it from the
assignment; the Gradescope zip carries it as ``plan.json`` so that grading there
needs neither ``reference/`` nor the check definitions.  Plans are trusted data:
they never enter the untrusted process (only the calls do).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class GradingPlan:
    name: str
    question_ids: list[str]
    points: dict[str, float]
    cases: list[dict]  # each with id, qid, func, label, calls, expect, hidden, points
    support: str = ""  # the support file's text (runtime + the assignment's judges); "" = the bare runtime

    @property
    def max_score(self) -> float:
        return float(sum(self.points[q] for q in self.question_ids))

    @cached_property  # per submission in a batch (the journal): hash the plan once
    def fingerprint(self) -> str:
        """Changes whenever any case, expectation or point value changes."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def calls(self) -> list[dict]:
        """The calls the untrusted phase makes, ids ``<case id>#k``; no expectations."""
        return [{"id": f"{case['id']}#{k}", "func": case["func"], "args": args, "variable": case.get("variable", False)}
                for case in self.cases for k, args in enumerate(case["calls"])]

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "question_ids": self.question_ids,
                           "points": self.points, "cases": self.cases, "support": self.support}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GradingPlan:
        data = json.loads(text)
        return cls(data["name"], data["question_ids"], data["points"], data["cases"], data.get("support", ""))

    @cached_property
    def runtime(self) -> ModuleType:
        """The module that judges this plan's cases (and encodes outputs in the sandbox)."""
        if not self.support:
            from autograder import runtime

            return runtime
        from autograder.support import load_support

        return load_support(self.support)

    @classmethod
    def from_file(cls, path: Path) -> GradingPlan:
        return cls.from_json(Path(path).read_text())
