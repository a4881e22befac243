"""The generic machinery of checks: what a check is, the expectations it produces, and input
generators that expose mistakes.  An assignment's own checks live in its folder
(``assignments/<name>/checks/``) and build on these names.

``cases_for`` gives the single list of cases that public otter tests, hidden otter tests
and the batch grader all use.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from autograder import runtime
from autograder.checks.base import (  # noqa: F401  (the names an assignment's checks use)
    ATOL,
    RTOL,
    Check,
    alt,
    arr,
    column,
    expect_array,
    expect_numbers,
    expect_scalar,
    expect_tuple,
    full_rank,
    matrix_with_singular_values,
    nonsymmetric,
    orthogonal,
    singular_values,
    tall_shape,
    wide_shape,
)


def cases_for(checks: list[Check], seed: int, conv: Any = None, hidden_seed: int | None = None,
              rt: ModuleType = runtime) -> list[dict]:
    """Every case (public first, then hidden) of every check, in a stable order."""
    return [case for check in checks if check.applies(conv) for case in check.cases(seed, conv, hidden_seed, rt)]


def question_ids(checks: list[Check]) -> list[str]:
    return list(dict.fromkeys(c.qid for c in checks))
