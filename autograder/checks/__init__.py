"""Check definitions, one module per problem, and the cases they generate.

``cases_for(assignment)`` is the single list of cases that public otter tests,
hidden otter tests and the batch grader all use.
"""

from __future__ import annotations

from autograder.checks import calculus, least_squares, relu_elbow, ridge
from autograder.checks.base import Check
from reference.conventions import DEFAULT, Conventions

CHECKS: dict[str, list[Check]] = {
    "hw0": calculus.CHECKS + least_squares.CHECKS + ridge.CHECKS + relu_elbow.CHECKS,
}


def cases_for(checks: list[Check], seed: int, conv: Conventions = DEFAULT, hidden_seed: int | None = None) -> list[dict]:
    """Every case (public first, then hidden) of every check, in a stable order."""
    return [case for check in checks if check.applies(conv) for case in check.cases(seed, conv, hidden_seed)]


def question_ids(checks: list[Check]) -> list[str]:
    return list(dict.fromkeys(c.qid for c in checks))
