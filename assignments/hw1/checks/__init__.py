"""hw1's checks, in question order: gradient descent (q1), momentum (q2), backpropagation (q3).

``conventions(knobs)`` turns the variant's knobs into the object handed to every ``expect``
as ``conv``: a namespace with ``reduction`` ("mean" or "sum", the batch loss of q3e).
"""

from __future__ import annotations

from types import SimpleNamespace

from . import backprop, gd, momentum

CHECKS = gd.CHECKS + momentum.CHECKS + backprop.CHECKS


def conventions(knobs: dict) -> SimpleNamespace:
    """``conv`` for the given knob values (missing knobs take their defaults)."""
    reduction = knobs.get("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    return SimpleNamespace(reduction=reduction)
