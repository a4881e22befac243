"""The reference passes every randomized check, public and hidden, on 500 seeds."""

from __future__ import annotations

import itertools
import json

import pytest
import solution
from conftest import hw0_cases, hw0_runtime

from reference.hw0.conventions import Conventions

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships


def test_reference_passes_every_check_on_500_seeds():
    ns = solution.namespace()
    failures = []
    for seed in range(500):
        for case in hw0_cases(seed):
            passed, message = runtime.run_case(solution.target(ns, case), case)
            if not passed:
                failures.append((seed, message))
    assert failures == []


@pytest.mark.parametrize("knobs", list(itertools.product(["numerator", "denominator"], [0.5, 1.0], [0, 1],
                                                         ["relu", "leaky"])), ids=str)
def test_reference_passes_under_every_knob_combination(knobs):
    layout, loss_factor, at_zero, activation = knobs
    conv = Conventions(layout=layout, loss_factor=loss_factor, relu_grad_at_zero=at_zero, activation=activation)
    ns = solution.namespace(conv)
    failures = []
    for seed in range(20):
        for case in hw0_cases(seed, conv):
            passed, message = runtime.run_case(solution.target(ns, case, conv), case)
            if not passed:
                failures.append((seed, message))
    assert failures == []


def test_hidden_cases_differ_from_public_ones(hw0):
    public = [c["calls"] for c in hw0.cases if not c["hidden"]]
    hidden = [c["calls"] for c in hw0.cases if c["hidden"]]
    assert all(h not in public for h in hidden if h != [[]])


def test_cases_are_reproducible(hw0):
    again = hw0_cases(hw0.seed, checks=hw0.checks)
    # JSON text, because nan != nan
    assert json.dumps([c["calls"] for c in again]) == json.dumps([c["calls"] for c in hw0.cases])
    assert json.dumps([c["expect"] for c in again]) == json.dumps([c["expect"] for c in hw0.cases])
