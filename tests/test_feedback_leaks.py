"""Hidden checks name the mistake, never the expected value.

Every wrong answer of the catalogue runs in process on every hidden case of hw0, and
the judge's message must not show any hidden expected value (the reference's answer,
a tuple item's, an alternative's, a figure's) in any rounding a student could read
off: repr, %g and %f at several precisions, NumPy's array printing, or any number in
the text within 0.1 % of it.  Forms with fewer than four significant digits are not
checked: "0.5" or "2" appear in ordinary text.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import solution
from conftest import hw0_runtime, load_catalogue

runtime = hw0_runtime()  # the generic runtime with hw0's judges, as it ships

CATALOGUE = load_catalogue()
MIN_DIGITS = 4
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def significant_digits(form: str) -> int:
    """Significant digits of a printed number; leading and trailing zeros do not count."""
    mantissa = re.split(r"[eE]", form.strip().lstrip("-+"))[0]
    return len(mantissa.replace(".", "").strip("0"))


def expected_values(expect: dict) -> list[float]:
    """The finite hidden numbers of an expectation with |v| > 1e-3: its value, its tuple
    items', its alternatives' and, for a figure, the stepped parameters and elbows."""
    found: list[float] = []

    def add(v: object) -> None:
        if isinstance(v, dict):
            add(v.get("data"))
        elif isinstance(v, (list, tuple)):
            for x in v:
                add(x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            found.append(float(v))

    for key in ("value", "after", "elbows"):
        add(expect.get(key))
    for alt in expect.get("alternatives", []):
        add(alt.get("value"))
    for item in expect.get("items", []):
        found += expected_values(item)
    return [v for v in found if math.isfinite(v) and abs(v) > 1e-3]


def printed_forms(v: float) -> set[str]:
    forms = {repr(v), np.array2string(np.array([v]))[1:-1].strip(), str(np.float64(v))}
    forms |= {f"{v:.{k}g}" for k in range(3, 9)} | {f"{v:.{k}f}" for k in range(2, 7)}
    return {f for f in forms if significant_digits(f) >= MIN_DIGITS}


def leaks(message: str, values: list[float]) -> list[str]:
    """The hidden values that ``message`` shows, each with the form found."""
    found = [f"{v!r} as {f!r}" for v in values for f in printed_forms(v) if f in message]
    tokens = [float(t) for t in NUMBER.findall(message) if significant_digits(t) >= MIN_DIGITS]
    found += [f"{v!r} as {t!r}" for v in values if significant_digits(repr(v)) >= MIN_DIGITS
              for t in tokens if abs(abs(t) - abs(v)) <= 1e-3 * abs(v)]
    return found


def test_the_detector_sees_every_rounding():
    v = -1.2345678912
    for shown in (repr(v), f"{v:.4g}", f"{v:.8g}", f"{v:.3f}", f"{v:.6f}", str(np.array([[v, 0.5]]))):
        assert leaks(f"the value is wrong ({shown}).", [v]), shown
    assert leaks("got 1.2346e+00", [v]) and leaks("about 1.234", [v]) and not leaks("about 1.23", [v])
    assert not leaks("expected shape (3, 1), got (1, 3): case 2 of 10, rtol 1e-06.", [v, 3.0001, 1.5])
    assert leaks("close to 0.002468", [0.0024681])


@pytest.fixture(scope="module")
def hidden_cases(hw0):
    cases = [c for c in hw0.plan.cases if c["hidden"]]
    return [(c, expected_values(c["expect"])) for c in cases]


def test_no_hidden_value_in_any_wrong_answers_feedback(hidden_cases):
    found, failures = [], 0
    for entry in CATALOGUE:
        ns = solution.namespace()
        exec(entry["code"], ns)
        for case, values in hidden_cases:
            target = solution.target(ns, case)
            outputs = [runtime.read_variable(target)] if case.get("variable") else runtime.call_all(target, case["calls"])
            passed, message = runtime.judge_case(case, outputs)
            failures += not passed
            found += [(entry["id"], case["id"], leak) for leak in leaks(message, values)]
    assert found == []
    assert failures >= len(CATALOGUE)  # the messages checked are real failures, not "passed."
