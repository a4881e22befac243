"""The reference as a student namespace: every hw0 function name → a correct implementation.

``reference/`` holds pure math; the plot, which is not math, is written here as a
student would.  ``namespace(conv)`` bakes a variant's conventions in, as a student
of that variant would.
"""

from __future__ import annotations

import functools
import inspect

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from reference.hw0 import calculus, least_squares, relu_elbow, ridge  # noqa: E402
from reference.hw0.conventions import DEFAULT, Conventions  # noqa: E402


def make_plot(conv: Conventions):
    def plot_elbow_step(w, b, x, y, lr):
        w_new, b_new = relu_elbow.sgd_step(w, b, x, y, lr, conv=conv)
        e_old, e_new = relu_elbow.elbow(w, b), relu_elbow.elbow(w_new, b_new)
        t = np.linspace(min(e_old, e_new, x) - 2, max(e_old, e_new, x) + 2, 200)
        fig, ax = plt.subplots()
        ax.plot(t, relu_elbow.relu(w * t + b, conv), label="before")
        ax.plot(t, relu_elbow.relu(w_new * t + b_new, conv), label="after")
        ax.plot([e_old, e_new], [0, 0], "o", label="elbows")
        ax.plot([x], [y], "kx", label="(x, y)")
        ax.legend()
        plt.close(fig)
        return fig

    return plot_elbow_step


def namespace(conv: Conventions = DEFAULT) -> dict:
    """A fresh dict of name → function, like a student's notebook globals."""
    ns: dict = {"np": np, "plt": plt}
    for module in (calculus, least_squares, ridge, relu_elbow):
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_"):
                takes_conv = "conv" in inspect.signature(value).parameters
                ns[name] = functools.partial(value, conv=conv) if takes_conv else value
    ns["plot_elbow_step"] = make_plot(conv)
    return ns


def target(ns: dict, case: dict, conv: Conventions = DEFAULT):
    """What a correct student's notebook holds for this case: its function, or its numeric answer."""
    if case.get("variable"):
        w, b, x, y, lr = case["calls"][0]
        return relu_elbow.elbow_after_step(w, b, x, y, lr, conv=conv)
    return ns[case["func"]]
