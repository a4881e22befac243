"""hw0's checks, one module per problem, and the two hooks the framework calls.

``conventions(knobs)`` turns the knob values declared in ``hw0.yaml`` into the
``Conventions`` the reference functions take; ``numbers(cases)`` gives the master the
numbers of the numeric sub-question 4(n) (a variant's or a student's own).
"""

from __future__ import annotations

from reference.hw0.conventions import Conventions

from . import calculus, least_squares, relu_elbow, ridge

CHECKS = calculus.CHECKS + least_squares.CHECKS + ridge.CHECKS + relu_elbow.CHECKS


def conventions(knobs: dict) -> Conventions:
    return Conventions(**knobs)


def numbers(cases: list[dict]) -> dict | None:
    case = next((c for c in cases if c["qid"] == "q4n" and c["hidden"]), None)  # the student's own numbers
    return relu_elbow.example_numbers(case) if case else None
