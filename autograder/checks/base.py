"""What a check is, how its cases are drawn, and input generators that expose mistakes.

A :class:`Check` is the one definition of a test: how to draw the arguments of a
student function from a seed, and what to expect of the result (computed by the
reference package, with the known wrong answers to recognise).  Public otter
tests, hidden otter tests and the batch grader all come from ``Check.case``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from autograder import runtime

Conventions = Any  # an assignment's conventions object (its knobs), opaque to the core

Args = list  # one call's positional arguments: arrays, floats, {"function": spec}
Draw = Callable[[np.random.Generator, int], list[Args]]  # (rng, scenario) -> calls
Expect = Callable[..., dict]  # (*decoded args of the first call, calls=...) -> expectation

RTOL, ATOL = 1e-6, 1e-9


@dataclass(frozen=True)
class Check:
    """A family of cases for one student function of one question."""

    qid: str
    func: str
    params: tuple[str, ...]
    draw: Draw
    expect: Expect
    n_public: int = 2
    n_hidden: int = 4
    name: str = ""  # tells apart two checks of the same function
    applies: Callable[[Conventions], bool] = lambda conv: True  # False: the check makes no sense under conv
    variable: bool = False  # judge the notebook's variable ``func`` instead of calling a function
    optional: bool = False  # only in variants that ask for it (``include``)
    # A check whose answer differs per student (its numbers come from the hidden seed) can still have
    # public cases: they check the answer's form only (``public_expect``) and carry ``public_weight``
    # of the points (0: a check for the student alone).
    public_expect: Expect | None = None
    public_weight: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.qid}/{self.func}" + (f"/{self.name}" if self.name else "")

    def case(self, seed: int, index: int, *, hidden: bool, conv: Conventions = None,
             rt: ModuleType = runtime) -> dict:
        """The case ``index`` of the public or hidden stream, as plain data.

        ``rt`` is the assignment's runtime (the generic one plus its own judges and test
        functions): it decodes the arguments exactly as the student's side will.
        """
        rng = np.random.default_rng([seed, zlib.crc32(self.key.encode()), int(hidden), index])
        calls = self.draw(rng, index)
        encoded = [[_encode_arg(a) for a in call] for call in calls]
        decoded = [rt.decode_args(call) for call in encoded]
        expect_of = self.public_expect if (self.public_expect and not hidden) else self.expect
        expect = expect_of(*decoded[0], calls=decoded, conv=conv)
        kind = "hidden" if hidden else "public"
        return {
            "id": f"{self.key}/{kind}{index}",
            "qid": self.qid,
            "func": self.func,
            "hidden": hidden,
            "label": f"{self.func}({_describe_args(self.params, decoded[0])}) [{kind} case {index + 1}]",
            "calls": encoded,
            "variable": self.variable,
            "expect": expect,
            "weight": 1.0 if hidden else self.public_weight,
        }

    def cases(self, seed: int, conv: Conventions = None, hidden_seed: int | None = None,
              rt: ModuleType = runtime) -> list[dict]:
        """Public cases from ``seed``; hidden ones from ``hidden_seed`` (a student's own), default ``seed``."""
        hidden_seed = seed if hidden_seed is None else hidden_seed
        return [self.case(seed, i, hidden=False, conv=conv, rt=rt) for i in range(self.n_public)] + [
            self.case(hidden_seed, i, hidden=True, conv=conv, rt=rt) for i in range(self.n_hidden)
        ]


def _encode_arg(a: Any) -> Any:
    if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.integer):
        return runtime.encode_int_array(a)  # labels and indices stay integers
    if isinstance(a, np.ndarray):
        return runtime.encode_array(a)
    if isinstance(a, dict):
        return a  # a test-function spec
    if isinstance(a, (int, np.integer)):
        return int(a)  # sizes stay integers
    return float(a)


def _describe_args(params: tuple[str, ...], args: list) -> str:
    parts = []
    for name, a in zip(params, args):
        if isinstance(a, np.ndarray):
            parts.append(f"{name}: {a.shape}" if a.ndim else name)
        else:
            parts.append(name)
    return ", ".join(parts)


# --------------------------------------------------------------------------
# Expectations (plain data for ``runtime.judge_value``)
# --------------------------------------------------------------------------

def arr(value: Any) -> dict:
    return runtime.encode_array(np.asarray(value, dtype=float))


def alt(value: Any, message: str) -> dict:
    return {"value": arr(value), "message": message}


def expect_array(value: Any, *alternatives: dict, rtol: float = RTOL, atol: float = ATOL,
                 hint: str = "", layout_hint: str = "") -> dict:
    return {"kind": "array", "value": arr(value), "alternatives": list(alternatives),
            "rtol": rtol, "atol": atol, "hint": hint, "layout_hint": layout_hint}


def expect_scalar(value: float, *alternatives: dict, rtol: float = RTOL, atol: float = ATOL,
                  hint: str = "") -> dict:
    return {"kind": "scalar", "value": float(value), "alternatives": list(alternatives),
            "rtol": rtol, "atol": atol, "hint": hint}


def expect_numbers(value: Any, *alternatives: dict, rtol: float = RTOL, atol: float = ATOL,
                   hint: str = "") -> dict:
    flat = [float(v) for v in np.asarray(value, dtype=float).reshape(-1)]
    alts = [{"value": [float(v) for v in np.asarray(a["value"]["data"], dtype=float)],
             "message": a["message"]} for a in alternatives]
    return {"kind": "numbers", "value": flat, "alternatives": alts, "rtol": rtol, "atol": atol,
            "hint": hint}


def expect_tuple(names: list[str], items: list[dict]) -> dict:
    return {"kind": "tuple", "names": names, "items": items}


# --------------------------------------------------------------------------
# Input generators
# --------------------------------------------------------------------------

def singular_values(rng: np.random.Generator, k: int, low: float = 0.5, high: float = 4.0) -> np.ndarray:
    """k well-separated values in [low, high], none near 1 (so 1/σ ≠ σ ≠ σ²)."""
    while True:
        s = np.sort(rng.uniform(low, high, size=k))[::-1]
        if np.all(np.abs(s - 1.0) > 0.15) and (k < 2 or np.min(-np.diff(s)) > 0.1):
            return s


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def matrix_with_singular_values(rng: np.random.Generator, m: int, n: int, s: np.ndarray) -> np.ndarray:
    """``U Σ Vᵀ`` with random orthogonal U, V and the given singular values."""
    sigma = np.zeros((m, n))
    sigma[np.arange(len(s)), np.arange(len(s))] = s
    return orthogonal(rng, m) @ sigma @ orthogonal(rng, n).T


def full_rank(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    return matrix_with_singular_values(rng, m, n, singular_values(rng, min(m, n)))


def column(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, 1))


def tall_shape(rng: np.random.Generator) -> tuple[int, int]:
    n = int(rng.integers(3, 5))
    return n + int(rng.integers(2, 4)), n


def wide_shape(rng: np.random.Generator) -> tuple[int, int]:
    m, n = tall_shape(rng)
    return n, m


def nonsymmetric(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.normal(size=(n, n))
    return A + np.triu(rng.uniform(1.0, 2.0, size=(n, n)), 1)  # clearly A ≠ Aᵀ
