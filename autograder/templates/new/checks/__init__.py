"""__NAME__'s checks: one module per problem.  The framework reads ``CHECKS`` (in question
order) and, if defined, ``conventions(knobs)`` (what the checks and the master see as ``conv``;
default: an object with one attribute per declared knob) and ``numbers(cases)`` (numbers the
master shows, per variant or student)."""

from __future__ import annotations

from . import example

CHECKS = example.CHECKS
