"""The reference passes every randomized check, public and hidden, on 500 seeds."""

from __future__ import annotations

import json

import solution

from autograder import runtime
from autograder.checks import CHECKS, cases_for


def test_reference_passes_every_check_on_500_seeds():
    ns = solution.namespace()
    failures = []
    for seed in range(500):
        for case in cases_for(CHECKS["hw0"], seed):
            passed, message = runtime.run_case(ns[case["func"]], case)
            if not passed:
                failures.append((seed, message))
    assert failures == []


def test_hidden_cases_differ_from_public_ones(hw0):
    public = [c["calls"] for c in hw0.cases if not c["hidden"]]
    hidden = [c["calls"] for c in hw0.cases if c["hidden"]]
    assert all(h not in public for h in hidden if h != [[]])


def test_cases_are_reproducible(hw0):
    again = cases_for(CHECKS["hw0"], hw0.seed)
    # JSON text, because nan != nan
    assert json.dumps([c["calls"] for c in again]) == json.dumps([c["calls"] for c in hw0.cases])
    assert json.dumps([c["expect"] for c in again]) == json.dumps([c["expect"] for c in hw0.cases])
